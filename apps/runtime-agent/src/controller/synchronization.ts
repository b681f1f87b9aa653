import {
  applicationContentHashOf,
  buildDesiredState,
  DESIRED_HASH_ANNOTATION,
  fromBase64,
  mergeApplication,
  plan,
  secretContentHashOf,
  shouldNormalize,
  stableStringify,
  toBase64,
} from "@runtime-agent/app-sync";
import type { ActualApplication, ActualSecret, ActualState, ContentHash, DesiredApplication, DesiredSecret, DesiredState, Plan, SecretUpdate, Warning } from "@runtime-agent/app-sync";
import { DirectorError, DirectorErrorCode } from "@runtime-agent/director-client";
import type { DirectorApplication } from "@runtime-agent/director-client";
import { isK8sStoreError, retryOnConflict } from "@runtime-agent/k8s-store";
import type { AgentConfiguration, Application, CompassConnection, K8sStore, ObjectMeta, OwnerReference, SecretObject } from "@runtime-agent/k8s-store";
import type { AgentConfig } from "../config/schema.js";
import type { Logger } from "../observability/logger.js";
import type { AgentMetrics } from "../observability/metrics.js";
import type { CompassSession } from "./compass-session.js";
import { retryAfterOf } from "./connection.js";
import { describe } from "./describe-error.js";

export interface SyncContext {
  config: AgentConfig;
  store: K8sStore;
  session: CompassSession;
  metrics: AgentMetrics;
  log: Logger;
  requestId: string;
  signal: AbortSignal;
}

export interface ApplicationFailure {
  /** The Application's name (also for a failure of one of its Secrets). */
  name: string;
  /** The Compass application's id, when known (two Compass applications can share a name). */
  applicationId?: string;
  reason: string;
}

export type SyncOutcome =
  | {
      kind: "fetch-failed";
      message: string;
      retryAfterMs?: number | undefined;
      /** The Director did not accept the client certificate (HTTP 401, code 26) and no TENANT can be the cause. */
      certificateRefused?: boolean | undefined;
    }
  | {
      kind: "applied";
      /** Applications in Compass for this runtime. */
      fetched: number;
      managed: number;
      failures: ApplicationFailure[];
      writes: number;
      /** Set when reporting the runtime's URLs as labels failed. */
      labelsError: string | undefined;
      /**
       * Set when the Director's pages did not fit together (Compass changed while the agent paged): what was listed
       * was created and updated, and these managed objects were kept rather than deleted until a consistent listing.
       */
      deferred?: { inconsistency: string; kept: number } | undefined;
    };

/**
 * Writes in flight at once. The API server, not the agent, bounds a first synchronization; 32 keeps it busy (etcd
 * commits writes in batches) without queueing so much that single requests time out.
 */
const WRITE_CONCURRENCY = 32;
/** Reads of single objects in flight at once (objects whose content hash is not known yet). */
const READ_CONCURRENCY = 16;
/** Up to this many objects of a kind with an unknown content hash are read one by one; more: one full list. */
const SINGLE_READS_MAX = 32;
/** Items per page of the metadata-only lists (about 1 KB per object). */
const METADATA_PAGE_SIZE = 500;
export const RUNTIME_LABELS = { events: "runtime_eventServiceUrl", console: "runtime_consoleUrl" } as const;

/**
 * What synchronization keeps between cycles (one per store, i.e. per agent process). Small: no object content.
 * - The content hashes of the Applications and Secrets read or written, by uid and resourceVersion: a
 *   resourceVersion changes with every change of an object, so a known one needs neither the object's content
 *   nor a new hash. Only objects present in the latest listing are kept.
 * - The last cycle that applied everything without a single failure: what it was computed from (the Director's
 *   answers, the runtime labels, the settings) and the uid/resourceVersion of every object it saw or wrote. When
 *   both are unchanged the cluster is exactly as that cycle left it (a hand edit, a deletion, a new foreign
 *   object all change the listing), so the same plan would write nothing: the cycle ends after the listing.
 */
