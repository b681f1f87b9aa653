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
  await loop.stop();
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
  await loop.stop();
});

test("stop aborts a run that does not finish within the grace period", async () => {
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
  await loop.stop(20);
  expect(aborted).toBe(true);
  expect(loop.running).toBe(false);
});
