/**
 * desired vs actual → the writes that make them equal, and nothing else: an unchanged object costs no write.
 * Only objects the agent manages are ever updated or deleted; a foreign object with a name the agent wants is a
 * conflict and is left alone. Pure: no I/O and no clock.
 *
 * The store applies a plan in this order: create/update Applications; then create/update Secrets with an owner
 * reference to their Application's UID (`withOwnerReference`); then delete Secrets; then delete Applications.
 */
import { applicationContentHash, labelKeysOf, pickLabels, secretContentHash } from "./hash.js";
import { APPLICATION_API_VERSION, APPLICATION_KIND, DESIRED_HASH_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "./types.js";
import type {
  ActualApplication,
  ActualSecret,
  ActualState,
  ContentHash,
  DesiredApplication,
  DesiredSecret,
  DesiredState,
  OwnerReference,
  SecretManifest,
} from "./types.js";

export interface PlanOptions {
  /** The label that marks the agent's objects (default applicationconnector.kyma-project.io/managed-by=compass-runtime-agent). */
  managedLabel?: { key: string; value: string } | undefined;
  /**
   * Why nothing may be deleted this time (e.g. the Director's listing was inconsistent, so an application missing
   * from it may still exist): managed objects that are not desired are kept with this reason instead.
   */
  deferDeletions?: string | undefined;
}

/**
 * Why an object is rewritten:
 *  - `changed`: Compass changed (the object still carries the hash the agent wrote last time, for other content);
 *  - `edited`: the object carries the current hash but its content differs: somebody edited it by hand;
 *  - `unrecorded`: the hash annotation matches neither (an object the Go agent wrote, or one that Compass changed
 *    and somebody edited too);
 *  - `owner`: a Secret whose owner reference does not point at its Application's current UID.
 */
export type UpdateReason = "changed" | "edited" | "unrecorded" | "owner";

export interface ApplicationUpdate {
  desired: DesiredApplication;
  actual: ActualApplication;
  /** What to PUT: the actual object (resourceVersion, status, foreign labels and annotations kept) with the desired spec. */
  object: ActualApplication;
  reason: UpdateReason;
}

export interface SecretUpdate {
  desired: DesiredSecret;
  actual: ActualSecret;
  /** What to PUT, before its owner reference is set: the actual object with the desired labels, annotations and data. */
  object: ActualSecret;
  reason: UpdateReason;
}

export interface ObjectRef {
  name: string;
  namespace?: string | undefined;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

export interface KeptObject {
  name: string;
  reason: string;
}

export interface PlanConflict {
  kind: "Application" | "Secret";
  name: string;
  namespace?: string | undefined;
  reason: string;
}

export interface ObjectPlan<TCreate, TUpdate> {
  create: TCreate[];
  update: TUpdate[];
  delete: ObjectRef[];
  /** Names of desired objects that already are as desired. */
  unchanged: string[];
  /** Managed objects that are not desired but are kept, because their application is in conflict this time. */
  kept: KeptObject[];
}

export interface Plan {
  applications: ObjectPlan<DesiredApplication, ApplicationUpdate>;
  secrets: ObjectPlan<DesiredSecret, SecretUpdate>;
  conflicts: PlanConflict[];
}

const DEFAULT_MANAGED = { key: MANAGED_BY_LABEL, value: MANAGED_BY_VALUE };

export function plan(desired: DesiredState, actual: ActualState, options: PlanOptions = {}): Plan {
  const managed = options.managedLabel ?? DEFAULT_MANAGED;
  const isManaged = (labels: Record<string, string> | undefined): boolean => labels?.[managed.key] === managed.value;
  const conflicts: PlanConflict[] = [];
  const conflictNames = new Set(desired.conflicts.map((c) => c.name));

  // ---- Applications ----
  const apps: Plan["applications"] = { create: [], update: [], delete: [], unchanged: [], kept: [] };
  const actualApps = new Map<string, ActualApplication>();
  for (const app of actual.applications) {
    const name = app.metadata?.name;
    if (name !== undefined) actualApps.set(name, app);
  }
  const managedAppNames = new Set([...actualApps].filter(([, app]) => isManaged(app.metadata?.labels)).map(([name]) => name));
  /** Desired applications whose name a foreign object holds: neither they nor their Secrets are written. */
  const blockedApps = new Set<string>();
  const desiredAppNames = new Set<string>();

  for (const want of desired.applications) {
    const name = want.metadata.name;
    desiredAppNames.add(name);
    const have = actualApps.get(name);
    if (have === undefined) {
      apps.create.push(want);
      continue;
    }
    if (!managedAppNames.has(name)) {
      blockedApps.add(name);
      conflicts.push({
        kind: "Application",
        name,
        reason: `an Application ${name} exists that the agent does not manage (no ${managed.key}=${managed.value} label); it is left alone`,
      });
      continue;
    }
    const wantHash = want.metadata.annotations[DESIRED_HASH_ANNOTATION] ?? "";
    const haveHash =
      precomputed(have.contentHash, want.metadata.labels) ?? applicationContentHash(pickLabels(have.metadata?.labels, Object.keys(want.metadata.labels)), have.spec);
    if (haveHash === wantHash) {
      apps.unchanged.push(name);
      continue;
    }
    apps.update.push({ desired: want, actual: have, object: mergeApplication(have, want), reason: reasonFor(have.metadata?.annotations, wantHash, haveHash) });
  }
  for (const name of managedAppNames) {
    if (desiredAppNames.has(name)) continue;
    const have = actualApps.get(name);
    if (conflictNames.has(name)) {
      apps.kept.push({ name, reason: "its application is in conflict this time; kept until the conflict is resolved" });
      continue;
    }
    if (options.deferDeletions !== undefined) {
      apps.kept.push({ name, reason: options.deferDeletions });
      continue;
    }
    apps.delete.push(ref(have));
  }

  // ---- Secrets ----
  const secrets: Plan["secrets"] = { create: [], update: [], delete: [], unchanged: [], kept: [] };
  const actualSecrets = new Map<string, ActualSecret>();
  for (const secret of actual.secrets) {
    const name = secret.metadata?.name;
    if (name !== undefined) actualSecrets.set(secretKey(secret.metadata?.namespace, name), secret);
  }
  /** Managed: the label, or (Secrets written by the Go agent) labels app/bundleId and an owner reference to a managed Application. */
  const isManagedSecret = (secret: ActualSecret): boolean => {
    const labels = secret.metadata?.labels;
    if (isManaged(labels)) return true;
    const app = labels?.["app"];
    if (app === undefined || labels?.["bundleId"] === undefined || !managedAppNames.has(app)) return false;
    return (secret.metadata?.ownerReferences ?? []).some((owner) => owner.kind === APPLICATION_KIND && owner.name === app);
  };
  const desiredSecretKeys = new Set<string>();

  for (const want of desired.secrets) {
    const { name, namespace } = want.secret.metadata;
    const key = secretKey(namespace, name);
    desiredSecretKeys.add(key);
    if (blockedApps.has(want.ownerApplication)) {
      conflicts.push({
        kind: "Secret",
        name,
        namespace,
        reason: `its Application ${want.ownerApplication} is not managed by the agent; the Secret is not written`,
      });
      continue;
    }
    const have = actualSecrets.get(key);
    if (have === undefined) {
      secrets.create.push(want);
      continue;
    }
    if (!isManagedSecret(have)) {
      conflicts.push({
        kind: "Secret",
        name,
        namespace,
        reason: `a Secret ${namespace}/${name} exists that the agent does not manage; it is left alone`,
      });
      continue;
    }
    const wantHash = want.secret.metadata.annotations[DESIRED_HASH_ANNOTATION] ?? "";
    const haveHash =
      precomputed(have.contentHash, want.secret.metadata.labels) ??
      secretContentHash(pickLabels(have.metadata?.labels, Object.keys(want.secret.metadata.labels)), have.data);
    const owner = actualApps.get(want.ownerApplication);
    const ownerUid = owner?.metadata?.uid;
    const ownerOk =
      ownerUid !== undefined &&
      (have.metadata?.ownerReferences ?? []).some(
        (o) => o.kind === APPLICATION_KIND && o.name === want.ownerApplication && o.uid === ownerUid,
      );
    if (haveHash === wantHash && ownerOk) {
      secrets.unchanged.push(name);
      continue;
    }
    const reason = haveHash === wantHash ? "owner" : reasonFor(have.metadata?.annotations, wantHash, haveHash);
    secrets.update.push({ desired: want, actual: have, object: mergeSecret(have, want.secret), reason });
  }
  for (const [key, have] of actualSecrets) {
    if (desiredSecretKeys.has(key) || !isManagedSecret(have)) continue;
    const name = have.metadata?.name ?? "";
    const app = have.metadata?.labels?.["app"];
    if (app !== undefined && conflictNames.has(app)) {
      secrets.kept.push({ name, reason: `its application ${app} is in conflict this time; kept until the conflict is resolved` });
      continue;
    }
    if (options.deferDeletions !== undefined) {
      secrets.kept.push({ name, reason: options.deferDeletions });
      continue;
    }
    secrets.delete.push(ref(have));
  }

  return { applications: apps, secrets, conflicts };
}

/** The precomputed hash of an actual object, when it covers exactly the desired object's label keys. */
function precomputed(hash: ContentHash | undefined, wantLabels: Readonly<Record<string, string>>): string | undefined {
  return hash !== undefined && hash.labelKeys === labelKeysOf(wantLabels) ? hash.value : undefined;
}

function reasonFor(annotations: Record<string, string> | undefined, wantHash: string, haveHash: string): UpdateReason {
  const recorded = annotations?.[DESIRED_HASH_ANNOTATION];
  if (recorded === wantHash) return "edited";
  if (recorded === haveHash) return "changed";
  return "unrecorded";
}

function secretKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

function ref(object: { metadata?: { name?: string | undefined; namespace?: string | undefined; uid?: string | undefined; resourceVersion?: string | undefined } | undefined } | undefined): ObjectRef {
  const meta = object?.metadata;
  const result: ObjectRef = { name: meta?.name ?? "" };
  if (meta?.namespace !== undefined) result.namespace = meta.namespace;
  if (meta?.uid !== undefined) result.uid = meta.uid;
  if (meta?.resourceVersion !== undefined) result.resourceVersion = meta.resourceVersion;
  return result;
}

/**
 * What to PUT to bring `have` to `want`: the actual object (resourceVersion, status, foreign labels and annotations
 * kept) with the desired labels and annotations merged in and the desired spec.
 */
export function mergeApplication(have: ActualApplication, want: DesiredApplication): ActualApplication {
  const { contentHash: _hash, ...rest } = have;
  return {
    ...rest,
    apiVersion: want.apiVersion,
    kind: want.kind,
    metadata: {
      ...have.metadata,
      name: want.metadata.name,
      labels: { ...have.metadata?.labels, ...want.metadata.labels },
      annotations: { ...have.metadata?.annotations, ...want.metadata.annotations },
    },
    spec: want.spec,
  };
}

/** What to write to bring `have` to `want`: the actual Secret with the desired labels, annotations and data. */
export function mergeSecret(have: ActualSecret, want: SecretManifest): ActualSecret {
  const { contentHash: _hash, ...rest } = have;
  return {
    ...rest,
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      ...have.metadata,
      name: want.metadata.name,
      namespace: want.metadata.namespace,
      labels: { ...have.metadata?.labels, ...want.metadata.labels },
      annotations: { ...have.metadata?.annotations, ...want.metadata.annotations },
    },
    data: { ...want.data },
  };
}

/**
 * The Secret with its owner reference to the Application, as the Go agent wrote it (no controller or
 * blockOwnerDeletion flag): Kubernetes garbage-collects the Secret with its Application.
 */
export function withOwnerReference<T extends SecretManifest | ActualSecret>(secret: T, ownerApplication: string, ownerUid: string): T {
  const owner: OwnerReference = { apiVersion: APPLICATION_API_VERSION, kind: APPLICATION_KIND, name: ownerApplication, uid: ownerUid };
  const others = ((secret.metadata as { ownerReferences?: OwnerReference[] } | undefined)?.ownerReferences ?? []).filter(
    (o) => !(o.kind === APPLICATION_KIND && o.name === ownerApplication),
  );
  return { ...secret, metadata: { ...secret.metadata, ownerReferences: [...others, owner] } };
}
