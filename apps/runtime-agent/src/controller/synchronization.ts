import { applicationContentHashOf, DESIRED_HASH_ANNOTATION, DesiredStateBuilder, plan, shouldNormalize, stableStringify } from "@runtime-agent/app-sync";
import type { ActualApplication, ActualSecret, ActualState, DesiredState, Warning } from "@runtime-agent/app-sync";
import type { AgentConfiguration, CompassConnection, K8sStore, ObjectMeta } from "@runtime-agent/k8s-store";
import type { AgentConfig } from "../config/schema.js";
import type { Logger } from "../observability/logger.js";
import type { AgentMetrics } from "../observability/metrics.js";
import type { CompassSession } from "./compass-session.js";
import { describe } from "./describe-error.js";
import { fetchFailure, fetchFromDirector, fetchFullListing } from "./director-fetch.js";
import type { DirectorAnswers } from "./director-fetch.js";
import { appKey, memoryOf, sameObjects, secretDigest, secretKey, version } from "./sync-memory.js";
import type { SyncMemory } from "./sync-memory.js";
import type { ClusterChanges } from "./cluster-changes.js";
import { execute, forEachLimited } from "./write-executor.js";

export interface SyncContext {
  config: AgentConfig;
  store: K8sStore;
  session: CompassSession;
  metrics: AgentMetrics;
  log: Logger;
  requestId: string;
  signal: AbortSignal;
  /** Whether the listed objects changed since the last listing, from watches: a quiet cycle then lists nothing. */
  changes?: ClusterChanges | undefined;
  /**
   * A full garbage collection (`globalThis.gc`, there when node runs with --expose-gc, as the image does), run when a
   * cycle turns out to build a desired state, before it lists anything: the garbage the quiet cycles before it left
   * (parsed Director answers) is collected, and the heap this cycle grows starts from what is live. Otherwise V8 lets
   * the heap grow by 8 MB and the young generation past the live set of its last full collection, garbage included,
   * before it collects (docs/operations.md). Quiet cycles do not run it: their garbage fits in what V8 allows, and a
   * full collection would cost them more CPU than the cycle itself.
   */
  collectGarbage?: (() => void) | undefined;
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
      /**
       * Applications converted from the Director's answers this cycle: 0 when every answer had the content of the
       * last clean cycle's (the listing was replayed, nothing built), else all of them.
       */
      converted: number;
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

/** Reads of single objects in flight at once (objects whose content hash is not known yet). */
const READ_CONCURRENCY = 16;
/** Up to this many objects of a kind with an unknown content hash are read one by one; more: one full list. */
const SINGLE_READS_MAX = 32;
/** Items per page of the metadata-only lists (about 1 KB per object). */
const METADATA_PAGE_SIZE = 500;
export const RUNTIME_LABELS = { events: "runtime_eventServiceUrl", console: "runtime_consoleUrl" } as const;

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
  const clean = memory.clean;
  // What the cluster holds is listed while the Director answers (the listing needs nothing from it), unless the
  // watches show every object as the last clean cycle left it: then the cycle is likely quiet, and the listing
  // starts only when the Director's answers turn out to differ. A failed fetch discards it; a failed listing counts
  // only when the fetch succeeded.
  const objectsAsLeft = clean !== undefined && ctx.changes?.unchanged() === true;
  if (clean?.replay === undefined) ctx.collectGarbage?.();
  let listing = objectsAsLeft ? undefined : settle(listObjects(ctx));
  const options = {
    centralGatewayUrl: ctx.config.centralGatewayServiceUrl,
    skipAppsTlsVerify: ctx.config.skipAppsTlsVerify,
    integrationNamespace: ctx.config.integrationNamespace,
  };
  // The Director's applications are converted as they arrive: its model is never held whole.
  let builder = new DesiredStateBuilder(options);
  let answers: DirectorAnswers;
  try {
    // After a clean cycle the listing is replayed: when Compass answers with the same content, nothing is converted.
    answers =
      clean?.replay === undefined
        ? await fetchFullListing(ctx, director, runtimeId, builder)
        : await fetchFromDirector(ctx, director, runtimeId, clean.replay, builder, () => {
            ctx.collectGarbage?.();
            listing ??= settle(listObjects(ctx));
          });
  } catch (error) {
    await listing;
    return fetchFailure(error, agentConfig.tenant.trim(), secret);
  }
  // Everything the desired state is computed from: the Director's answers, the one runtime label it reads
  // (isNormalized; the URL labels this agent sets do not count) and the settings.
  const keyOf = (a: DirectorAnswers) => `${a.digest}\n${String(shouldNormalize(a.labels))}\n${stableStringify(options)}`;
  const sameAnswers = answers.inconsistency === undefined && clean !== undefined && clean.key === keyOf(answers);

