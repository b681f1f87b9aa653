import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { ReconcileLoop } from "./loop.js";

// Fake timers: time moves only when a test advances it, so what runs when is exact and independent of the machine.
beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

/** Lets every settled promise run its continuations, without moving the fake clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

test("triggers during a run collapse into one follow-up; requeueAfter schedules the next", async () => {
  let runs = 0;
  let release: () => void = () => undefined;
  const loop = new ReconcileLoop(async () => {
    runs++;
    if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
    return { requeueAfterMs: runs >= 2 ? 60_000 : 0 };
  }, () => 1000);
  loop.start();
  await settle();
  expect(runs).toBe(1);
  loop.trigger();
  loop.trigger();
  loop.trigger();
  release();
  await settle();
  // One follow-up for the three triggers, at once (no time has passed).
  expect(runs).toBe(2);
  // Nothing more until the requeue it asked for (60 s) is due.
  await vi.advanceTimersByTimeAsync(59_999);
  expect(runs).toBe(2);
  await vi.advanceTimersByTimeAsync(1);
  expect(runs).toBe(3);
  // A trigger between runs starts one at once, without waiting for the timer.
  loop.trigger();
  await settle();
  expect(runs).toBe(4);
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
  await settle();
  expect(runs).toBe(1);
  expect(errors).toHaveLength(1);
  await vi.advanceTimersByTimeAsync(9);
  expect(runs).toBe(1);
  await vi.advanceTimersByTimeAsync(1);
  expect(runs).toBe(2);
  await vi.advanceTimersByTimeAsync(59_999);
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
  await settle();
  // A grace far beyond the test's timeout, and the fake clock never moves: stop() must end on the abort alone.
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
  await settle();
  let stopped = false;
  const stopping = loop.stop(10).then(() => (stopped = true));
  await vi.advanceTimersByTimeAsync(9);
  expect(stopped).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  await stopping;
  expect(stopped).toBe(true);
  expect(loop.running).toBe(true);
  finish();
  await settle();
  expect(loop.running).toBe(false);
  expect(crashes).toHaveLength(1);
  // Stopped: the end of the run schedules nothing.
  await vi.advanceTimersByTimeAsync(60_000);
  expect(crashes).toHaveLength(1);
});
