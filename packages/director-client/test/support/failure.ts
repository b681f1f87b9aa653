import { expect } from "vitest";
import { DirectorError } from "../../src/index.js";

/** The DirectorError a call fails with (the test fails when it succeeds or throws something else). */
export async function failure(promise: Promise<unknown>): Promise<DirectorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DirectorError);
  return error as DirectorError;
}