interface SyncMemory {
  appHashes: Map<string, ContentHash>;
  secretHashes: Map<string, SecretDigest>;
  clean: CleanCycle | undefined;
  /** Compass application id → the desired hash of that application when its warnings were last logged. */
  warned: Map<string, string>;
}

/** What is remembered of a Secret's content: its hash and the names of its data keys (not the values). */
interface SecretDigest {
  hash: ContentHash;
  keys: string[];
}

interface CleanCycle {
  key: string;
  /** `A/<name>` and `S/<namespace>/<name>` → `<uid>/<resourceVersion>`, after the cycle's own writes. */
  objects: Map<string, string>;
  managed: number;
}

const memories = new WeakMap<K8sStore, SyncMemory>();

function memoryOf(store: K8sStore): SyncMemory {
  let memory = memories.get(store);
  if (memory === undefined) {
    memory = { appHashes: new Map(), secretHashes: new Map(), clean: undefined, warned: new Map() };
    memories.set(store, memory);
  }
  return memory;
}

/**
 * One synchronization: every page of applications and the runtime's labels from the Director, the desired
 * Applications and Secrets, a plan against what the cluster holds, and only the writes the plan needs.
 * A failed fetch returns before anything is written. A listing whose pages did not fit together (Compass changed
 * while the agent paged) is applied too, but deletes nothing: an application missing from it may still exist.
 */
