/** Exponential backoff with full jitter: attempt 1 → up to base, doubling, capped at max. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  // Half fixed, half random: never retry immediately, never all replicas at once.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
