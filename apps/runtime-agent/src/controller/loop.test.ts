import { expect, test } from "vitest";
import { ReconcileLoop } from "./loop.js";

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

test("triggers during a run collapse into one follow-up; requeueAfter schedules the next", async () => {
  let runs = 0;
  let release: () => void = () => undefined;
  const loop = new ReconcileLoop(async () => {
    runs++;
    if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
    return { requeueAfterMs: runs >= 2 ? 60_000 : 0 };
  }, () => 1000);
  loop.start();
  await tick();
  expect(runs).toBe(1);
  loop.trigger();
  loop.trigger();
  loop.trigger();
  release();
  await tick(20);
  expect(runs).toBe(2);
  loop.trigger();
  await tick(20);
  expect(runs).toBe(3);
  await loop.stop(1_000);
});

test("a crashing reconcile is retried after the delay onCrash returns", async () => {
  let runs = 0;
  const errors: unknown[] = [];
  const loop = new ReconcileLoop(async () => {
    runs++;
    if (runs === 1) throw new Error("boom");
    return { requeueAfterMs: 60_000 };
  }, (error) => {
    errors.push(error);
    return 10;
  });
  loop.start();
  await tick(50);
  expect(runs).toBe(2);
  expect(errors).toHaveLength(1);
  await loop.stop(1_000);
});

test("stop aborts the run under way at once and waits for it to end", async () => {
  let aborted = false;
  const loop = new ReconcileLoop(
    (signal) =>
      new Promise((resolve) => {
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve({ requeueAfterMs: 0 });
        });
      }),
    () => 0,
  );
  loop.start();
  await tick();
  // A grace far beyond the test's timeout: stop() must not wait for it when the run ends on the abort.
  await loop.stop(600_000);
  expect(aborted).toBe(true);
  expect(loop.running).toBe(false);
});

test("stop waits at most the grace period for a run that ignores the abort; the run's end is still handled", async () => {
  let finish: () => void = () => undefined;
  const crashes: unknown[] = [];
  const loop = new ReconcileLoop(
    () => new Promise<never>((_resolve, reject) => (finish = () => reject(new Error("ended after stop")))),
    (error) => {
      crashes.push(error);
      return 0;
    },
  );
  loop.start();
  await tick();
  await loop.stop(10);
  expect(loop.running).toBe(true);
  finish();
  await tick();
  expect(loop.running).toBe(false);
  expect(crashes).toHaveLength(1);
});
