import type { K8sClient } from "./client.js";
import { K8sStoreError } from "./errors.js";
import { Informer, type InformerOptions } from "./informer.js";
import { FIELD_MANAGER, isRecord, parseObjectMeta, type ObjectMeta } from "./meta.js";
import { retryOnConflict, type ConflictRetryOptions } from "./retry.js";
import { canonicalJson, cloneJson } from "./util.js";

export const COMPASS_GROUP = "compass.kyma-project.io";
export const COMPASS_VERSION = "v1alpha1";
export const COMPASS_PLURAL = "compassconnections";
export const COMPASS_KIND = "CompassConnection";
export const COMPASS_API_VERSION = `${COMPASS_GROUP}/${COMPASS_VERSION}`;
/** The name the agent always uses. */
export const DEFAULT_COMPASS_CONNECTION_NAME = "compass-connection";

/** The connection states of the Go agent (the CRD itself does not restrict the string). */
export const CONNECTION_STATES = [
  "Connected",
  "ConnectionFailed",
  "ConnectionMaintenanceFailed",
  "SynchronizationFailed",
  "ResourceApplicationFailed",
  "MetadataUpdateFailed",
  "Synchronized",
] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

/** RFC 3339 timestamp (seconds precision, as Go's metav1.Time writes it) or null. */
export type Timestamp = string | null;

export interface ManagementInfo {
  connectorUrl: string;
  directorUrl: string;
}

export interface CompassConnectionSpec {
  managementInfo: ManagementInfo;
  resyncNow?: boolean;
  refreshCredentialsNow?: boolean;
}

export interface CertificateStatus {
  acquired: Timestamp;
  notBefore: Timestamp;
  notAfter: Timestamp;
}

export interface ConnectionStatus {
  established: Timestamp;
  /** null until the first renewal; written as null like Kyma's agent does (a zero metav1.Time). */
  renewed: Timestamp;
  lastSync: Timestamp;
  lastSuccess: Timestamp;
  certificateStatus: CertificateStatus;
  error?: string;
}

