import { buildDesiredState, fromBase64, plan, toBase64 } from "@runtime-agent/app-sync";
import type { ActualSecret, ActualState, DesiredSecret, Plan } from "@runtime-agent/app-sync";
import type { DirectorApplication } from "@runtime-agent/director-client";
import type { AgentConfiguration, Application, CompassConnection, K8sStore, SecretObject } from "@runtime-agent/k8s-store";
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
  | { kind: "fetch-failed"; message: string; retryAfterMs?: number | undefined }
  | {
      kind: "applied";
      /** Applications in Compass for this runtime. */
      fetched: number;
      managed: number;
      failures: ApplicationFailure[];
      writes: number;
      /** Set when reporting the runtime's URLs as labels failed. */
      labelsError: string | undefined;
    };

const WRITE_CONCURRENCY = 16;
export const RUNTIME_LABELS = { events: "runtime_eventServiceUrl", console: "runtime_consoleUrl" } as const;

/**
 * One synchronization: every page of applications and the runtime's labels from the Director, the desired
 * Applications and Secrets, a plan against what the cluster holds, and only the writes the plan needs.
 * A failed or partial fetch returns before anything is written, so it never deletes an Application.
 */
export async function synchronize(ctx: SyncContext, cc: CompassConnection, agentConfig: AgentConfiguration): Promise<SyncOutcome> {
  const runtimeId = agentConfig.runtimeId.trim();
  const secret = `${ctx.config.agentConfigurationSecret.namespace}/${ctx.config.agentConfigurationSecret.name}`;
  if (runtimeId === "") return { kind: "fetch-failed", message: `Failed to read Runtime config: RUNTIME_ID in Secret ${secret} is empty` };

  const director = ctx.session.director(cc.spec.managementInfo.directorUrl, agentConfig.tenant.trim());
  let labels: Record<string, unknown>;
  let applications: DirectorApplication[];
  try {
    const call = { requestId: ctx.requestId, signal: ctx.signal };
    [labels, applications] = await Promise.all([
      ctx.metrics.timeCompass("runtimeLabels", () => director.getRuntimeLabels(runtimeId, call)),
      ctx.metrics.timeCompass("applicationsForRuntime", async () => (await director.listApplicationsForRuntime(runtimeId, call)).applications),
    ]);
  } catch (error) {
    return { kind: "fetch-failed", message: `Failed to fetch configuration: ${describe(error)}`, retryAfterMs: retryAfterOf(error) };
  }

  const desired = buildDesiredState(applications, labels, {
    centralGatewayUrl: ctx.config.centralGatewayServiceUrl,
    skipAppsTlsVerify: ctx.config.skipAppsTlsVerify,
    integrationNamespace: ctx.config.integrationNamespace,
  });
  for (const warning of desired.warnings) ctx.log.warn({ application: warning.name, bundleId: warning.bundleId }, warning.reason);

  let actual: ActualState;
  try {
    actual = await readActualState(ctx);
  } catch (error) {
    return { kind: "fetch-failed", message: `Failed to read the Applications in the cluster: ${describe(error)}` };
  }
  const thePlan = plan(desired, actual);
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
  const writes = await execute(ctx, thePlan, failures);

  const labelsError = await reportRuntimeUrls(ctx, director, runtimeId, labels);
  const failedNames = new Set(failures.map((f) => f.name));
  return {
    kind: "applied",
    fetched: applications.length,
    managed: desired.applications.filter((a) => !failedNames.has(a.metadata.name)).length,
    failures: dedupe(failures),
    writes,
    labelsError,
  };
}