export async function synchronize(ctx: SyncContext, cc: CompassConnection, agentConfig: AgentConfiguration): Promise<SyncOutcome> {
  const runtimeId = agentConfig.runtimeId.trim();
  const secret = `${ctx.config.agentConfigurationSecret.namespace}/${ctx.config.agentConfigurationSecret.name}`;
  if (runtimeId === "") return { kind: "fetch-failed", message: `Failed to read Runtime config: RUNTIME_ID in Secret ${secret} is empty` };

  const memory = memoryOf(ctx.store);
  const t0 = performance.now();
  const director = ctx.session.director(cc.spec.managementInfo.directorUrl, agentConfig.tenant.trim());
  // What the cluster holds is listed while the Director answers (the listing needs nothing from it). A failed
  // fetch discards it; a failed listing counts only when the fetch succeeded.
  const listing = settle(listObjects(ctx));
  let labels: Record<string, unknown>;
  let applications: DirectorApplication[];
  let digest: string;
  let inconsistency: string | undefined;
  try {
    ({ labels, applications, digest, inconsistency } = await fetchFromDirector(ctx, director, runtimeId));
  } catch (error) {
    await listing;
    return fetchFailure(error, agentConfig.tenant.trim(), secret);
  }
  const options = {
    centralGatewayUrl: ctx.config.centralGatewayServiceUrl,
    skipAppsTlsVerify: ctx.config.skipAppsTlsVerify,
    integrationNamespace: ctx.config.integrationNamespace,
  };
  // Everything the desired state is computed from: the Director's answers, the one runtime label it reads
  // (isNormalized; the URL labels this agent sets do not count) and the settings.
  const key = `${digest}\n${String(shouldNormalize(labels))}\n${stableStringify(options)}`;

  const t1 = performance.now();
  const listed = await listing;
  if (!listed.ok) return { kind: "fetch-failed", message: `Failed to read the Applications in the cluster: ${describe(listed.error)}` };

  const t2 = performance.now();
  const clean = memory.clean;
  if (inconsistency === undefined && clean !== undefined && clean.key === key && sameObjects(clean.objects, listed.value.objects)) {
    // Compass answered as in the last clean cycle and no object changed since: nothing to write (and nothing new
    // to warn about).
    const labelsError = await reportRuntimeUrls(ctx, director, runtimeId, labels);
    ctx.log.debug({ fetchMs: ms(t0, t1), listMs: ms(t1, t2), unchanged: true }, "synchronization phases");
    return { kind: "applied", fetched: applications.length, managed: clean.managed, failures: [], writes: 0, labelsError };
  }
  memory.clean = undefined;

  const fetched = applications.length;
  const desired = buildDesiredState(applications, labels, options);
  // The Director's model is not needed any more: let it go before the writes (an async function's locals stay
  // reachable until it returns).
  // eslint-disable-next-line no-useless-assignment
  applications = [];
  const desiredNames = desired.applications.map((a) => a.metadata.name);
  logNewWarnings(ctx, memory, desired, inconsistency === undefined);

  const t3 = performance.now();
  let actual: ActualState;
  try {
    actual = await completeActualState(ctx, memory, listed.value);
  } catch (error) {
    return { kind: "fetch-failed", message: `Failed to read the Applications in the cluster: ${describe(error)}` };
  }
  const t4 = performance.now();
  const thePlan = plan(desired, actual, {
    deferDeletions: inconsistency === undefined ? undefined : "the Director's listing was inconsistent (Compass changed while the agent paged); deletions wait for a consistent listing",
  });
  const kept = thePlan.applications.kept.length + thePlan.secrets.kept.length;
  // Failures are per application: a Secret's conflict is reported under its Application, and not at all when
  // the Application itself is in conflict (its Secrets are never written then).
  const ownerOfSecret = new Map(desired.secrets.map((d) => [`${d.secret.metadata.namespace}/${d.secret.metadata.name}`, d.ownerApplication]));
  const appConflicts = new Set(thePlan.conflicts.filter((c) => c.kind === "Application").map((c) => c.name));
  const failures: ApplicationFailure[] = [
    ...desired.conflicts.map((c) => ({ name: c.name, applicationId: c.applicationId, reason: c.reason })),
    ...thePlan.conflicts.flatMap((c) => {
      if (c.kind === "Application") return [{ name: c.name, reason: c.reason }];
      const owner = ownerOfSecret.get(`${c.namespace}/${c.name}`);
      if (owner !== undefined && appConflicts.has(owner)) return [];
      return [{ name: owner ?? c.name, reason: `Secret ${c.namespace}/${c.name}: ${c.reason}` }];
    }),
  ];
  const t5 = performance.now();
  // What a listing will show after this cycle's writes, when nobody else writes: the fast path's reference.
  const objects = new Map<string, string>();
  for (const a of actual.applications) objects.set(appKey(a.metadata?.name ?? ""), version(a.metadata ?? {}));
  for (const x of actual.secrets) objects.set(secretKey(x.metadata?.namespace ?? "", x.metadata?.name ?? ""), version(x.metadata ?? {}));
  desired.applications.length = 0; // the plan holds what is still to be written
  desired.secrets.length = 0;
  const writes = await execute(ctx, thePlan, actual, failures, memory, objects);

  const t6 = performance.now();
  const labelsError = await reportRuntimeUrls(ctx, director, runtimeId, labels);
  ctx.log.debug({ fetchMs: ms(t0, t1), listMs: ms(t1, t2), desiredMs: ms(t2, t3), readMs: ms(t3, t4), planMs: ms(t4, t5), writeMs: ms(t5, t6), writes }, "synchronization phases");
  const failedNames = new Set(failures.map((f) => f.name));
  const managed = desiredNames.filter((name) => !failedNames.has(name)).length;
  if (failures.length === 0 && inconsistency === undefined) memory.clean = { key, objects, managed };
  if (inconsistency !== undefined) {
    ctx.log.warn({ inconsistency, applications: fetched, kept }, "the Director's listing was inconsistent: applied what it listed, deleted nothing");
  }
  return {
    kind: "applied",
    fetched,
    managed,
    failures: dedupe(failures),
    writes,
    labelsError,
    ...(inconsistency !== undefined ? { deferred: { inconsistency, kept } } : {}),
  };
}

const ms = (from: number, to: number): number => Math.round(to - from);

/**
 * The Director answers HTTP 401 code 26 both for a certificate it does not accept and for a Tenant header naming no
 * tenant it knows. The Connector accepted the certificate earlier in the same cycle, so with a TENANT configured the
 * TENANT is the likely cause; without one, the certificate is.
 */
