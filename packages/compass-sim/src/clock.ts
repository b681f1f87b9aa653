/**
 * The simulator's clock: real time plus an offset that tests (and the admin API) move forward.
 * Token expiry, certificate validity and status timestamps all read this clock, never `Date.now()` directly.
 */
export interface Clock {
  now(): Date;
}

export class SimClock implements Clock {
  #offsetMs = 0;

  /** @param realNow the underlying time source in epoch milliseconds (injectable for tests). */
  constructor(private readonly realNow: () => number = Date.now) {}

  now(): Date {
    return new Date(this.realNow() + this.#offsetMs);
  }

  /** The real (unshifted) time, e.g. for certificates that a real-clock TLS stack must accept. */
  realTime(): Date {
    return new Date(this.realNow());
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Moves the clock forward; returns the new "now". */
  advance(seconds: number): Date {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new RangeError(`advance needs a finite, non-negative number of seconds, got ${seconds}`);
    }
    this.#offsetMs += seconds * 1000;
    return this.now();
  }
}
