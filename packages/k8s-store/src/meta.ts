/** The parts of Kubernetes ObjectMeta the store reads and writes (plain JSON, timestamps as RFC 3339 strings). */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  /** Server-side apply bookkeeping; kept as read, never interpreted. */
  managedFields?: unknown[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A reference to any object, e.g. the object an Event is about. */
export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  /** Empty or absent for cluster-scoped objects. */
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** Annotation on both credential Secrets naming the client certificate they belong to. */
export const FINGERPRINT_ANNOTATION = "compass.kyma-project.io/certificate-fingerprint";

/**
 * Annotation on the client certificate Secret: the Compass URLs the certificate is for, as JSON
 * `{"connectorUrl","directorUrl"}` (the certificate-secured Connector and the Director). Written with the certificate,
 * so an agent that finds the certificate but no CompassConnection (killed in between) can still use it.
 */
export const MANAGEMENT_INFO_ANNOTATION = "compass.kyma-project.io/management-info";

/**
 * Annotation on the client certificate Secret: the SHA-256 of the one-time token the certificate was paired with
 * (spent by that pairing; the digest reveals nothing of it). Kept through renewals. A later agent process that finds
 * the same TOKEN in its configuration knows it is spent; a different TOKEN is a new one the operator wrote.
 */
export const PAIRED_TOKEN_ANNOTATION = "compass.kyma-project.io/paired-token-sha256";

/** Label the agent puts on every Application (and app Secret) it manages. */
export const MANAGED_BY_LABEL = "applicationconnector.kyma-project.io/managed-by";
export const MANAGED_BY_VALUE = "compass-runtime-agent";
export const DEFAULT_MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** Field manager of every write the store makes. */
export const FIELD_MANAGER = "compass-runtime-agent";

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One instance per distinct string (see interner). */
export type Intern = (s: string) => string;
const asIs: Intern = (s) => s;

/**
 * An Intern for one listing: JSON.parse gives every value its own string, so the namespace, the owner, the label
 * values and the second of creation, the same in thousands of listed objects, would each be held thousands of times.
 */
export function interner(): Intern {
  const seen = new Map<string, string>();
  return (s) => {
    const known = seen.get(s);
    if (known !== undefined) return known;
    seen.set(s, s);
    return s;
  };
}

function stringMap(v: unknown, intern: Intern = asIs): Record<string, string> | undefined {
  if (!isRecord(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === "string") out[k] = intern(val);
  return out;
}

function timeString(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v instanceof Date) return v.toISOString().replace(/\.\d{3}Z$/, "Z");
  return undefined;
}

/**
 * Reads ObjectMeta from plain JSON or a client-node model (where timestamps are Dates). Unknown or mistyped
 * fields are dropped; a missing name becomes "".
 */
export function parseObjectMeta(v: unknown, intern: Intern = asIs): ObjectMeta {
  const m = isRecord(v) ? v : {};
  const out: ObjectMeta = { name: typeof m["name"] === "string" ? m["name"] : "" };
  if (typeof m["namespace"] === "string") out.namespace = intern(m["namespace"]);
  if (typeof m["uid"] === "string") out.uid = m["uid"];
  if (typeof m["resourceVersion"] === "string") out.resourceVersion = m["resourceVersion"];
  if (typeof m["generation"] === "number") out.generation = m["generation"];
  const created = timeString(m["creationTimestamp"]);
  if (created !== undefined) out.creationTimestamp = intern(created);
  const deleted = timeString(m["deletionTimestamp"]);
  if (deleted !== undefined) out.deletionTimestamp = deleted;
  const labels = stringMap(m["labels"], intern);
  if (labels !== undefined) out.labels = labels;
  const annotations = stringMap(m["annotations"]);
  if (annotations !== undefined) out.annotations = annotations;
  if (Array.isArray(m["ownerReferences"])) {
    out.ownerReferences = m["ownerReferences"].filter(isRecord).map((r) => {
      const ref: OwnerReference = {
        apiVersion: intern(String(r["apiVersion"] ?? "")),
        kind: intern(String(r["kind"] ?? "")),
        name: intern(String(r["name"] ?? "")),
        uid: intern(String(r["uid"] ?? "")),
      };
      if (typeof r["controller"] === "boolean") ref.controller = r["controller"];
      if (typeof r["blockOwnerDeletion"] === "boolean") ref.blockOwnerDeletion = r["blockOwnerDeletion"];
      return ref;
    });
  }
  if (Array.isArray(m["finalizers"])) out.finalizers = m["finalizers"].filter((f): f is string => typeof f === "string");
  if (Array.isArray(m["managedFields"])) out.managedFields = m["managedFields"];
  return out;
}

/**
 * The metadata of an item of a metadata-only list, without managedFields (nobody reads them, they are large); with
 * the listing's `intern`, the values its objects share are held once.
 */
export function listedObjectMeta(item: unknown, intern?: Intern): ObjectMeta {
  const { managedFields: _managedFields, ...meta } = parseObjectMeta(isRecord(item) ? item["metadata"] : undefined, intern);
  return meta;
}