function fetchFailure(error: unknown, tenant: string, secret: string): SyncOutcome {
  const message = `Failed to fetch configuration: ${describe(error)}`;
  if (!(error instanceof DirectorError && error.code === DirectorErrorCode.AUTH_FAILED)) {
    return { kind: "fetch-failed", message, retryAfterMs: retryAfterOf(error) };
  }
  if (tenant !== "") {
    return {
      kind: "fetch-failed",
      message: `${message}. Likely cause: TENANT ${JSON.stringify(tenant)} in Secret ${secret} is not a tenant Compass knows (the Connector accepted the client certificate); correct TENANT in the Secret`,
    };
  }
  return { kind: "fetch-failed", message, certificateRefused: true };
}

/** A promise that never rejects (so it may wait unobserved while other work runs). */
async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The metadata of every Application and of the agent's app Secrets, and their uids/resourceVersions. */
interface Listed {
  applications: { metadata: ObjectMeta }[];
  secrets: { metadata: ObjectMeta & { namespace: string } }[];
  objects: Map<string, string>;
}

const appKey = (name: string): string => `A/${name}`;
const secretKey = (namespace: string, name: string): string => `S/${namespace}/${name}`;
const version = (meta: { uid?: string | undefined; resourceVersion?: string | undefined }): string => `${meta.uid ?? ""}/${meta.resourceVersion ?? ""}`;

/**
 * The runtime's labels and every application, fetched in parallel. A function of its own so that nothing but the
 * caller's `applications` keeps the Director's model reachable (a suspended async function keeps the values of its
 * block-scoped temporaries), and the caller can drop it before the writes.
 */
async function fetchFromDirector(
  ctx: SyncContext,
  director: ReturnType<SyncContext["session"]["director"]>,
  runtimeId: string,
): Promise<{ labels: Record<string, unknown>; applications: DirectorApplication[]; digest: string; inconsistency: string | undefined }> {
  const call = { requestId: ctx.requestId, signal: ctx.signal };
  const [labels, listing] = await Promise.all([
    ctx.metrics.timeCompass("runtimeLabels", () => director.getRuntimeLabels(runtimeId, call)),
    // A Compass that keeps changing must not starve the sync: an inconsistent listing is returned, marked.
    ctx.metrics.timeCompass("applicationsForRuntime", () => director.listApplicationsForRuntime(runtimeId, { ...call, allowInconsistent: true })),
  ]);
  return { labels, applications: listing.applications, digest: listing.digest, inconsistency: listing.consistent ? undefined : (listing.inconsistency ?? "the pages did not fit together") };
}

/**
 * Warnings (e.g. an unsupported credential type) are logged once per change of their application, not every
 * cycle. Applications no longer listed are forgotten, unless the listing was inconsistent (they may still exist).
 */
function logNewWarnings(ctx: SyncContext, memory: SyncMemory, desired: DesiredState, complete: boolean): void {
  const hashOf = new Map<string, string>();
  for (const app of desired.applications) hashOf.set(app.spec.compassMetadata.applicationId, app.metadata.annotations[DESIRED_HASH_ANNOTATION] ?? "");
  const byApplication = new Map<string, Warning[]>();
  for (const warning of desired.warnings) byApplication.set(warning.applicationId, [...(byApplication.get(warning.applicationId) ?? []), warning]);
  const warned = new Map<string, string>(complete ? [] : memory.warned);
  for (const [applicationId, warnings] of byApplication) {
    const hash = hashOf.get(applicationId) ?? "";
    if (memory.warned.get(applicationId) !== hash) {
      for (const warning of warnings) ctx.log.warn({ application: warning.name, bundleId: warning.bundleId }, warning.reason);
    }
    warned.set(applicationId, hash);
  }
  memory.warned = warned;
}

