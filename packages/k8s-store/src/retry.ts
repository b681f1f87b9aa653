import { isK8sStoreError, K8sStoreError } from "./errors.js";
import { sleep } from "./util.js";

export interface ConflictRetryOptions {
  /** Attempts in total (first try included), default 5. */
  attempts?: number;
  /** Base of the jittered backoff between attempts, default 20 ms (delays ≈ 20, 40, 80, 160 ms ± jitter). */
  baseDelayMs?: number;
}

/**
 * Runs `attempt` again when it fails with K8S_CONFLICT (another writer changed the object between our read and
 * write), up to `attempts` times with a small jittered backoff. Each attempt must re-read the object.
 */
export async function retryOnConflict<T>(attempt: (n: number) => Promise<T>, options: ConflictRetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const base = options.baseDelayMs ?? 20;
  let last: unknown;
  for (let n = 1; n <= attempts; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!isK8sStoreError(err, "K8S_CONFLICT")) throw err;
      last = err;
      if (n < attempts) await sleep(base * 2 ** (n - 1) * (0.5 + Math.random()));
    }
  }
  const e = last as K8sStoreError;
  throw new K8sStoreError("K8S_CONFLICT", `${e.message} — still conflicting after ${attempts} attempts`, {
    cause: e,
    ...(e.statusCode !== undefined ? { statusCode: e.statusCode } : {}),
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
  });
}
