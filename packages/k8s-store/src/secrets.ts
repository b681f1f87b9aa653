import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { ACCEPT_METADATA_LIST, type K8sClient } from "./client.js";
import { forEachListItem, listPageOf, pageQuery, type ManagementInfo, type WithResourceVersion } from "./compass-connection.js";
import { isK8sStoreError, K8sStoreError } from "./errors.js";
import { Informer, type InformerOptions } from "./informer.js";
import { FIELD_MANAGER, FINGERPRINT_ANNOTATION, isRecord, MANAGEMENT_INFO_ANNOTATION, PAIRED_TOKEN_ANNOTATION, interner, listedObjectMeta, parseObjectMeta, type ObjectMeta, type OwnerReference } from "./meta.js";
import { retryOnConflict, type ConflictRetryOptions } from "./retry.js";

/** A Secret as the store hands it out: `data` values decoded from base64 as UTF-8 text. */
export interface SecretObject {
  metadata: ObjectMeta & { namespace: string };
  type: string;
  data: Record<string, string>;
}

/** A core/v1 Secret as JSON. */
interface RawSecret {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [field: string]: unknown };
  type?: string;
  data?: Record<string, string>;
  [field: string]: unknown;
}

/** A Secret's metadata only (see SecretStore.listMetadata). */
export interface SecretMetadata {
  metadata: ObjectMeta & { namespace: string };
}

/** Where a Secret lives. */
export interface SecretRef {
  namespace: string;
  name: string;
}

/** The agent configuration Secret (`compass-agent-configuration`): a missing key reads as "". */
export interface AgentConfiguration {
  connectorUrl: string;
  token: string;
  runtimeId: string;
  tenant: string;
}

/** The cluster client-certificate Secret: `crt`, `key` (PKCS#1 PEM), `crtChain`. */
export interface ClientCertificateData {
  crt: string;
  key: string;
  crtChain: string;
}

/** The CA certificate Secret: `cacert`. */
export interface CaCertificateData {
  cacert: string;
}

export type Credentials = ClientCertificateData & CaCertificateData;

export interface CredentialLocations {
  clientCertificate: SecretRef;
  caCertificate: SecretRef;
}

/** Which part of the credentials is missing. */
export type MissingCredentialPart = "clientCertificateSecret" | "crt" | "key" | "caCertificateSecret" | "cacert";

/**
 * What `readCredentials` found. Repair guide for the agent:
 * - complete: use them.
 * - missing: no usable client certificate (or no CA) → get a new certificate (token flow, or renewal when the
 *   client certificate is still there).
 * - mismatched: both Secrets are readable but were not written together (a failure between the two writes, or a
 *   foreign edit) → renew with the client certificate in `credentials` and write both again.
 * - corrupt: the client certificate or key cannot be parsed, or they do not belong together → start over.
 * `detail` never contains key material.
 */
export type CredentialsReadResult =
  | { state: "complete"; credentials: Credentials; fingerprint: string; /** Written without fingerprint annotations (e.g. by the Go agent). */ legacy: boolean }
  | { state: "missing"; missing: MissingCredentialPart[]; partial: Partial<Credentials> }
  | { state: "mismatched"; credentials: Credentials; fingerprint: string; detail: string }
  | { state: "corrupt"; detail: string; partial: Partial<Credentials> };

export interface UpsertSecretOptions {
  /** Labels to set (merged over existing ones; others' labels are kept). */
  labels?: Record<string, string>;
  /** Annotations to set (merged; others' annotations are kept). */
  annotations?: Record<string, string>;
  /** Type when the Secret is created (default Opaque); an existing Secret keeps its type. */
  type?: string;
  /** Keys to remove. */
  removeKeys?: readonly string[];
  conflictRetry?: ConflictRetryOptions;
}

export interface UpsertResult {
  /** False when the Secret already held exactly this: no write was sent. */
  written: boolean;
  created: boolean;
  secret: SecretObject;
}

/** A Secret to create or patch. `data` values are plain text (the store base64-encodes them). */
export interface DesiredSecret {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  type?: string;
  data: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string): string => Buffer.from(s, "base64").toString("utf8");