async function listObjects(ctx: SyncContext): Promise<Listed> {
  const [applications, secrets] = await Promise.all([
    // All Applications: a foreign one with a wanted name must be seen to be left alone.
    ctx.store.applications.listMetadata({ labelSelector: "", pageSize: METADATA_PAGE_SIZE }),
    // Only Secrets written by an agent (ours or the Go agent's): other components' Secrets labelled `app` neither
    // count as changes nor get read.
    ctx.store.applications.listManagedSecretMetadata(ctx.config.integrationNamespace, { pageSize: METADATA_PAGE_SIZE }),
  ]);
  const objects = new Map<string, string>();
  for (const a of applications) objects.set(appKey(a.metadata.name), version(a.metadata));
  for (const x of secrets) objects.set(secretKey(x.metadata.namespace, x.metadata.name), version(x.metadata));
  return { applications, secrets, objects };
}

function sameObjects(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/**
 * The actual state for plan: the listed metadata with the content hash of each object. Hashes of known
 * uid/resourceVersions come from memory; the content of the others is read (one by one when they are few, else
 * one full list) and hashed. The plan needs no spec or data then: updates read the current object themselves.
 */
async function completeActualState(ctx: SyncContext, memory: SyncMemory, listed: Listed): Promise<ActualState> {
  const ns = ctx.config.integrationNamespace;
  const apps = await withContentHashes(listed.applications, memory.appHashes, {
    key: (meta) => appKey(meta.name),
    readAll: () => ctx.store.applications.listManaged({ labelSelector: "" }),
    readOne: (meta) => ctx.store.applications.find(meta.name),
    hashOf: applicationContentHashOf,
  });
  const secrets = await withContentHashes(listed.secrets, memory.secretHashes, {
    key: (meta) => secretKey(meta.namespace, meta.name),
    readAll: () => ctx.store.applications.listManagedSecrets(ns),
    readOne: async (meta) => (await ctx.store.applications.listManagedSecrets(meta.namespace, { fieldSelector: `metadata.name=${meta.name}` }))[0],
    hashOf: secretDigest,
  });
  // Only what is there now is remembered.
  memory.appHashes = apps.hashes;
  memory.secretHashes = secrets.hashes;
  return {
    applications: apps.objects.map((a): ActualApplication => ({ metadata: withoutManagedFields(a.metadata), contentHash: apps.hashes.get(version(a.metadata)) })),
    secrets: secrets.objects.map((x): ActualSecret => ({ metadata: withoutManagedFields(x.metadata), contentHash: secrets.hashes.get(version(x.metadata))?.hash })),
  };
}

/**
 * The listed objects of one kind, with the content hash (by uid/resourceVersion) of each one still there: from
 * `known` when remembered, else read and hashed — one by one when few are unknown, else with one full list (whose
 * objects then replace the listed ones).
 */
async function withContentHashes<M extends ObjectMeta, O extends { metadata: M }, H>(
  listed: { metadata: M }[],
  known: ReadonlyMap<string, H>,
  kind: { key: (meta: M) => string; readAll: () => Promise<O[]>; readOne: (meta: M) => Promise<O | undefined>; hashOf: (object: O) => H },
): Promise<{ objects: { metadata: M }[]; hashes: Map<string, H> }> {
  const hashes = new Map<string, H>();
  const remember = (object: O) => hashes.set(version(object.metadata), kind.hashOf(object));
  let objects = listed;
  const unknown = listed.filter((o) => !known.has(version(o.metadata)));
  if (unknown.length > SINGLE_READS_MAX) {
    const full = await kind.readAll();
    for (const object of full) remember(object);
    objects = full.map((o) => ({ metadata: o.metadata }));
  } else if (unknown.length > 0) {
    const read = new Map<string, O | undefined>();
    await forEachLimited(unknown, READ_CONCURRENCY, async (o) => {
      const found = await kind.readOne(o.metadata);
      if (found !== undefined) remember(found);
      read.set(kind.key(o.metadata), found);
    });
    // A listed object read again is replaced by what was read, or dropped when it is gone.
    objects = listed.flatMap((o) => {
      const k = kind.key(o.metadata);
      if (!read.has(k)) return [o];
      const found = read.get(k);
      return found ? [{ metadata: found.metadata }] : [];
    });
  }
  for (const o of objects) {
    const v = version(o.metadata);
    const hash = hashes.get(v) ?? known.get(v);
    if (hash !== undefined) hashes.set(v, hash);
  }
  return { objects, hashes };
}

function secretDigest(secret: SecretObject): SecretDigest {
  return { hash: secretContentHashOf(toActualSecret(secret)), keys: Object.keys(secret.data) };
}

function withoutManagedFields<M extends ObjectMeta>(meta: M): M {
  if (meta.managedFields === undefined) return meta;
  const { managedFields: _m, ...rest } = meta;
  return rest as M;
}

/** The store decodes Secret data; the plan compares it base64-encoded, as the API returns it. */
function toActualSecret(secret: SecretObject): ActualSecret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: secret.metadata,
    type: secret.type,
    data: Object.fromEntries(Object.entries(secret.data).map(([key, value]) => [key, toBase64(value)])),
  };
}

