/** Kubernetes API verbs the store counts, one per HTTP request it sends. */
export type K8sVerb = "get" | "list" | "create" | "update" | "patch" | "delete" | "watch";

export const K8S_VERBS: readonly K8sVerb[] = ["get", "list", "create", "update", "patch", "delete", "watch"];

/** Verbs that change state on the server. */
export const WRITE_VERBS: readonly K8sVerb[] = ["create", "update", "patch", "delete"];

export type RequestCounts = Record<K8sVerb, number>;

/** One finished request, as reported to listeners (for metrics). */
export interface RequestRecord {
  verb: K8sVerb;
  /** Resource plural, e.g. `secrets`, `applications`, `leases`. */
  resource: string;
  /** Undefined on success, else the K8sStoreError code. */
  errorCode: string | undefined;
  durationMs: number;
}

export type RequestListener = (record: RequestRecord) => void;

/**
 * Counts API requests by verb (and failures by error code). The store increments it for every request it
 * sends, including watch requests and the pages of a list; benchmarks and metrics read it.
 */
export class RequestCounter {
  private counts: RequestCounts = zero();
  private errorCounts = new Map<string, number>();
  private readonly listeners = new Set<RequestListener>();

  record(record: RequestRecord): void {
    this.counts[record.verb]++;
    if (record.errorCode !== undefined) this.errorCounts.set(record.errorCode, (this.errorCounts.get(record.errorCode) ?? 0) + 1);
    for (const l of this.listeners) {
      try {
        l(record);
      } catch {
        // a metrics listener must never break a request
      }
    }
  }

  /** A copy of the counts so far. */
  snapshot(): RequestCounts {
    return { ...this.counts };
  }

  /** Failed requests by K8sStoreError code. */
  errors(): Record<string, number> {
    return Object.fromEntries(this.errorCounts);
  }

  /** All requests so far. */
  total(): number {
    return K8S_VERBS.reduce((sum, v) => sum + this.counts[v], 0);
  }

  /** create + update + patch + delete so far. */
  writes(): number {
    return WRITE_VERBS.reduce((sum, v) => sum + this.counts[v], 0);
  }

  reset(): void {
    this.counts = zero();
    this.errorCounts.clear();
  }

  /** Calls `listener` after every request; returns an unsubscribe function. */
  subscribe(listener: RequestListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function zero(): RequestCounts {
  return { get: 0, list: 0, create: 0, update: 0, patch: 0, delete: 0, watch: 0 };
}

/** Difference `after - before`, per verb. */
export function diffCounts(after: RequestCounts, before: RequestCounts): RequestCounts {
  const out = zero();
  for (const v of K8S_VERBS) out[v] = after[v] - before[v];
  return out;
}