/** Reads a Secret from a client-node model or raw API JSON. */
export function parseSecret(raw: unknown): SecretObject {
  const r = isRecord(raw) ? raw : {};
  const meta = parseObjectMeta(r["metadata"]);
  const data: Record<string, string> = {};
  if (isRecord(r["data"])) for (const [k, v] of Object.entries(r["data"])) if (typeof v === "string") data[k] = unb64(v);
  return { metadata: { ...meta, namespace: meta.namespace ?? "" }, type: typeof r["type"] === "string" ? r["type"] : "Opaque", data };
}

/** The agent configuration view: CONNECTOR_URL, TOKEN, RUNTIME_ID, TENANT; missing keys are "". */
export function agentConfigurationFromData(data: Readonly<Record<string, string>>): AgentConfiguration {
  return {
    connectorUrl: data["CONNECTOR_URL"] ?? "",
    token: data["TOKEN"] ?? "",
    runtimeId: data["RUNTIME_ID"] ?? "",
    tenant: data["TENANT"] ?? "",
  };
}

export function clientCertificateFromData(data: Readonly<Record<string, string>>): ClientCertificateData {
  return { crt: data["crt"] ?? "", key: data["key"] ?? "", crtChain: data["crtChain"] ?? "" };
}

export function caCertificateFromData(data: Readonly<Record<string, string>>): CaCertificateData {
  return { cacert: data["cacert"] ?? "" };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/;

/**
 * SHA-256 (hex) of the DER of the first certificate in `pem`, the usual certificate fingerprint. Text without a
 * PEM certificate block is hashed as it is, so the value is always defined.
 */
export function certificateFingerprint(pem: string): string {
  const m = PEM_CERT.exec(pem);
  const bytes = m?.[1] !== undefined ? Buffer.from(m[1].replace(/\s+/g, ""), "base64") : Buffer.from(pem, "utf8");
  return createHash("sha256").update(bytes).digest("hex");
}

/** Checks that `crt` is a certificate and `key` a private key that belongs to it; returns a problem or undefined. */
export function checkKeyPair(crt: string, key: string): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(crt);
  } catch {
    return "the client certificate (crt) is not a valid PEM certificate";
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    return "the client key (key) is not a valid PEM private key";
  }
  try {
    if (!cert.checkPrivateKey(privateKey)) return "the client key does not belong to the client certificate";
  } catch {
    return "the client key does not belong to the client certificate";
  }
  return undefined;
}

/**
 * Pure: classifies the two credential Secrets (undefined = not found). Exposed for tests and tools; the store's
 * `readCredentials` reads the Secrets and calls this.
 */
export function classifyCredentials(client: SecretObject | undefined, ca: SecretObject | undefined): CredentialsReadResult {
  const missing: MissingCredentialPart[] = [];
  const partial: Partial<Credentials> = {};
  const cc = client ? clientCertificateFromData(client.data) : undefined;
  const caData = ca ? caCertificateFromData(ca.data) : undefined;
  if (!client) missing.push("clientCertificateSecret");
  else {
    if (cc?.crt) partial.crt = cc.crt;
    else missing.push("crt");
    if (cc?.key) partial.key = cc.key;
    else missing.push("key");
    if (cc?.crtChain) partial.crtChain = cc.crtChain;
  }
  if (!ca) missing.push("caCertificateSecret");
  else if (caData?.cacert) partial.cacert = caData.cacert;
  else missing.push("cacert");

  if (cc?.crt && cc.key) {
    const problem = checkKeyPair(cc.crt, cc.key);
    if (problem !== undefined) return { state: "corrupt", detail: problem, partial };
  }
  if (missing.length > 0) return { state: "missing", missing, partial };

  const credentials: Credentials = { crt: cc?.crt ?? "", key: cc?.key ?? "", crtChain: cc?.crtChain || (cc?.crt ?? ""), cacert: caData?.cacert ?? "" };
  const fingerprint = certificateFingerprint(credentials.crt);
  const onClient = client?.metadata.annotations?.[FINGERPRINT_ANNOTATION];
  const onCa = ca?.metadata.annotations?.[FINGERPRINT_ANNOTATION];
  if (onClient === undefined && onCa === undefined) return { state: "complete", credentials, fingerprint, legacy: true };
  if (onClient !== fingerprint) {
    return { state: "mismatched", credentials, fingerprint, detail: "the client certificate Secret's fingerprint annotation does not match its certificate" };
  }
  if (onCa !== fingerprint) {
    return { state: "mismatched", credentials, fingerprint, detail: "the CA Secret was written for a different client certificate" };
  }
  return { state: "complete", credentials, fingerprint, legacy: false };
}

