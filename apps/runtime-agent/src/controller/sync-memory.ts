import { secretContentHashOf, toBase64 } from "@runtime-agent/app-sync";
import type { ActualSecret, ContentHash } from "@runtime-agent/app-sync";
import type { ListingReplay } from "@runtime-agent/director-client";
import type { K8sStore, SecretObject } from "@runtime-agent/k8s-store";

/**
 * What synchronization keeps between cycles (one per store, i.e. per agent process). Small: no object content.
 * - The content hashes of the Applications and Secrets read or written, by uid and resourceVersion: a
 *   resourceVersion changes with every change of an object, so a known one needs neither the object's content
 *   nor a new hash. Only objects present in the latest listing are kept.
 * - The last cycle that applied everything without a single failure: what it was computed from (the Director's
 *   answers, the runtime labels, the settings) and the uid/resourceVersion of every object it saw or wrote. When
 *   both are unchanged the cluster is exactly as that cycle left it (a hand edit, a deletion, a new foreign
 *   object all change the listing), so the same plan would write nothing: the cycle ends after the listing — or
 *   without one, when the watches since the last listing saw nothing end otherwise (ClusterChanges).
 */
export interface SyncMemory {
  appHashes: Map<string, ContentHash>;
  secretHashes: Map<string, SecretDigest>;
  clean: CleanCycle | undefined;
  /** Compass application id → the desired hash of that application when its warnings were last logged. */
  warned: Map<string, string>;
}

/** What is remembered of a Secret's content: its hash and the names of its data keys (not the values). */
export interface SecretDigest {
  hash: ContentHash;
  keys: string[];
}

export interface CleanCycle {
  key: string;
  /** What the cycle's Director listing asked and was answered (hashes): the next cycle replays it. */
  replay: ListingReplay | undefined;
  /** `A/<name>` and `S/<namespace>/<name>` → `<uid>/<resourceVersion>`, after the cycle's own writes. */
  objects: Map<string, string>;
  managed: number;
}

const memories = new WeakMap<K8sStore, SyncMemory>();

export function memoryOf(store: K8sStore): SyncMemory {
  let memory = memories.get(store);
  if (memory === undefined) {
    memory = { appHashes: new Map(), secretHashes: new Map(), clean: undefined, warned: new Map() };
    memories.set(store, memory);
  }
  return memory;
}

export const appKey = (name: string): string => `A/${name}`;
export const secretKey = (namespace: string, name: string): string => `S/${namespace}/${name}`;
export const version = (meta: { uid?: string | undefined; resourceVersion?: string | undefined }): string => `${meta.uid ?? ""}/${meta.resourceVersion ?? ""}`;

export function sameObjects(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

export function secretDigest(secret: SecretObject): SecretDigest {
  return { hash: secretContentHashOf(toActualSecret(secret)), keys: Object.keys(secret.data) };
}

/** The store decodes Secret data; the plan compares it base64-encoded, as the API returns it. */
export function toActualSecret(secret: SecretObject): ActualSecret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: secret.metadata,
    type: secret.type,
    data: Object.fromEntries(Object.entries(secret.data).map(([key, value]) => [key, toBase64(value)])),
  };
}