type Task = () => Promise<Task[] | void>;

/**
 * Writes so that references stay valid: an Application first, then (right after it, while other Applications
 * are still being written) its Secrets with its uid as owner; then deletions of Secrets, then of Applications.
 * A failure is recorded for its application; the others go on. `objects` follows every write (the state a
 * listing will show when nobody else writes), and the hashes of written objects are remembered.
 */
async function execute(
  ctx: SyncContext,
  thePlan: Plan,
  actual: ActualState,
  failures: ApplicationFailure[],
  memory: SyncMemory,
  objects: Map<string, string>,
): Promise<number> {
  let writes = 0;
  const record = (name: string, verb: string, kind: string, error: unknown) =>
    failures.push({ name, reason: `${verb} ${kind}: ${describe(error)}` });
  const count = (kind: string, verb: string) => {
    writes++;
    ctx.metrics.kubernetesWrites.inc({ kind, verb });
  };
  const apps = thePlan.applications;
  const ownerUids = new Map<string, string>();
  for (const app of actual.applications) if (app.metadata?.name !== undefined && app.metadata.uid !== undefined) ownerUids.set(app.metadata.name, app.metadata.uid);

  // The Secrets to write, by owner: a new one (created) or an existing one (its update).
  const secretsOf = new Map<string, { desired: DesiredSecret; update?: SecretUpdate }[]>();
  const addSecret = (write: { desired: DesiredSecret; update?: SecretUpdate }) => {
    const list = secretsOf.get(write.desired.ownerApplication);
    if (list === undefined) secretsOf.set(write.desired.ownerApplication, [write]);
    else list.push(write);
  };
  for (const desired of thePlan.secrets.create) addSecret({ desired });
  for (const update of thePlan.secrets.update) addSecret({ desired: update.desired, update });
  const secretTasks = (owner: string): Task[] => {
    const list = secretsOf.get(owner) ?? [];
    secretsOf.delete(owner);
    return list.map((write) => () => writeSecret(write.desired, write.update));
  };
  const rememberApp = (app: Application) => {
    objects.set(appKey(app.metadata.name), version(app.metadata));
    memory.appHashes.set(version(app.metadata), applicationContentHashOf(app));
    if (app.metadata.uid !== undefined) ownerUids.set(app.metadata.name, app.metadata.uid);
  };
  const rememberSecret = (x: SecretObject) => {
    objects.set(secretKey(x.metadata.namespace, x.metadata.name), version(x.metadata));
    memory.secretHashes.set(version(x.metadata), secretDigest(x));
  };
  const createApp = async (app: DesiredApplication): Promise<Task[]> => {
    try {
      rememberApp(await ctx.store.applications.create(app));
      count("Application", "create");
      return secretTasks(app.metadata.name);
    } catch (error) {
      secretsOf.delete(app.metadata.name); // no Secret without its Application's uid
      record(app.metadata.name, "create", "Application", error);
      return [];
    }
  };
  const updateApp = async (update: Plan["applications"]["update"][number]): Promise<Task[]> => {
    const name = update.desired.metadata.name;
    try {
      // The plan knows the Application by its metadata; the update is built from the object as it is now
      // (status and anything else kept), and only while it is the one planned for. Another writer in between
      // (a conflict) means: read again and write again.
      const written = await retryOnConflict(async () => {
        const live = await ctx.store.applications.find(name);
        if (live === undefined || live.metadata.uid !== update.actual.metadata?.uid || !ctx.store.applications.isManaged(live)) {
          throw new Error(`the Application ${live === undefined ? "was deleted" : "was replaced or is no longer managed by the agent"} meanwhile; the next cycle plans again`);
        }
        return ctx.store.applications.update(mergeApplication(live as ActualApplication, update.desired) as Application);
      });
      rememberApp(written);
      count("Application", "update");
      return secretTasks(name);
    } catch (error) {
      secretsOf.delete(name);
      record(name, "update", "Application", error);
      return [];
    }
  };
  const writeSecret = async (desired: DesiredSecret, update: SecretUpdate | undefined): Promise<void> => {
    const isNew = update === undefined;
    const s = desired.secret;
    const ownerUid = ownerUids.get(desired.ownerApplication);
    const input = {
      name: s.metadata.name,
      namespace: s.metadata.namespace,
      labels: s.metadata.labels,
      annotations: s.metadata.annotations,
      type: s.type,
      data: Object.fromEntries(Object.entries(s.data).map(([key, value]) => [key, fromBase64(value)])),
      owner: desired.ownerApplication,
      ...(ownerUid !== undefined ? { ownerUid } : {}),
    };
    const what = `Secret ${s.metadata.namespace}/${s.metadata.name}`;
    try {
      // The patch applies only to the Secret as it was read (uid, resourceVersion): K8S_CONFLICT otherwise.
      let current: { uid: string | undefined; resourceVersion: string | undefined; ownerReferences?: OwnerReference[] | undefined; dataKeys: string[] };
      if (isNew) {
        try {
          // A create (POST) costs the API server less than a server-side apply that creates.
          rememberSecret(await ctx.store.applications.createSecret(input));
          count("Secret", "create");
          return;
        } catch (error) {
          if (!isK8sStoreError(error, "K8S_ALREADY_EXISTS")) throw error;
          // Created meanwhile: only one of the agent's own is overwritten, as the plan would have decided.
          const [existing] = await ctx.store.secrets.list(s.metadata.namespace, { fieldSelector: `metadata.name=${s.metadata.name}` });
          if (existing === undefined || !ctx.store.applications.isManagedSecret(existing)) {
            record(desired.ownerApplication, "create", what, `a Secret ${s.metadata.namespace}/${s.metadata.name} exists that the agent does not manage; it is left alone`);
            return;
          }
          current = { uid: existing.metadata.uid, resourceVersion: existing.metadata.resourceVersion, ownerReferences: existing.metadata.ownerReferences, dataKeys: Object.keys(existing.data) };
        }
      } else {
        const actualSecret = update?.actual;
        current = {
          uid: actualSecret?.metadata?.uid,
          resourceVersion: actualSecret?.metadata?.resourceVersion,
          ownerReferences: actualSecret?.metadata?.ownerReferences,
          dataKeys: memory.secretHashes.get(version(actualSecret?.metadata ?? {}))?.keys ?? Object.keys(actualSecret?.data ?? {}),
        };
      }
      // One merge patch: wanted labels, annotations and data (keys somebody else added are removed too; apply
      // would keep those, and the Secret would then differ, and be written, every cycle), and the owner reference.
      rememberSecret(await ctx.store.applications.patchSecret(input, current));
      count("Secret", "patch");
    } catch (error) {
      record(desired.ownerApplication, isNew ? "create" : "patch", what, error);
    }
  };

  const tasks: (Task | undefined)[] = [...apps.create.map((app) => () => createApp(app)), ...apps.update.map((update) => () => updateApp(update))];
  const written = new Set([...apps.create.map((a) => a.metadata.name), ...apps.update.map((u) => u.desired.metadata.name)]);
  for (const owner of [...secretsOf.keys()]) if (!written.has(owner)) tasks.push(...secretTasks(owner));
  // From here on only the tasks hold the desired objects: each is released once it is written.
  apps.create.length = 0;
  apps.update.length = 0;
  thePlan.secrets.create.length = 0;
  thePlan.secrets.update.length = 0;
  await runTasks(tasks, WRITE_CONCURRENCY);

  await forEachLimited(thePlan.secrets.delete, WRITE_CONCURRENCY, async (ref) => {
    const namespace = ref.namespace ?? ctx.config.integrationNamespace;
    try {
      await ctx.store.applications.deleteSecret(ref.name, namespace, { uid: ref.uid, resourceVersion: ref.resourceVersion });
      objects.delete(secretKey(namespace, ref.name));
      count("Secret", "delete");
    } catch (error) {
      record(ref.name, "delete", "Secret", error);
    }
  });
  await forEachLimited(apps.delete, WRITE_CONCURRENCY, async (ref) => {
    try {
      await ctx.store.applications.delete(ref.name, ref.uid ? { uid: ref.uid } : {});
      objects.delete(appKey(ref.name));
      count("Application", "delete");
    } catch (error) {
      record(ref.name, "delete", "Application", error);
    }
  });
  return writes;
}