/** The body of a Secret create (data base64-encoded). */
export function secretBody(s: DesiredSecret): {
  apiVersion: "v1";
  kind: "Secret";
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: OwnerReference[] };
  type: string;
  data: Record<string, string>;
} {
  const metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: OwnerReference[] } = {
    name: s.name,
    namespace: s.namespace,
  };
  if (s.labels !== undefined) metadata.labels = s.labels;
  if (s.annotations !== undefined) metadata.annotations = s.annotations;
  if (s.ownerReferences !== undefined) metadata.ownerReferences = s.ownerReferences;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data)) data[k] = b64(v);
  return { apiVersion: "v1", kind: "Secret", metadata, type: s.type ?? "Opaque", data };
}

export interface SecretStoreOptions {
  conflictRetry?: ConflictRetryOptions;
}

/** Secrets: typed views, merge-upserts that keep others' metadata, paired credential writes, plain creates. */
export class SecretStore {
  constructor(
    private readonly client: K8sClient,
    private readonly options: SecretStoreOptions = {},
  ) {}

  private secretsPath(namespace: string, name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  private async readRaw(namespace: string, name: string): Promise<RawSecret | undefined> {
    try {
      return await this.client.json<RawSecret>("get", "secrets", `get secrets ${namespace}/${name}`, { method: "GET", path: this.secretsPath(namespace, name) });
    } catch (err) {
      if (isK8sStoreError(err, "K8S_NOT_FOUND")) return undefined;
      throw err;
    }
  }

  /** Reads a Secret; K8S_NOT_FOUND when absent. */
  async get(namespace: string, name: string): Promise<SecretObject> {
    const raw = await this.readRaw(namespace, name);
    if (raw === undefined) throw new K8sStoreError("K8S_NOT_FOUND", `get secrets ${namespace}/${name}: not found`, { statusCode: 404, reason: "NotFound" });
    return parseSecret(raw);
  }

  /** Reads a Secret; undefined when absent. */
  async find(namespace: string, name: string): Promise<SecretObject | undefined> {
    const raw = await this.readRaw(namespace, name);
    return raw === undefined ? undefined : parseSecret(raw);
  }

  /** Lists Secrets of a namespace (all pages), optionally by label and field selector (e.g. `metadata.name=x`). */
  async list(namespace: string, options: { labelSelector?: string; fieldSelector?: string; pageSize?: number } = {}): Promise<SecretObject[]> {
    const out: SecretObject[] = [];
    await forEachListItem(
      (cont) => this.listPage(namespace, pageQuery(options, cont)),
      (item) => out.push(parseSecret(item)),
    );
    return out;
  }

  private async listPage(
    namespace: string,
    q: { labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string },
    accept?: string,
  ): Promise<{ items: unknown[]; resourceVersion: string; continue?: string }> {
    const raw: unknown = await this.client.json("list", "secrets", `list secrets in ${namespace}`, {
      method: "GET",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
      query: { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector, limit: q.limit, continue: q.continue },
      ...(accept !== undefined ? { accept } : {}),
    });
    return listPageOf(raw);
  }

  /**
   * Lists the metadata of the Secrets of a namespace (all pages), without their data: names, uids,
   * resourceVersions, labels, annotations and owner references (managedFields are left out), at a fraction of the
   * cost of a full list.
   */
  async listMetadata(namespace: string, options: { labelSelector?: string; fieldSelector?: string; pageSize?: number } = {}): Promise<WithResourceVersion<SecretMetadata>> {
    const out: SecretMetadata[] = [];
    const intern = interner();
    const resourceVersion = await forEachListItem(
      (cont) => this.listPage(namespace, pageQuery(options, cont), ACCEPT_METADATA_LIST),
      (item) => {
        const meta = listedObjectMeta(item, intern);
        out.push({ metadata: { ...meta, namespace: meta.namespace ?? namespace } });
      },
    );
    return Object.assign(out, { resourceVersion });
  }

  /** The agent configuration Secret (CONNECTOR_URL, TOKEN, RUNTIME_ID, TENANT). K8S_NOT_FOUND when absent. */
  async readAgentConfiguration(ref: SecretRef): Promise<AgentConfiguration> {
    return agentConfigurationFromData((await this.get(ref.namespace, ref.name)).data);
  }

  /**
   * Sets `data` keys in a Secret, keeping every other key and the labels, annotations, type and owner references
   * others set: get → merge → update with the read resourceVersion (conflicts: re-read and merge again), or create
   * when absent. Sends nothing when the Secret already holds exactly this.
   */
  async upsertSecretKeys(namespace: string, name: string, data: Readonly<Record<string, string>>, options: UpsertSecretOptions = {}): Promise<UpsertResult> {
    return retryOnConflict(
      async () => {
        const existing = await this.readRaw(namespace, name);
        if (existing === undefined) {
          const body: RawSecret = {
            apiVersion: "v1",
            kind: "Secret",
            metadata: {
              name,
              namespace,
              ...(options.labels !== undefined ? { labels: { ...options.labels } } : {}),
              ...(options.annotations !== undefined ? { annotations: { ...options.annotations } } : {}),
            },
            type: options.type ?? "Opaque",
            data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
          };
          try {
            const created = await this.client.json("create", "secrets", `create secrets ${namespace}/${name}`, {
              method: "POST",
              path: this.secretsPath(namespace),
              query: { fieldManager: FIELD_MANAGER },
              body,
            });
            return { written: true, created: true, secret: parseSecret(created) };
          } catch (err) {
            // Someone created it between our read and create: merge into theirs.
            if (isK8sStoreError(err, "K8S_ALREADY_EXISTS")) throw new K8sStoreError("K8S_CONFLICT", err.message, { cause: err, statusCode: 409 });
            throw err;
          }
        }
        const next: RawSecret = { ...existing, metadata: { ...existing.metadata }, data: { ...(existing.data ?? {}) } };
        let changed = false;
        const nextData = next.data as Record<string, string>;
        for (const [k, v] of Object.entries(data)) {
          const enc = b64(v);
          if (nextData[k] !== enc) {
            nextData[k] = enc;
            changed = true;
          }
        }
        for (const k of options.removeKeys ?? []) {
          if (k in nextData) {
            delete nextData[k];
            changed = true;
          }
        }
        for (const [field, wanted] of [
          ["labels", options.labels],
          ["annotations", options.annotations],
        ] as const) {
          if (wanted === undefined) continue;
          const current = { ...(next.metadata?.[field] ?? {}) };
          for (const [k, v] of Object.entries(wanted)) {
            if (current[k] !== v) {
              current[k] = v;
              changed = true;
            }
          }
          if (next.metadata) next.metadata[field] = current;
        }
        if (!changed) return { written: false, created: false, secret: parseSecret(existing) };
        const updated = await this.client.json("update", "secrets", `update secrets ${namespace}/${name}`, {
          method: "PUT",
          path: this.secretsPath(namespace, name),
          query: { fieldManager: FIELD_MANAGER },
          body: next,
        });
        return { written: true, created: false, secret: parseSecret(updated) };
      },
      { ...this.options.conflictRetry, ...options.conflictRetry },
    );
  }

  /** Deletes a Secret; false when it did not exist. Preconditions make it delete only that exact object. */
  async delete(namespace: string, name: string, preconditions: { uid?: string; resourceVersion?: string } = {}): Promise<boolean> {
    const hasPre = preconditions.uid !== undefined || preconditions.resourceVersion !== undefined;
    try {
      await this.client.json("delete", "secrets", `delete secrets ${namespace}/${name}`, {
        method: "DELETE",
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
        ...(hasPre ? { body: { preconditions } } : {}),
      });
      return true;
    } catch (err) {
      if (isK8sStoreError(err, "K8S_NOT_FOUND")) return false;
      throw err;
    }
  }

  /**
   * Reads both credential Secrets and classifies them (see CredentialsReadResult). Only a failed read (other than
   * NotFound) throws.
   */
  async readCredentials(locations: CredentialLocations): Promise<CredentialsReadResult> {
    const [client, ca] = await Promise.all([
      this.find(locations.clientCertificate.namespace, locations.clientCertificate.name),
      this.find(locations.caCertificate.namespace, locations.caCertificate.name),
    ]);
    return classifyCredentials(client, ca);
  }

  /**
   * Writes the client certificate Secret (`crt`, `key`, `crtChain`) and then the CA Secret (`cacert`), both
   * merge-upserted and both annotated with the client certificate's fingerprint. If the second write fails,
   * `readCredentials` reports `mismatched` and the agent repairs on its next cycle. Returns the fingerprint.
   */
  async writeCredentials(locations: CredentialLocations, credentials: Credentials, record: CredentialRecord = {}): Promise<{ fingerprint: string }> {
    const fingerprint = certificateFingerprint(credentials.crt);
    const annotations = { [FINGERPRINT_ANNOTATION]: fingerprint };
    await this.upsertSecretKeys(
      locations.clientCertificate.namespace,
      locations.clientCertificate.name,
      { crt: credentials.crt, key: credentials.key, crtChain: credentials.crtChain },
      {
        annotations: {
          ...annotations,
          ...(record.managementInfo ? { [MANAGEMENT_INFO_ANNOTATION]: JSON.stringify(record.managementInfo) } : {}),
          ...(record.pairedTokenSha256 ? { [PAIRED_TOKEN_ANNOTATION]: record.pairedTokenSha256 } : {}),
        },
      },
    );
    await this.upsertSecretKeys(locations.caCertificate.namespace, locations.caCertificate.name, { cacert: credentials.cacert }, { annotations });
    return { fingerprint };
  }

  /** What was recorded with the client certificate (see CredentialRecord); empty when nothing valid is there. */
  async readCredentialRecord(clientCertificate: SecretRef): Promise<CredentialRecord> {
    const annotations = (await this.find(clientCertificate.namespace, clientCertificate.name))?.metadata.annotations ?? {};
    const managementInfo = parseManagementInfo(annotations[MANAGEMENT_INFO_ANNOTATION]);
    const pairedTokenSha256 = annotations[PAIRED_TOKEN_ANNOTATION];
    return {
      ...(managementInfo ? { managementInfo } : {}),
      ...(pairedTokenSha256 && /^[0-9a-f]{64}$/.test(pairedTokenSha256) ? { pairedTokenSha256 } : {}),
    };
  }

  private async createBody(body: ReturnType<typeof secretBody>): Promise<SecretObject> {
    const { namespace, name } = body.metadata;
    const res = await this.client.json("create", "secrets", `create secrets ${namespace}/${name}`, {
      method: "POST",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
      query: { fieldManager: FIELD_MANAGER },
      body,
    });
    return parseSecret(res);
  }

  /**
   * Creates a Secret (POST). K8S_ALREADY_EXISTS when the name is taken (nothing is taken over).
   */
  async create(secret: DesiredSecret): Promise<SecretObject> {
    return this.createBody(secretBody(secret));
  }

  /** A cache of the Secrets of one namespace (optionally filtered by labels), kept current by list+watch. */
  informer(namespace: string, options: InformerOptions = {}): Informer<SecretObject> {
    return new Informer(
      this.client,
      {
        resource: "secrets",
        watchPath: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
        list: (q) => this.listPage(namespace, q),
        parse: parseSecret,
      },
      options,
    );
  }
}

/**
 * Recorded with a client certificate in its Secret: the Compass URLs it is for (MANAGEMENT_INFO_ANNOTATION) and the
 * digest of the one-time token it was paired with (PAIRED_TOKEN_ANNOTATION; renewals leave it as it is).
 */
export interface CredentialRecord {
  managementInfo?: ManagementInfo;
  pairedTokenSha256?: string;
}

/** The annotation's JSON, or undefined when it is missing or not two https URLs (edited by hand). */
export function parseManagementInfo(text: string | undefined): ManagementInfo | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Record<keyof ManagementInfo, unknown>>;
    const https = (url: unknown): url is string => typeof url === "string" && URL.canParse(url) && new URL(url).protocol === "https:";
    return https(value.connectorUrl) && https(value.directorUrl) ? { connectorUrl: value.connectorUrl, directorUrl: value.directorUrl } : undefined;
  } catch {
    return undefined;
  }
}
