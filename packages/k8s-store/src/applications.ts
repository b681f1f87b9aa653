import { ACCEPT_METADATA_LIST, type K8sClient } from "./client.js";
import { forEachListItem, listCustomObjectPage, pageQuery, stripServerMeta, type WithResourceVersion } from "./compass-connection.js";
import { isK8sStoreError, K8sStoreError } from "./errors.js";
import { Informer, type InformerOptions } from "./informer.js";
import { watchMetadata, type MetadataWatch, type MetadataWatchHandlers } from "./metadata-watch.js";
import { FIELD_MANAGER, interner, isRecord, listedObjectMeta, MANAGED_BY_LABEL, MANAGED_BY_VALUE, parseObjectMeta, type ObjectMeta, type OwnerReference } from "./meta.js";
import { parseSecret, secretBody } from "./secrets.js";
import type { DesiredSecret, SecretMetadata, SecretObject, SecretStore } from "./secrets.js";

export const APPLICATION_GROUP = "applicationconnector.kyma-project.io";
export const APPLICATION_VERSION = "v1alpha1";
export const APPLICATION_PLURAL = "applications";
export const APPLICATION_KIND = "Application";
export const APPLICATION_API_VERSION = `${APPLICATION_GROUP}/${APPLICATION_VERSION}`;
/** Default namespace of the Applications' credential and request-parameter Secrets (APP_INTEGRATION_NAMESPACE). */
export const DEFAULT_INTEGRATION_NAMESPACE = "kyma-system";
/**
 * Label selector of app Secrets: both this agent and Kyma's Go agent label every credential and request-parameter
 * Secret `app=<Application>` and `bundleId=<bundle>`. Many Kyma components label their own Secrets `app` too, so
 * `app` alone would select them; `bundleId` is the agents' own.
 */
export const APP_SECRET_SELECTOR = "app,bundleId";

export interface ApplicationCredentials {
  /** The agent writes "OAuth", "Basic" or "". */
  type: string;
  secretName: string;
  authenticationUrl?: string;
  csrfInfo?: { tokenEndpointURL: string };
}

export interface ApplicationEntry {
  type: "API" | "Events";
  apiType?: string;
  gatewayUrl?: string;
  centralGatewayUrl?: string;
  accessLabel?: string;
  targetUrl?: string;
  id?: string;
  name?: string;
  requestParametersSecretName?: string;
  specificationUrl?: string;
  credentials?: ApplicationCredentials;
}

export interface ApplicationService {
  id: string;
  name: string;
  identifier?: string;
  labels?: Record<string, string> | null;
  displayName: string;
  description: string;
  longDescription?: string;
  providerDisplayName: string;
  authCreateParameterSchema?: string;
  entries: ApplicationEntry[];
  tags?: string[];
}

export interface ApplicationSpec {
  compassMetadata?: { applicationId?: string; authentication: { clientIds: string[] } };
  accessLabel?: string;
  description?: string;
  skipInstallation?: boolean;
  skipVerify?: boolean;
  encodeUrl?: boolean;
  labels?: Record<string, string> | null;
  tenant?: string;
  group?: string;
  tags?: string[] | null;
  displayName?: string;
  providerDisplayName?: string;
  longDescription?: string;
  services?: ApplicationService[];
}

export interface ApplicationStatus {
  installationStatus: { status: string; description?: string };
}

export interface Application {
  apiVersion: typeof APPLICATION_API_VERSION;
  kind: typeof APPLICATION_KIND;
  metadata: ObjectMeta;
  spec: ApplicationSpec;
  status?: ApplicationStatus;
}

/** An Application the agent wants: metadata is name plus optional labels/annotations. */
export interface DesiredApplication {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: ApplicationSpec;
}

/** A credential or request-parameter Secret of an Application; `owner` names the Application (uid filled in). */
export interface DesiredAppSecret extends Omit<DesiredSecret, "namespace" | "ownerReferences"> {
  /** Default: the store's integration namespace (kyma-system). */
  namespace?: string;
  /** Name of the owning Application; the store adds the owner reference with its uid. */
  owner?: string;
  /** The owner's uid when the caller knows it (e.g. from the create answer): no lookup is made. */
  ownerUid?: string;
}

