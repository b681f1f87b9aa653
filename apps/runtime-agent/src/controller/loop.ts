/**
 * A level-triggered loop for one key, like a controller-runtime work queue with MaxConcurrentReconciles = 1:
 * triggers while a reconcile runs collapse into one follow-up run, and each run says when it wants the next.
 */
export interface ReconcileOutcome {
  /** Run again after this many milliseconds unless something triggers earlier. */
  requeueAfterMs: number;
}

export type Reconcile = (signal: AbortSignal) => Promise<ReconcileOutcome>;

export class ReconcileLoop {
  readonly #reconcile: Reconcile;
  readonly #onCrash: (error: unknown) => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #pending = false;
  #stopped = true;
  #abort = new AbortController();

  /**
   * @param onCrash called when a reconcile throws instead of returning; returns the delay before the next try.
   */
  constructor(reconcile: Reconcile, onCrash: (error: unknown) => number) {
    this.#reconcile = reconcile;
    this.#onCrash = onCrash;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#abort = new AbortController();
    this.trigger();
  }

  /** Ask for a reconcile as soon as possible. */
  trigger(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#pending = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#runOnce();
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Stops scheduling and aborts the reconcile under way at once (its signal), then waits for it to end, at most
   * `graceMs`. The caller fences the store's writes first, so the rest of that cycle could not persist anything:
   * it is cut short rather than given time. A cycle that does not end within `graceMs` (a call that ignores the
   * signal) is left to end on its own; its outcome is dropped, and a failure goes to `onCrash` as ever.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const running = this.#running;
    if (!running) return;
    this.#abort.abort(new Error("shutting down"));
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)));
    try {
      await Promise.race([running, grace]);
    } finally {
      clearTimeout(graceTimer);
    }
  }

  async #runOnce(): Promise<void> {
    let delay: number;
    try {
      delay = (await this.#reconcile(this.#abort.signal)).requeueAfterMs;
    } catch (error) {
      delay = this.#onCrash(error);
    }
    this.#running = undefined;
    if (this.#stopped) return;
    if (this.#pending) {
      this.#pending = false;
      this.trigger();
      return;
    }
    this.#timer = setTimeout(() => this.trigger(), Math.max(0, delay));
  }
}