  const t1 = performance.now();
  if (clean !== undefined && sameAnswers && objectsAsLeft) return quiet(ctx, director, runtimeId, answers, clean.managed, { fetchMs: ms(t0, t1), watched: true });
  listing ??= settle(listObjects(ctx));
  const listed = await listing;
  if (!listed.ok) return { kind: "fetch-failed", message: `Failed to read the Applications in the cluster: ${describe(listed.error)}` };

  const t2 = performance.now();
  if (clean !== undefined && sameAnswers && sameObjects(clean.objects, listed.value.objects)) {
    ctx.changes?.expect(clean.objects);
    return quiet(ctx, director, runtimeId, answers, clean.managed, { fetchMs: ms(t0, t1), listMs: ms(t1, t2), watched: false });
  }
  memory.clean = undefined;
  let full: DirectorAnswers & { unchanged: false };
  if (answers.unchanged) {
    // Compass answered as before but the cluster changed: the applications are needed after all.
    try {
      ctx.collectGarbage?.();
      builder = new DesiredStateBuilder(options);
      full = await fetchFullListing(ctx, director, runtimeId, builder);
    } catch (error) {
      return fetchFailure(error, agentConfig.tenant.trim(), secret);
    }
  } else {
    full = answers;
  }
  const { labels, inconsistency, replay } = full;
  const key = keyOf(full);
  const fetched = full.applicationCount;
  const desired = builder.finish();
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
  if (failures.length === 0 && inconsistency === undefined) {
    memory.clean = { key, objects, managed, replay };
    ctx.changes?.expect(objects);
  }
  if (inconsistency !== undefined) {
    ctx.log.warn({ inconsistency, applications: fetched, kept }, "the Director's listing was inconsistent: applied what it listed, deleted nothing");
  }
  return {
    kind: "applied",
    fetched,
    converted: fetched,
    managed,
    failures: dedupe(failures),
    writes,
    labelsError,
    ...(inconsistency !== undefined ? { deferred: { inconsistency, kept } } : {}),
  };
}

const ms = (from: number, to: number): number => Math.round(to - from);

/** Compass answered as in the last clean cycle and no object changed since: nothing to write (and nothing new to warn about). */
async function quiet(
  ctx: SyncContext,
  director: ReturnType<CompassSession["director"]>,
  runtimeId: string,
  answers: DirectorAnswers,
  managed: number,
  phases: Record<string, unknown>,
): Promise<SyncOutcome> {
  const labelsError = await reportRuntimeUrls(ctx, director, runtimeId, answers.labels);
  ctx.log.debug({ ...phases, unchanged: true }, "synchronization phases");
  const converted = answers.unchanged ? 0 : answers.applicationCount;
  return { kind: "applied", fetched: answers.applicationCount, converted, managed, failures: [], writes: 0, labelsError };
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
  // Every change after this listing is followed from here on (a later quiet cycle may then list nothing).
  ctx.changes?.follow({ applications: applications.resourceVersion, secrets: secrets.resourceVersion });
  const objects = new Map<string, string>();
  for (const a of applications) objects.set(appKey(a.metadata.name), version(a.metadata));
  for (const x of secrets) objects.set(secretKey(x.metadata.namespace, x.metadata.name), version(x.metadata));
  return { applications, secrets, objects };
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

function withoutManagedFields<M extends ObjectMeta>(meta: M): M {
  if (meta.managedFields === undefined) return meta;
  const { managedFields: _m, ...rest } = meta;
  return rest as M;
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

function dedupe(failures: ApplicationFailure[]): ApplicationFailure[] {
  const seen = new Map<string, ApplicationFailure>();
  for (const failure of failures) {
    const key = `${failure.name}\u0000${failure.reason}`;
    if (!seen.has(key)) seen.set(key, failure);
  }
  return [...seen.values()];
}
