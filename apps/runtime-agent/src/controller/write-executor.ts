import { applicationContentHashOf, fromBase64, mergeApplication } from "@runtime-agent/app-sync";
import type { ActualApplication, ActualState, DesiredApplication, DesiredSecret, Plan, SecretUpdate } from "@runtime-agent/app-sync";
import { isK8sStoreError, retryOnConflict } from "@runtime-agent/k8s-store";
import type { Application, OwnerReference, SecretObject } from "@runtime-agent/k8s-store";
import { describe } from "./describe-error.js";
import { appKey, secretDigest, secretKey, version } from "./sync-memory.js";
import type { SyncMemory } from "./sync-memory.js";
import type { ApplicationFailure, SyncContext } from "./synchronization.js";

/**
 * Writes in flight at once. The API server, not the agent, bounds a first synchronization; 16 keeps it busy (etcd
 * commits writes in batches) without queueing so much that single requests time out. Each one in flight is a TLS
 * connection of the agent's, kept open afterwards. pnpm bench, full sync of 1,000 applications: 16 in 12.5-14.0 s, 32
 * in 14.9-15.7 s, 8 in 15.4-16.8 s; with 200 applications 32 cost 3 MB more peak RSS than 16.
 */
export const WRITE_CONCURRENCY = 16;

/** A write; what it returns (an Application's Secrets) runs next. */
export type Task = () => Promise<Task[] | void>;

/**
 * Writes so that references stay valid: an Application first, then (right after it, while other Applications
 * are still being written) its Secrets with its uid as owner; then deletions of Secrets, then of Applications.
 * A failure is recorded for its application; the others go on. `objects` follows every write (the state a
 * listing will show when nobody else writes), and the hashes of written objects are remembered.
 */
export async function execute(
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

/**
 * Runs tasks with at most `concurrency` in flight; the tasks a task returns run next (before the others). Each entry of
 * `initial` is set to undefined once taken. bench/floor.ts runs its plain POST loop with it.
 */
export async function runTasks(initial: (Task | undefined)[], concurrency: number): Promise<void> {
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

export async function forEachLimited<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