/** Reads an Application from API JSON (validated by the CRD schema); keeps spec and metadata as they are. */
export function parseApplication(raw: unknown): Application {
  if (!isRecord(raw)) throw new K8sStoreError("K8S_UNEXPECTED", "Application: the API server returned a non-object");
  const rawMeta = isRecord(raw["metadata"]) ? raw["metadata"] : {};
  const out: Application = {
    apiVersion: APPLICATION_API_VERSION,
    kind: APPLICATION_KIND,
    metadata: { ...rawMeta, ...parseObjectMeta(rawMeta) },
    spec: (isRecord(raw["spec"]) ? raw["spec"] : {}) as ApplicationSpec,
  };
  if (isRecord(raw["status"])) out.status = raw["status"] as unknown as ApplicationStatus;
  return out;
}

export interface ApplicationStoreOptions {
  /** Labels that mark agent-managed objects; listing filters by them and applies add them. Default managed-by=compass-runtime-agent. */
  managedLabels?: Readonly<Record<string, string>>;
  /** Namespace of app Secrets, default kyma-system. */
  integrationNamespace?: string;
  /** How long a looked-up Application uid is reused for owner references, default 60 s. */
  ownerUidTtlMs?: number;
}

/** A label selector `k1=v1,k2=v2` for a label map. */
export function selectorFor(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** Whether an object carries all of `labels`. */
export function hasLabels(obj: { metadata: { labels?: Record<string, string> } }, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(labels).every(([k, v]) => obj.metadata.labels?.[k] === v);
}

/**
 * Applications (cluster-scoped CRs) and their Secrets. Listing returns only agent-managed objects (label
 * selector); writes are plain creates (POST), updates conditional on the resourceVersion read, JSON merge patches
 * of app Secrets conditional on uid and resourceVersion, and deletes with preconditions (field manager
 * compass-runtime-agent), so a foreign object of the same name is never taken over. Deciding what to write (what
 * changed) is the caller's business: the agent's plan (app-sync) compares content hashes.
 */
export class ApplicationStore {
  readonly managedLabels: Readonly<Record<string, string>>;
  readonly managedSelector: string;
  readonly integrationNamespace: string;
  /**
   * Application uids by name, for owner references. Kept to what the latest listing holds (plus what was read or
   * written since it started), so it neither grows with every Application ever seen nor hands out the uid of one
   * deleted and re-created under the same name. `seq` orders entries against listings.
   */
  private readonly uidCache = new Map<string, { uid: string; until: number; seq: number }>();
  private uidSeq = 0;

  constructor(
    private readonly client: K8sClient,
    private readonly secrets: SecretStore,
    private readonly options: ApplicationStoreOptions = {},
  ) {
    this.managedLabels = options.managedLabels ?? { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
    this.managedSelector = selectorFor(this.managedLabels);
    this.integrationNamespace = options.integrationNamespace ?? "kyma-system";
  }

  private path(name?: string): string {
    const base = `/apis/${APPLICATION_GROUP}/${APPLICATION_VERSION}/${APPLICATION_PLURAL}`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** Whether the object carries the managed labels. */
  isManaged(obj: { metadata: { labels?: Record<string, string> } }): boolean {
    return hasLabels(obj, this.managedLabels);
  }

  private remember<A extends { metadata: ObjectMeta }>(app: A): A {
    if (app.metadata.uid !== undefined) {
      this.uidCache.set(app.metadata.name, { uid: app.metadata.uid, until: Date.now() + (this.options.ownerUidTtlMs ?? 60_000), seq: ++this.uidSeq });
    }
    return app;
  }

  /**
   * Runs a complete listing whose items are remembered, then forgets the uids of Applications it did not hold.
   * Entries remembered while it ran (a write meanwhile) are kept: the listing may have been taken before them.
   * A listing with a narrower selector also drops the others: a dropped uid only costs one lookup later.
   */
  private async listRemembering<A extends { metadata: ObjectMeta }>(list: (add: (app: A) => void) => Promise<string>): Promise<WithResourceVersion<A>> {
    const started = this.uidSeq;
    const out: A[] = [];
    const resourceVersion = await list((app) => out.push(this.remember(app)));
    const listed = new Set(out.map((a) => a.metadata.name));
    for (const [name, entry] of this.uidCache) if (entry.seq <= started && !listed.has(name)) this.uidCache.delete(name);
    return Object.assign(out, { resourceVersion });
  }

  /** Lists Applications (all pages) matching `labelSelector`, by default the managed ones only. */
  async listManaged(options: { labelSelector?: string; pageSize?: number } = {}): Promise<Application[]> {
    return this.listRemembering((add) => forEachListItem((cont) => this.listPage(options, cont), (item) => add(parseApplication(item))));
  }

  /**
   * Lists the metadata of Applications (all pages) matching `labelSelector` (default: the managed ones), without
   * spec and status: names, uids, resourceVersions, labels, annotations (managedFields are left out), at a fraction
   * of the cost of a full list.
   */
  async listMetadata(options: { labelSelector?: string; pageSize?: number } = {}): Promise<WithResourceVersion<{ metadata: ObjectMeta }>> {
    const intern = interner();
    return this.listRemembering((add) =>
      forEachListItem(
        (cont) => this.listPage(options, cont, ACCEPT_METADATA_LIST),
        (item) => add({ metadata: listedObjectMeta(item, intern) }),
      ),
    );
  }

  /**
   * Every change of the Applications matching `labelSelector` (default: the managed ones) after `resourceVersion`
   * (a listMetadata's), metadata only; see watchMetadata.
   */
  watchMetadata(resourceVersion: string, handlers: MetadataWatchHandlers, options: { labelSelector?: string } = {}): MetadataWatch {
    const path = `/apis/${APPLICATION_GROUP}/${APPLICATION_VERSION}/${APPLICATION_PLURAL}`;
    return watchMetadata(this.client, APPLICATION_PLURAL, path, { resourceVersion, labelSelector: options.labelSelector ?? this.managedSelector }, handlers);
  }

  /** One page of Applications matching `labelSelector` (default: the managed ones), after `cont`. */
  private listPage(options: { labelSelector?: string; pageSize?: number }, cont: string | undefined, accept?: string) {
    const q = pageQuery({ ...options, labelSelector: options.labelSelector ?? this.managedSelector }, cont);
    return listCustomObjectPage(this.client, APPLICATION_GROUP, APPLICATION_VERSION, APPLICATION_PLURAL, q, accept);
  }

  /** Reads any Application by name (managed or not); K8S_NOT_FOUND when absent. */
  async get(name: string): Promise<Application> {
    const raw: unknown = await this.client.json("get", APPLICATION_PLURAL, `get ${APPLICATION_PLURAL} ${name}`, { method: "GET", path: this.path(name) });
    return this.remember(parseApplication(raw));
  }

  /** Reads any Application by name; undefined when absent. */
  async find(name: string): Promise<Application | undefined> {
    try {
      return await this.get(name);
    } catch (err) {
      if (isK8sStoreError(err, "K8S_NOT_FOUND")) return undefined;
      throw err;
    }
  }

  /** Creates an Application as given (managed labels added). K8S_ALREADY_EXISTS when the name is taken. */
  async create(app: DesiredApplication | Application): Promise<Application> {
    const body = {
      apiVersion: APPLICATION_API_VERSION,
      kind: APPLICATION_KIND,
      metadata: { ...stripServerMeta(app.metadata), name: app.metadata.name, labels: { ...(app.metadata.labels ?? {}), ...this.managedLabels } },
      spec: app.spec,
    };
    const raw: unknown = await this.client.json("create", APPLICATION_PLURAL, `create ${APPLICATION_PLURAL} ${app.metadata.name}`, {
      method: "POST",
      path: this.path(),
      query: { fieldManager: FIELD_MANAGER },
      body,
    });
    return this.remember(parseApplication(raw));
  }

  /** Replaces an Application read before (needs metadata.resourceVersion; K8S_CONFLICT when it changed). */
  async update(app: Application): Promise<Application> {
    const name = app.metadata.name;
    if (app.metadata.resourceVersion === undefined || app.metadata.resourceVersion === "") {
      throw new K8sStoreError("K8S_INVALID", `update ${APPLICATION_PLURAL} ${name}: metadata.resourceVersion is required (read the object first)`);
    }
    const raw: unknown = await this.client.json("update", APPLICATION_PLURAL, `update ${APPLICATION_PLURAL} ${name}`, {
      method: "PUT",
      path: this.path(name),
      query: { fieldManager: FIELD_MANAGER },
      body: { ...app, apiVersion: APPLICATION_API_VERSION, kind: APPLICATION_KIND },
    });
    return this.remember(parseApplication(raw));
  }

  /** Deletes an Application; false when absent. With `uid`, only that exact object (K8S_CONFLICT otherwise). */
  async delete(name: string, preconditions: { uid?: string; resourceVersion?: string } = {}): Promise<boolean> {
    const hasPre = preconditions.uid !== undefined || preconditions.resourceVersion !== undefined;
    this.uidCache.delete(name);
    try {
      await this.client.json("delete", APPLICATION_PLURAL, `delete ${APPLICATION_PLURAL} ${name}`, {
        method: "DELETE",
        path: this.path(name),
        query: { propagationPolicy: "Background" },
        ...(hasPre ? { body: { preconditions } } : {}),
      });
      return true;
    } catch (err) {
      if (isK8sStoreError(err, "K8S_NOT_FOUND")) return false;
      throw err;
    }
  }

  /** The uid of an Application, for owner references (cached for ownerUidTtlMs; K8S_NOT_FOUND when absent). */
  async resolveUid(name: string): Promise<string> {
    const cached = this.uidCache.get(name);
    if (cached !== undefined && cached.until > Date.now()) return cached.uid;
    const app = await this.get(name);
    if (app.metadata.uid === undefined) throw new K8sStoreError("K8S_UNEXPECTED", `get ${APPLICATION_PLURAL} ${name}: no uid in the answer`);
    return app.metadata.uid;
  }

  /** The owner reference of an app Secret to its Application (the shape the Go agent writes). */
  async ownerReference(name: string): Promise<OwnerReference> {
    return { apiVersion: APPLICATION_API_VERSION, kind: APPLICATION_KIND, name, uid: await this.resolveUid(name) };
  }

  private async toDesiredSecret(s: DesiredAppSecret): Promise<DesiredSecret> {
    const { owner, ownerUid, namespace, ...rest } = s;
    const out: DesiredSecret = { ...rest, namespace: namespace ?? this.integrationNamespace, labels: { ...(s.labels ?? {}), ...this.managedLabels } };
    if (owner !== undefined) {
      out.ownerReferences = [
        ownerUid !== undefined && ownerUid !== "" ? { apiVersion: APPLICATION_API_VERSION, kind: APPLICATION_KIND, name: owner, uid: ownerUid } : await this.ownerReference(owner),
      ];
    }
    return out;
  }

  /**
   * Whether a Secret is one of the agent's app Secrets: labelled `app` and `bundleId` (APP_SECRET_SELECTOR), and
   * either carrying the managed labels (written by this agent) or, as Kyma's Go agent writes them (no managed
   * label), named `<...>-<bundleId>` with an owner reference to the Application its `app` label names — so that
   * the agent adopts the Go agent's Secrets. Another component's Secret labelled `app` is none of these.
   */
  isManagedSecret(secret: { metadata: Pick<ObjectMeta, "name" | "labels" | "ownerReferences"> }): boolean {
    const app = secret.metadata.labels?.["app"];
    const bundleId = secret.metadata.labels?.["bundleId"];
    if (app === undefined || app === "" || bundleId === undefined || bundleId === "") return false;
    if (this.isManaged(secret)) return true;
    return (
      secret.metadata.name.endsWith(`-${bundleId}`) &&
      (secret.metadata.ownerReferences ?? []).some((o) => o.kind === APPLICATION_KIND && o.apiVersion.startsWith(`${APPLICATION_GROUP}/`) && o.name === app)
    );
  }

  /**
   * Lists the agent's app Secrets (see isManagedSecret) of a namespace, by default the integration namespace;
   * `fieldSelector` narrows it further (e.g. `metadata.name=x`). Selected by APP_SECRET_SELECTOR on the server,
   * then filtered: other Secrets labelled `app` are neither listed nor read.
   */
  async listManagedSecrets(namespace: string = this.integrationNamespace, options: { fieldSelector?: string; pageSize?: number } = {}): Promise<SecretObject[]> {
    return (await this.secrets.list(namespace, { ...options, labelSelector: APP_SECRET_SELECTOR })).filter((s) => this.isManagedSecret(s));
  }

  /** listManagedSecrets without data: names, uids, resourceVersions, labels, annotations, owner references. */
  async listManagedSecretMetadata(namespace: string = this.integrationNamespace, options: { pageSize?: number } = {}): Promise<WithResourceVersion<SecretMetadata>> {
    const listed = await this.secrets.listMetadata(namespace, { ...options, labelSelector: APP_SECRET_SELECTOR });
    return Object.assign(
      listed.filter((s) => this.isManagedSecret(s)),
      { resourceVersion: listed.resourceVersion },
    );
  }

  /**
   * Every change of the Secrets APP_SECRET_SELECTOR selects in `namespace` after `resourceVersion` (a
   * listManagedSecretMetadata's), metadata only; isManagedSecret tells which are the agents'. See watchMetadata.
   */
  watchSecretMetadata(namespace: string, resourceVersion: string, handlers: MetadataWatchHandlers): MetadataWatch {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
    return watchMetadata(this.client, "secrets", path, { resourceVersion, labelSelector: APP_SECRET_SELECTOR }, handlers);
  }

  /**
   * Creates one app Secret (POST; managed labels and the owner reference added: with `ownerUid`, or else the uid
   * looked up by `resolveUid`). K8S_ALREADY_EXISTS when the name is taken: nothing is taken over.
   */
  async createSecret(secret: DesiredAppSecret): Promise<SecretObject> {
    return this.secrets.create(await this.toDesiredSecret(secret));
  }

  /**
   * Brings an existing app Secret to `secret` with one JSON merge patch (verb patch; no read): the wanted
   * labels and annotations set (those of others kept), `data` replaced (every key of `current.dataKeys` that is not
   * wanted is removed, also one another field manager wrote), and the owner reference to `owner` set, replacing a
   * stale one (other owner references kept). The same fields as createSecret; unlike a server-side apply it also
   * removes what was written with a create or by someone else, so the Secret ends up exactly as wanted.
   * Conditional on `current.uid` and `current.resourceVersion` (both required: K8S_INVALID without them, nothing
   * sent): a Secret changed, or deleted and re-created by someone else, since it was read is a K8S_CONFLICT and
   * stays as it is — the caller reads and decides again.
   */
  async patchSecret(
    secret: DesiredAppSecret,
    current: { uid: string | undefined; resourceVersion: string | undefined; ownerReferences?: readonly OwnerReference[] | undefined; dataKeys: readonly string[] },
  ): Promise<SecretObject> {
    const namespace = secret.namespace ?? this.integrationNamespace;
    const name = secret.name;
    const { uid, resourceVersion } = current;
    if (uid === undefined || uid === "" || resourceVersion === undefined || resourceVersion === "") {
      throw new K8sStoreError("K8S_INVALID", `patch secrets ${namespace}/${name}: the uid and resourceVersion it was read with are required (read the Secret first)`);
    }
    const body = secretBody(await this.toDesiredSecret(secret));
    const owners = body.metadata.ownerReferences ?? [];
    const others = (current.ownerReferences ?? []).filter((o) => !owners.some((mine) => o.kind === mine.kind && o.name === mine.name));
    const data: Record<string, string | null> = { ...body.data };
    for (const key of current.dataKeys) if (!(key in body.data)) data[key] = null;
    const patch = {
      metadata: {
        // In a patch these are preconditions: the API server answers 409 Conflict when the object differs.
        uid,
        resourceVersion,
        labels: body.metadata.labels ?? {},
        annotations: body.metadata.annotations ?? {},
        ...(owners.length > 0 || others.length !== (current.ownerReferences ?? []).length ? { ownerReferences: [...others, ...owners] } : {}),
      },
      data,
    };
    const raw: unknown = await this.client.json("patch", "secrets", `patch secrets ${namespace}/${name}`, {
      method: "PATCH",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      query: { fieldManager: FIELD_MANAGER },
      body: patch,
      contentType: "application/merge-patch+json",
    });
    return parseSecret(raw);
  }

  /**
   * Deletes an app Secret (integration namespace by default); false when absent. With `uid`/`resourceVersion`,
   * only the object as it was read (K8S_CONFLICT when it changed or was replaced meanwhile).
   */
  async deleteSecret(name: string, namespace: string = this.integrationNamespace, preconditions: { uid?: string | undefined; resourceVersion?: string | undefined } = {}): Promise<boolean> {
    return this.secrets.delete(namespace, name, preconditions);
  }

  /** A cache of Applications (by default only managed ones), kept current by list+watch. Not started. */
  informer(options: InformerOptions = {}): Informer<Application> {
    return new Informer(
      this.client,
      {
        resource: APPLICATION_PLURAL,
        watchPath: `/apis/${APPLICATION_GROUP}/${APPLICATION_VERSION}/${APPLICATION_PLURAL}`,
        list: (q) => listCustomObjectPage(this.client, APPLICATION_GROUP, APPLICATION_VERSION, APPLICATION_PLURAL, q),
        parse: parseApplication,
      },
      { labelSelector: this.managedSelector, ...options },
    );
  }
}