/** Runs tasks with at most `concurrency` in flight; the tasks a task returns run next (before the others). */
async function runTasks(initial: (Task | undefined)[], concurrency: number): Promise<void> {
  const next: Task[] = [];
  let index = 0;
  const take = (): Task | undefined => {
    const urgent = next.pop();
    if (urgent !== undefined) return urgent;
    if (index >= initial.length) return undefined;
    const task = initial[index];
    initial[index++] = undefined; // what the task holds may go once it ran
    return task;
  };
  const worker = async (): Promise<void> => {
    for (let task = take(); task !== undefined; task = take()) {
      const more = await task();
      if (more) next.push(...more);
    }
  };
  // Workers that find nothing to do while others may still add tasks are restarted when tasks arrive.
  const running = new Set<Promise<void>>();
  const spawn = () => {
    while (running.size < concurrency && (next.length > 0 || index < initial.length)) {
      const p: Promise<void> = worker().finally(() => {
        running.delete(p);
        spawn();
      });
      running.add(p);
    }
  };
  spawn();
  while (running.size > 0) await Promise.race(running);
}

/** Sets runtime_eventServiceUrl and runtime_consoleUrl only when Compass holds something else. */
async function reportRuntimeUrls(
  ctx: SyncContext,
  director: ReturnType<CompassSession["director"]>,
  runtimeId: string,
  labels: Record<string, unknown>,
): Promise<string | undefined> {
  const wanted: [string, string][] = [
    [RUNTIME_LABELS.events, ctx.config.runtimeEventsUrl],
    [RUNTIME_LABELS.console, ctx.config.runtimeConsoleUrl],
  ];
  for (const [key, value] of wanted) {
    if (labels[key] === value) continue;
    try {
      await ctx.metrics.timeCompass("setRuntimeLabel", () => director.setRuntimeLabel(runtimeId, key, value, { requestId: ctx.requestId, signal: ctx.signal }));
      ctx.log.info({ label: key, value }, "runtime label updated in Compass");
    } catch (error) {
      return `Failed to reconcile Runtime labels with proper URLs: ${key}: ${describe(error)}`;
    }
  }
  return undefined;
}

async function forEachLimited<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

function dedupe(failures: ApplicationFailure[]): ApplicationFailure[] {
  const seen = new Map<string, ApplicationFailure>();
  for (const failure of failures) {
    const key = `${failure.name}\u0000${failure.reason}`;
    if (!seen.has(key)) seen.set(key, failure);
  }
  return [...seen.values()];
}
