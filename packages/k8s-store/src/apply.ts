import { K8sStoreError } from "./errors.js";
import { APPLIED_HASH_ANNOTATION, isRecord } from "./meta.js";
import { contains, sha256Hex } from "./util.js";

/** Outcome of applying one object. */
export type ApplyOutcome =
  /** The object did not exist and was created. */
  | "created"
  /** The object existed and a write was sent (the server may still have found nothing to change). */
  | "applied"
  /** The live object already matched: no request was sent. */
  | "unchanged";

export type ApplyResult<T> =
  | { ok: true; name: string; namespace?: string; outcome: ApplyOutcome; object: T | undefined }
  | { ok: false; name: string; namespace?: string; error: K8sStoreError };

export interface ApplyAllOptions<L> {
  /** Requests in flight at once, default 16. */
  concurrency?: number;
  /**
   * The live objects the agent manages, to skip unchanged ones and to tell new objects from foreign ones:
   * - `"list"` (default): list them first (one paged list request);
   * - a Map keyed by name (Secrets: `namespace/name`) or an array, e.g. an informer's cache;
   * - `"none"`: apply everything blindly with server-side apply (takes over foreign objects of the same name).
   */
  live?: "list" | "none" | ReadonlyMap<string, L> | readonly L[];
}

/**
 * Sets the applied-hash annotation on an apply body (a copy): a hash of everything else in it, as JSON in the
 * order given (fast; callers build bodies deterministically — a mere change of key order costs one extra apply).
 */
export function withAppliedHash<T extends { metadata: object }>(body: T): T & { metadata: T["metadata"] & { annotations: Record<string, string> } } {
  const meta = body.metadata as { annotations?: Record<string, string> };
  const annotations = { ...(meta.annotations ?? {}) };
  delete annotations[APPLIED_HASH_ANNOTATION];
  const withoutHash = { ...body, metadata: { ...body.metadata, annotations } };
  const hash = sha256Hex(JSON.stringify(withoutHash)).slice(0, 32);
  return { ...body, metadata: { ...body.metadata, annotations: { ...annotations, [APPLIED_HASH_ANNOTATION]: hash } } };
}

/**
 * True when `live` already is what applying `body` (built by withAppliedHash) would produce: the applied-hash
 * annotation matches (so nothing was added or removed since the last apply) and every field of the body has the
 * same value in the live object (so nobody changed our fields since). Server defaults and other managers'
 * fields are ignored.
 */
export function isUpToDate(live: unknown, body: { metadata: object }): boolean {
  if (!isRecord(live) || !isRecord(live["metadata"])) return false;
  const liveAnnotations = live["metadata"]["annotations"];
  const want = (body.metadata as { annotations?: Record<string, string> }).annotations?.[APPLIED_HASH_ANNOTATION];
  if (want === undefined || !isRecord(liveAnnotations) || liveAnnotations[APPLIED_HASH_ANNOTATION] !== want) return false;
  return contains(live, body);
}

/** Builds a name→object map from an array or map of live objects. */
export function liveMap<L extends { metadata: { name: string; namespace?: string } }>(live: ReadonlyMap<string, L> | readonly L[], namespaced: boolean): ReadonlyMap<string, L> {
  if (!Array.isArray(live)) return live as ReadonlyMap<string, L>;
  const m = new Map<string, L>();
  for (const o of live as readonly L[]) m.set(namespaced ? `${o.metadata.namespace ?? ""}/${o.metadata.name}` : o.metadata.name, o);
  return m;
}
