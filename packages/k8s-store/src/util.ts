export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

export interface BackoffOptions {
  /** First delay, default 1 s. */
  initialMs?: number;
  /** Upper bound, default 30 s. */
  maxMs?: number;
  /** Growth per failure, default 2. */
  factor?: number;
}

/**
 * Delay before attempt `failures + 1`: exponential growth capped at maxMs, with "equal jitter" (a uniformly
 * random value in [d/2, d]) so that many clients do not retry in lockstep.
 */
export function backoffDelay(failures: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 1_000;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const d = Math.min(max, initial * factor ** Math.max(0, failures - 1));
  return Math.round(d / 2 + random() * (d / 2));
}

/** Stable JSON: object keys sorted, undefined members dropped (as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === "function" ? "null" : canonicalJson(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined || typeof v === "function") continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(",")}}`;
}

/** Deep copy of plain JSON data. */
export function cloneJson<T>(value: T): T {
  return structuredClone(value);
}