async function readActualState(ctx: SyncContext): Promise<ActualState> {
  const [applications, secrets] = await Promise.all([
    // All Applications: a foreign one with a wanted name must be seen to be left alone.
    ctx.store.applications.listManaged({ labelSelector: "" }),
    // Secrets written by the agent (ours or the Go agent's) carry an `app` label.
    ctx.store.secrets.list(ctx.config.integrationNamespace, { labelSelector: "app" }),
  ]);
  return { applications, secrets: secrets.map(toActualSecret) };
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

/**
 * Writes in the order that keeps references valid: Applications first (Secrets need their UID as owner),
 * then Secrets, then deletions of Secrets, then of Applications. A failure is recorded for its application;
 * the others go on.
 */
async function execute(ctx: SyncContext, thePlan: Plan, failures: ApplicationFailure[]): Promise<number> {
  let writes = 0;
  const record = (name: string, verb: string, kind: string, error: unknown) =>
    failures.push({ name, reason: `${verb} ${kind}: ${describe(error)}` });
  const count = (kind: string, verb: string) => {
    writes++;
    ctx.metrics.kubernetesWrites.inc({ kind, verb });
  };
  const apps = thePlan.applications;
  const failedApps = new Set<string>();

  await forEachLimited(apps.create, async (app) => {
    try {
      await ctx.store.applications.create(app);
      count("Application", "create");
    } catch (error) {
      failedApps.add(app.metadata.name);
      record(app.metadata.name, "create", "Application", error);
    }
  });
  await forEachLimited(apps.update, async (update) => {
    try {
      await ctx.store.applications.update(update.object as Application);
      count("Application", "update");
    } catch (error) {
      failedApps.add(update.desired.metadata.name);
      record(update.desired.metadata.name, "update", "Application", error);
    }
  });

  const secretWrites: DesiredSecret[] = [...thePlan.secrets.create, ...thePlan.secrets.update.map((u) => u.desired)];
  // Keys somebody else added to a Secret the agent owns: apply keeps them (another field manager wrote them), so
  // they are removed with a patch, or the Secret would differ from the wanted one, and be written, every cycle.
  const foreignKeys = new Map(
    thePlan.secrets.update.map((u) => [u.desired, Object.keys(u.actual.data ?? {}).filter((key) => !(key in u.desired.secret.data))]),
  );
  await forEachLimited(secretWrites, async (desired) => {
    // A Secret needs its Application's UID; when the Application could not be written, neither is its Secret.
    if (failedApps.has(desired.ownerApplication)) return;
    const s = desired.secret;
    try {
      await ctx.store.applications.applySecret({
        name: s.metadata.name,
        namespace: s.metadata.namespace,
        labels: s.metadata.labels,
        annotations: s.metadata.annotations,
        type: s.type,
        data: Object.fromEntries(Object.entries(s.data).map(([key, value]) => [key, fromBase64(value)])),
        owner: desired.ownerApplication,
      });
      count("Secret", "apply");
      const extra = foreignKeys.get(desired) ?? [];
      if (extra.length > 0) {
        await ctx.store.applications.removeSecretKeys(s.metadata.namespace, s.metadata.name, extra);
        count("Secret", "patch");
      }
    } catch (error) {
      record(desired.ownerApplication, "apply", `Secret ${s.metadata.namespace}/${s.metadata.name}`, error);
    }
  });

  await forEachLimited(thePlan.secrets.delete, async (ref) => {
    try {
      await ctx.store.secrets.delete(ref.namespace ?? ctx.config.integrationNamespace, ref.name, ref.uid ? { uid: ref.uid } : {});
      count("Secret", "delete");
    } catch (error) {
      record(ref.name, "delete", "Secret", error);
    }
  });
  await forEachLimited(apps.delete, async (ref) => {
    try {
      await ctx.store.applications.delete(ref.name, ref.uid ? { uid: ref.uid } : {});
      count("Application", "delete");
    } catch (error) {
      record(ref.name, "delete", "Application", error);
    }
  });
  return writes;
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

async function forEachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker));
}

function dedupe(failures: ApplicationFailure[]): ApplicationFailure[] {
  const seen = new Map<string, ApplicationFailure>();
  for (const failure of failures) {
    const key = `${failure.name}\u0000${failure.reason}`;
    if (!seen.has(key)) seen.set(key, failure);
  }
  return [...seen.values()];
}
