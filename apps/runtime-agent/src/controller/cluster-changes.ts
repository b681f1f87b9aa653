import type { K8sStore, K8sStoreError, MetadataWatch } from "@runtime-agent/k8s-store";
import { appKey, secretKey, version } from "./sync-memory.js";

/**
 * Whether what a synchronization lists (every Application, the agents' app Secrets) is still as the last clean cycle
 * left it, known without listing again and without a cache. After each listing, two metadata-only watches from the
 * listing's resourceVersions; the latest event of each object is compared with what the clean cycle expects of it
 * (its uid/resourceVersion after the cycle's own writes, or absent). Held: the keys that disagree, and until the
 * cycle states its expectations, the latest version per key seen since the listing — nothing per unchanged object.
 * When a watch ends (the API server closes watches after a while; an error; no permission to watch) it is unknown
 * again: the next cycle lists, and follows from that listing.
 */
export class ClusterChanges {
  readonly #store: K8sStore;
  readonly #namespace: string;
  readonly #onError: (error: K8sStoreError) => void;
  /** The two watches while following; none once one ended or stop() was called. */
  #watches: MetadataWatch[] = [];
  /** Counts follow() calls: a watch of an earlier one that ends later changes nothing. */
  #generation = 0;
  /** Until expect(): key → the latest version seen since the listing (undefined: gone). */
  #pending: Map<string, string | undefined> | undefined;
  #expected: ReadonlyMap<string, string> | undefined;
  /** The keys whose latest event disagrees with #expected. */
  readonly #differing = new Set<string>();

  constructor(store: K8sStore, integrationNamespace: string, onError: (error: K8sStoreError) => void) {
    this.#store = store;
    this.#namespace = integrationNamespace;
    this.#onError = onError;
  }

  /** After a listing (listObjects): follows every change since it, with no expectations yet. */
  follow(resourceVersions: { applications: string; secrets: string }): void {
    this.stop();
    const generation = ++this.#generation;
    this.#pending = new Map();
    this.#expected = undefined;
    this.#differing.clear();
    const onEnd = (error: K8sStoreError | undefined) => {
      if (generation !== this.#generation) return;
      this.stop();
      if (error !== undefined) this.#onError(error);
    };
    const applications = this.#store.applications;
    this.#watches = [
      // All Applications, as the listing (a foreign one with a wanted name counts).
      applications.watchMetadata(
        resourceVersions.applications,
        { onEvent: (type, meta) => this.#seen(appKey(meta.name), type === "DELETED" ? undefined : version(meta)), onEnd },
        { labelSelector: "" },
      ),
      // The Secrets the listing selects; those that are not the agents' (or no longer are) count as absent.
      applications.watchSecretMetadata(this.#namespace, resourceVersions.secrets, {
        onEvent: (type, meta) =>
          this.#seen(secretKey(meta.namespace ?? this.#namespace, meta.name), type !== "DELETED" && applications.isManagedSecret({ metadata: meta }) ? version(meta) : undefined),
        onEnd,
      }),
    ];
  }

  /** What the cycle that listed leaves: `A/<name>` and `S/<namespace>/<name>` → `<uid>/<resourceVersion>`. */
  expect(objects: ReadonlyMap<string, string>): void {
    if (this.#watches.length === 0) return;
    this.#expected = objects;
    for (const [key, seen] of this.#pending ?? []) this.#compare(key, seen);
    this.#pending = undefined;
  }

  /** True when every change since the listing ended as expected, and the watches still run. */
  unchanged(): boolean {
    return this.#watches.length > 0 && this.#expected !== undefined && this.#differing.size === 0;
  }

  stop(): void {
    for (const watch of this.#watches) watch.stop();
    this.#watches = [];
  }

  #seen(key: string, seen: string | undefined): void {
    if (this.#pending !== undefined) this.#pending.set(key, seen);
    else this.#compare(key, seen);
  }

  #compare(key: string, seen: string | undefined): void {
    if (this.#expected?.get(key) === seen) this.#differing.delete(key);
    else this.#differing.add(key);
  }
}