export interface SynchronizationStatus {
  lastAttempt: Timestamp;
  lastSuccessfulFetch: Timestamp;
  lastSuccessfulApplication: Timestamp;
  error?: string;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  lastTransitionTime: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface CompassConnectionStatus {
  /** One of CONNECTION_STATES for objects the agent wrote; any string is accepted when reading. */
  connectionState: ConnectionState | (string & {});
  /** The Go agent may write null here. */
  connectionStatus: ConnectionStatus | null;
  synchronizationStatus?: SynchronizationStatus | null;
  conditions?: Condition[];
}

export interface CompassConnection {
  apiVersion: typeof COMPASS_API_VERSION;
  kind: typeof COMPASS_KIND;
  metadata: ObjectMeta;
  spec: CompassConnectionSpec;
  status?: CompassConnectionStatus;
}

/** What `create` takes: metadata needs only a name (default `compass-connection`). */
export interface NewCompassConnection {
  metadata?: Partial<ObjectMeta>;
  spec: CompassConnectionSpec;
  status?: CompassConnectionStatus;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const ts = (v: unknown): Timestamp => (typeof v === "string" && v !== "" ? v : null);

function parseCertificateStatus(v: unknown): CertificateStatus {
  const c = isRecord(v) ? v : {};
  return { acquired: ts(c["acquired"]), notBefore: ts(c["notBefore"]), notAfter: ts(c["notAfter"]) };
}

function parseConnectionStatus(v: unknown): ConnectionStatus | null {
  if (!isRecord(v)) return null;
  const out: ConnectionStatus = {
    established: ts(v["established"]),
    renewed: ts(v["renewed"]),
    lastSync: ts(v["lastSync"]),
    lastSuccess: ts(v["lastSuccess"]),
    certificateStatus: parseCertificateStatus(v["certificateStatus"]),
  };
  if (typeof v["error"] === "string") out.error = v["error"];
  return out;
}

function parseSynchronizationStatus(v: unknown): SynchronizationStatus | null {
  if (!isRecord(v)) return null;
  const out: SynchronizationStatus = {
    lastAttempt: ts(v["lastAttempt"]),
    lastSuccessfulFetch: ts(v["lastSuccessfulFetch"]),
    lastSuccessfulApplication: ts(v["lastSuccessfulApplication"]),
  };
  if (typeof v["error"] === "string") out.error = v["error"];
  return out;
}

function parseCondition(v: unknown): Condition | undefined {
  if (!isRecord(v) || typeof v["type"] !== "string") return undefined;
  const status = v["status"] === "True" || v["status"] === "False" ? v["status"] : "Unknown";
  const out: Condition = {
    type: v["type"],
    status,
    lastTransitionTime: str(v["lastTransitionTime"]),
    reason: str(v["reason"]),
    message: str(v["message"]),
  };
  if (typeof v["observedGeneration"] === "number") out.observedGeneration = v["observedGeneration"];
  return out;
}

/**
 * Reads a CompassConnection from API JSON. The API server has validated it against the CRD; this only
 * normalizes (absent timestamps → null) and keeps metadata fields the model does not name.
 */
export function parseCompassConnection(raw: unknown): CompassConnection {
  if (!isRecord(raw)) throw new K8sStoreError("K8S_UNEXPECTED", "CompassConnection: the API server returned a non-object");
  const rawMeta = isRecord(raw["metadata"]) ? raw["metadata"] : {};
  const spec = isRecord(raw["spec"]) ? raw["spec"] : {};
  const mi = isRecord(spec["managementInfo"]) ? spec["managementInfo"] : {};
  const out: CompassConnection = {
    apiVersion: COMPASS_API_VERSION,
    kind: COMPASS_KIND,
    metadata: { ...rawMeta, ...parseObjectMeta(rawMeta) },
    spec: { managementInfo: { connectorUrl: str(mi["connectorUrl"]), directorUrl: str(mi["directorUrl"]) } },
  };
  if (typeof spec["resyncNow"] === "boolean") out.spec.resyncNow = spec["resyncNow"];
  if (typeof spec["refreshCredentialsNow"] === "boolean") out.spec.refreshCredentialsNow = spec["refreshCredentialsNow"];
  if (isRecord(raw["status"])) {
    const s = raw["status"];
    const status: CompassConnectionStatus = {
      connectionState: str(s["connectionState"]),
      connectionStatus: parseConnectionStatus(s["connectionStatus"]),
    };
    if ("synchronizationStatus" in s) status.synchronizationStatus = parseSynchronizationStatus(s["synchronizationStatus"]);
    if (Array.isArray(s["conditions"])) status.conditions = s["conditions"].map(parseCondition).filter((c): c is Condition => c !== undefined);
    out.status = status;
  }
  return out;
}

/**
 * Sets a condition in `conditions` (returns a new array): `lastTransitionTime` changes only when the status
 * flips, as metav1 conditions require. `now` is passed in (no clock here).
 */
export function setCondition(conditions: readonly Condition[] | undefined, condition: Omit<Condition, "lastTransitionTime">, now: Date | string): Condition[] {
  const time = typeof now === "string" ? now : now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === condition.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    ...condition,
    lastTransitionTime: prev !== undefined && prev.status === condition.status ? prev.lastTransitionTime : time,
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** The result of `mutate`. */
export interface MutateResult<T> {
  object: T;
  /** False when the mutation changed nothing, so nothing was written. */
  updated: boolean;
  /** Read-modify-write attempts used (1 without conflicts). */
  attempts: number;
}

/** The mutation callback: change `draft` in place, or return a replacement. */
export type Mutation<T> = (draft: T) => T | void | Promise<T | void>;

export interface CompassConnectionStoreOptions {
  conflictRetry?: ConflictRetryOptions;
}

/**
 * CRUD for the cluster-scoped CompassConnection CR. Writes are conditional on `metadata.resourceVersion`
 * (optimistic concurrency); `mutate` re-reads and re-applies on conflicts.
 */
export class CompassConnectionStore {
  constructor(
    private readonly client: K8sClient,
    private readonly options: CompassConnectionStoreOptions = {},
  ) {}

  private path(name?: string): string {
    const base = `/apis/${COMPASS_GROUP}/${COMPASS_VERSION}/${COMPASS_PLURAL}`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** Reads the CR; K8S_NOT_FOUND when it does not exist. */
  async get(name: string = DEFAULT_COMPASS_CONNECTION_NAME): Promise<CompassConnection> {
    const raw: unknown = await this.client.json("get", COMPASS_PLURAL, `get ${COMPASS_PLURAL} ${name}`, { method: "GET", path: this.path(name) });
    return parseCompassConnection(raw);
  }

  /** Reads the CR; undefined when it does not exist. */
  async find(name: string = DEFAULT_COMPASS_CONNECTION_NAME): Promise<CompassConnection | undefined> {
    try {
      return await this.get(name);
    } catch (err) {
      if (err instanceof K8sStoreError && err.code === "K8S_NOT_FOUND") return undefined;
      throw err;
    }
  }

  async list(): Promise<CompassConnection[]> {
    const raw: unknown = await this.client.json("list", COMPASS_PLURAL, `list ${COMPASS_PLURAL}`, { method: "GET", path: this.path() });
    const items = isRecord(raw) && Array.isArray(raw["items"]) ? raw["items"] : [];
    return items.map(parseCompassConnection);
  }

  /** Creates the CR (status included: there is no status subresource). K8S_ALREADY_EXISTS when it exists. */
  async create(input: NewCompassConnection): Promise<CompassConnection> {
    const name = input.metadata?.name ?? DEFAULT_COMPASS_CONNECTION_NAME;
    const body: Record<string, unknown> = {
      apiVersion: COMPASS_API_VERSION,
      kind: COMPASS_KIND,
      metadata: { ...stripServerMeta(input.metadata ?? {}), name },
      spec: input.spec,
    };
    if (input.status !== undefined) body["status"] = input.status;
    const raw: unknown = await this.client.json("create", COMPASS_PLURAL, `create ${COMPASS_PLURAL} ${name}`, {
      method: "POST",
      path: this.path(),
      query: { fieldManager: FIELD_MANAGER },
      body,
    });
    return parseCompassConnection(raw);
  }

  /**
   * Replaces the CR (spec and status) if it still has `metadata.resourceVersion`; K8S_CONFLICT when someone
   * else wrote it meanwhile. A missing resourceVersion is refused (no unconditional writes).
   */
  async update(cc: CompassConnection): Promise<CompassConnection> {
    const name = cc.metadata.name;
    if (cc.metadata.resourceVersion === undefined || cc.metadata.resourceVersion === "") {
      throw new K8sStoreError("K8S_INVALID", `update ${COMPASS_PLURAL} ${name}: metadata.resourceVersion is required (read the object first)`);
    }
    const body = { ...cc, apiVersion: COMPASS_API_VERSION, kind: COMPASS_KIND };
    const raw: unknown = await this.client.json("update", COMPASS_PLURAL, `update ${COMPASS_PLURAL} ${name}`, {
      method: "PUT",
      path: this.path(name),
      query: { fieldManager: FIELD_MANAGER },
      body,
    });
    return parseCompassConnection(raw);
  }

  /**
   * Read-modify-write with conflict retries: reads the CR, runs `fn` on a copy, and writes it back only if
   * something changed. On K8S_CONFLICT it re-reads and runs `fn` again on the fresh object (so `fn` must
   * express the intended change, not a stale snapshot), up to 5 attempts by default.
   * K8S_NOT_FOUND when the CR does not exist.
   */
  async mutate(name: string, fn: Mutation<CompassConnection>, options: ConflictRetryOptions = {}): Promise<MutateResult<CompassConnection>> {
    let attempts = 0;
    return retryOnConflict(
      async (n) => {
        attempts = n;
        const current = await this.get(name);
        const draft = cloneJson(current);
        const returned = await fn(draft);
        const next = returned ?? draft;
        next.metadata = { ...next.metadata, name: current.metadata.name };
        if (current.metadata.resourceVersion !== undefined) next.metadata.resourceVersion = current.metadata.resourceVersion;
        if (canonicalJson(next) === canonicalJson(current)) return { object: current, updated: false, attempts };
        const object = await this.update(next);
        return { object, updated: true, attempts };
      },
      { ...this.options.conflictRetry, ...options },
    );
  }

  /**
   * Deletes the CR; false when it did not exist. With `uid` or `resourceVersion`, deletes only that exact
   * object (K8S_CONFLICT otherwise).
   */
  async delete(name: string = DEFAULT_COMPASS_CONNECTION_NAME, preconditions: { uid?: string; resourceVersion?: string } = {}): Promise<boolean> {
    const body = preconditions.uid !== undefined || preconditions.resourceVersion !== undefined ? { preconditions } : undefined;
    try {
      await this.client.json("delete", COMPASS_PLURAL, `delete ${COMPASS_PLURAL} ${name}`, { method: "DELETE", path: this.path(name), ...(body !== undefined ? { body } : {}) });
      return true;
    } catch (err) {
      if (err instanceof K8sStoreError && err.code === "K8S_NOT_FOUND") return false;
      throw err;
    }
  }

  /** A cache of CompassConnections kept current by list+watch (not started: call start()). */
  informer(options: InformerOptions = {}): Informer<CompassConnection> {
    return new Informer(
      this.client,
      {
        resource: COMPASS_PLURAL,
        watchPath: `/apis/${COMPASS_GROUP}/${COMPASS_VERSION}/${COMPASS_PLURAL}`,
        list: (q) => listCustomObjectPage(this.client, COMPASS_GROUP, COMPASS_VERSION, COMPASS_PLURAL, q),
        parse: parseCompassConnection,
      },
      options,
    );
  }
}

/** Metadata fields a create must not carry. */
export function stripServerMeta(meta: Partial<ObjectMeta>): Partial<ObjectMeta> {
  const { uid: _uid, resourceVersion: _rv, generation: _g, creationTimestamp: _c, deletionTimestamp: _d, managedFields: _m, ...rest } = meta as ObjectMeta;
  return rest;
}

/** One page of a cluster-scoped custom resource list, raw JSON (`accept`: e.g. metadata only). */
export async function listCustomObjectPage(
  client: K8sClient,
  group: string,
  version: string,
  plural: string,
  q: { labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string },
  accept?: string,
): Promise<{ items: unknown[]; resourceVersion: string; continue?: string }> {
  const raw: unknown = await client.json("list", plural, `list ${plural}`, {
    method: "GET",
    path: `/apis/${group}/${version}/${plural}`,
    query: { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector, limit: q.limit, continue: q.continue },
    ...(accept !== undefined ? { accept } : {}),
  });
  return listPageOf(raw);
}

/** The query of one page of a list: the caller's selectors, `limit` (pageSize, default 500) and `continue`. */
export function pageQuery<O extends { pageSize?: number }>(options: O, cont: string | undefined): Omit<O, "pageSize"> & { limit: number; continue?: string } {
  const { pageSize, ...selectors } = options;
  return { ...selectors, limit: pageSize ?? 500, ...(cont !== undefined ? { continue: cont } : {}) };
}

/** A list's items with the list's resourceVersion (to watch from). */
export type WithResourceVersion<T> = T[] & { resourceVersion: string };

/**
 * Calls `each` for every item of a paged list, page after page; `page(cont)` reads the page after `cont`. Returns
 * the list's resourceVersion.
 */
export async function forEachListItem(
  page: (cont: string | undefined) => Promise<{ items: unknown[]; resourceVersion?: string; continue?: string }>,
  each: (item: unknown) => void,
): Promise<string> {
  let cont: string | undefined;
  let resourceVersion = "";
  do {
    const current = await page(cont);
    // The pages of one list are one snapshot: the first page's resourceVersion is the list's.
    if (cont === undefined) resourceVersion = current.resourceVersion ?? "";
    for (const item of current.items) each(item);
    cont = current.continue;
  } while (cont !== undefined);
  return resourceVersion;
}

/** items, resourceVersion and continue token of a list answer (raw JSON). */
export function listPageOf(raw: unknown): { items: unknown[]; resourceVersion: string; continue?: string } {
  const list = isRecord(raw) ? raw : {};
  const meta = isRecord(list["metadata"]) ? list["metadata"] : {};
  const out: { items: unknown[]; resourceVersion: string; continue?: string } = {
    items: Array.isArray(list["items"]) ? list["items"] : [],
    resourceVersion: typeof meta["resourceVersion"] === "string" ? meta["resourceVersion"] : "",
  };
  if (typeof meta["continue"] === "string" && meta["continue"] !== "") out.continue = meta["continue"];
  return out;
}
