/**
 * All simulator state in one place (compass-contract.md §7.2). Connector and Director modules read and change it only
 * through this class, so semantics such as "a token is single use" or "regeneration replaces the token" live here.
 *
 * Times come from the injected clock. Tenants are referred to by their external id (the value of the Director's
 * `Tenant` header); each also has an internal id like in Compass.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Clock } from "./clock.js";
import { normalizeName } from "./normalize.js";
import { applicationJson, type ApplicationJson } from "./views.js";

/** `chart/compass/values.yaml` `global.defaultTenant`. */
export const DEFAULT_TENANT = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface Tenant {
  externalId: string;
  internalId: string;
  name?: string;
}

export type RuntimeCondition = "INITIAL" | "PROVISIONING" | "CONNECTED" | "FAILED";

export interface Runtime {
  id: string;
  /** External tenant id. */
  tenant: string;
  name: string;
  description?: string;
  /**
   * Stored labels, protected ones (`<appId>_defaultEventing`) included; `isNormalized: "true"` and `runtimeType` on
   * creation, `useBundles: "true"` once the runtime asked the Director about bundles. `scenarios` is never stored: it
   * is derived from `formations` (see `runtimeLabels`).
   */
  labels: Map<string, JsonValue>;
  status: { condition: RuntimeCondition; timestamp: Date };
  createdAt: Date;
  /** Names of the formations (scenarios) the runtime is assigned to. */
  formations: Set<string>;
}

export type SystemAuthReferenceType = "Runtime" | "Application" | "IntegrationSystem";
export type OneTimeTokenType = "Runtime" | "Application";

export interface OneTimeToken {
  /** 88 characters: URL-safe base64 of 64 random bytes. */
  token: string;
  type: OneTimeTokenType;
  createdAt: Date;
  expiresAt: Date;
  used: boolean;
  usedAt?: Date;
}

/** The identity behind every token and every Connector certificate: certificate CN = SystemAuth id. */
export interface SystemAuth {
  id: string;
  tenant: string;
  refType: SystemAuthReferenceType;
  refId: string;
  ott?: OneTimeToken;
  /** Set on the first certificate-authenticated call (then the pending token is cleared, as in Compass). */
  certCommonName?: string;
}

export interface IssuedCertificate {
  serialHex: string;
  commonName: string;
  /** Subject in encoding order, e.g. `O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=<id>`. */
  subject: string;
  /** Lowercase hex SHA-256 of the DER. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  pem: string;
  /** SystemAuth that requested it (undefined for certificates issued through the library helper). */
  systemAuthId?: string;
  issuedAt: Date;
}

// ---- Director-side data (filled by seeds and the Director module; typed now so state has one shape) ----

export interface BasicCredential {
  kind: "basic";
  username: string;
  password: string;
}
export interface OAuthCredential {
  kind: "oauth";
  clientId: string;
  clientSecret: string;
  url: string;
}
export interface CertificateOAuthCredential {
  kind: "certificateOAuth";
  clientId: string;
  certificate: string;
  url: string;
}
export type Credential = BasicCredential | OAuthCredential | CertificateOAuthCredential;

export interface Auth {
  credential?: Credential;
  accessStrategy?: string;
  additionalHeaders?: Record<string, string[]>;
  additionalQueryParams?: Record<string, string[]>;
  requestAuth?: {
    csrf?: {
      tokenEndpointURL: string;
      credential?: Credential;
      additionalHeaders?: Record<string, string[]>;
      additionalQueryParams?: Record<string, string[]>;
    };
  };
}

export interface Version {
  value: string;
  deprecated?: boolean;
  deprecatedSince?: string;
  forRemoval?: boolean;
}

export interface ApiDefinition {
  id: string;
  name: string;
  description?: string;
  targetURL: string;
  group?: string;
  version?: Version;
  spec?: { id: string; data?: string; type: "ODATA" | "OPEN_API"; format: "YAML" | "JSON" | "XML" };
  createdAt: Date;
}

export interface EventDefinition {
  id: string;
  name: string;
  description?: string;
  group?: string;
  version?: Version;
  spec?: { id: string; data?: string; type: "ASYNC_API"; format: "YAML" | "JSON" | "XML" };
  createdAt: Date;
}

export interface DocumentDefinition {
  id: string;
  title: string;
  displayName: string;
  description: string;
  format: "MARKDOWN";
  kind?: string;
  data?: string;
}

export interface Bundle {
  id: string;
  applicationId: string;
  name: string;
  description?: string;
  /** A JSON schema, stored as its JSON text (the `JSONSchema` scalar is stringified JSON). */
  instanceAuthRequestInputSchema?: string;
  defaultInstanceAuth?: Auth;
  /** Sorted by id (Compass pages them ORDER BY id). */
  apiDefinitions: ApiDefinition[];
  /** Sorted by id. */
  eventDefinitions: EventDefinition[];
  documents: DocumentDefinition[];
  createdAt: Date;
}

export type ApplicationCondition = "INITIAL" | "CONNECTED" | "FAILED";

export interface Application {
  id: string;
  tenant: string;
  name: string;
  systemNumber?: string;
  providerName?: string;
  description?: string;
  baseUrl?: string;
  applicationTemplateId?: string;
  /** Includes `scenarios: string[]` for formation membership. */
  labels: Map<string, JsonValue>;
  status: { condition: ApplicationCondition; timestamp: Date };
  createdAt: Date;
  updatedAt: Date;
  /** Sorted by id (Compass pages them ORDER BY id). */
  bundles: Bundle[];
  /** Ids of the application's SystemAuths (`Application.auths[].id`). */
  systemAuthIds: string[];
}

export type BundleInstanceAuthCondition = "PENDING" | "SUCCEEDED" | "FAILED" | "UNUSED";

export interface BundleInstanceAuth {
  id: string;
  bundleId: string;
  runtimeId: string;
  auth?: Auth;
  status: { condition: BundleInstanceAuthCondition; timestamp: Date; message: string; reason: string };
  /** Stringified JSON. */
  context?: string;
  /** Stringified JSON. */
  inputParams?: string;
}

export interface Formation {
  name: string;
  tenant: string;
}

// ---- Observability and fault injection ----

export type ListenerName = "token" | "mtls" | "admin";

export interface RequestLogEntry {
  time: Date;
  listener: ListenerName;
  method: string;
  path: string;
  /** `connector` or `director` for GraphQL endpoints. */
  api?: "connector" | "director";
  /** Root fields of the executed operation (e.g. `configuration`, `signCertificateSigningRequest`). */
  operations: string[];
  identity?: { systemAuthId: string; via: "token" | "certificate" };
  /** Lowercase hex SHA-256 of the presented client certificate (mTLS listener). */
  certificateFingerprint?: string;
  status: number;
  errors: string[];
  /** The fault rule applied to the request, e.g. `fault-1: status 503`. */
  fault?: string;
}

/**
 * A fault injected in front of the Connector or the Director (compass-contract.md §7.10), applied by the HTTP layer
 * before authentication, like a misbehaving gateway. Rules are consumed in the order they were added: a request takes
 * the first rule whose target (and operation, when set) matches and that has calls left.
 */
export interface FaultRule {
  id: string;
  target: "connector" | "director";
  /** Operation name (`operationName` of the request) or root field name to match; undefined matches every call. */
  operation?: string;
  /** Wait this long, then apply the other action of the rule, or answer normally when it has none. */
  delayMs?: number;
  /** Answer this status with a plain-text body, Envoy style (429 answers like `rateLimit`). */
  status?: number;
  /** Close the connection without an answer. */
  reset?: boolean;
  /** Answer `200 {}`. */
  emptyJson?: boolean;
  /** Answer 429 `local_rate_limited` with `x-local-rate-limit: true` and `Retry-After`. */
  rateLimit?: boolean;
  /** `Retry-After` seconds of a rate-limit answer (default 1). */
  retryAfter?: number;
  /** Calls the rule applies to. */
  times: number;
  /** Calls left. */
  remaining: number;
}

export type FaultRuleInput = Omit<FaultRule, "id" | "remaining" | "times"> & { times?: number };

export interface StateConfig {
  /** Lifetime of runtime one-time tokens, seconds (Compass: 60 min). */
  runtimeTokenTtlSeconds: number;
  /** Lifetime of application one-time tokens, seconds (Compass: 5 min). */
  applicationTokenTtlSeconds: number;
  /** Request log entries kept (oldest dropped first). */
  requestLogLimit: number;
}

export const DEFAULT_STATE_CONFIG: StateConfig = Object.freeze({
  runtimeTokenTtlSeconds: 3600,
  applicationTokenTtlSeconds: 300,
  requestLogLimit: 1000,
});

export class StateError extends Error {
  override readonly name = "StateError";
  constructor(
    message: string,
    /** `InvalidOperation`: Compass's code 27 (e.g. unregistering an application that is still in a formation). */
    readonly code: "NotFound" | "InvalidInput" | "Conflict" | "InvalidOperation",
  ) {
    super(message);
  }
}

export interface CreateRuntimeInput {
  name: string;
  tenant?: string;
  id?: string;
  description?: string;
  /** `scenarios` here is read as formations (Compass derives the label from formation assignments). */
  labels?: Record<string, JsonValue>;
  formations?: string[];
  status?: RuntimeCondition;
  /**
   * The immutable `runtimeType` label a provisioner sets at registration. Default `"kyma"`; `null` registers the
   * runtime without one. A `runtimeType` in `labels` wins.
   */
  runtimeType?: string | null;
}

/** The `runtimeType` label of runtimes the simulator creates (what Kyma's provisioner sets). */
export const DEFAULT_RUNTIME_TYPE = "kyma";

/** Why a token did not authenticate (for logs and admin state; Compass answers the same message for all). */
export type TokenRejection = "unknown" | "used" | "expired";

/** 64 random bytes, URL-safe base64 with padding: 88 characters ending in `==` (Compass `generator.go`). */
export function generateOneTimeToken(): string {
  return randomBytes(64).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The formation names in an application's `scenarios` label. */
export function scenariosOf(labels: ReadonlyMap<string, JsonValue>): string[] {
  const value = labels.get("scenarios");
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

const compareIds = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A runtime's labels as Compass shows them: the stored ones plus `scenarios` (its formations; absent when none). */
export function runtimeLabels(runtime: Runtime): Map<string, JsonValue> {
  const labels = new Map(runtime.labels);
  labels.delete("scenarios");
  if (runtime.formations.size > 0) labels.set("scenarios", [...runtime.formations]);
  return labels;
}

/**
 * The labels the Director adds to every application it registers: `name` (the normalized name, always rewritten)
 * and `managed: "false"` (unless given). `applicationType` is NOT added: the registrant sets it (or Compass copies the
 * application template's name); formation templates such as Kyma's only accept applications whose type they list.
 */
export function applyRegistrationLabels(application: Pick<Application, "name" | "labels">): void {
  if (!application.labels.has("managed")) application.labels.set("managed", "false");
  application.labels.set("name", normalizeName(application.name));
}

/** Compass's code 27 text for unregistering an application that is still in formations. */
export function partOfFormationsMessage(application: Pick<Application, "name">, formations: readonly string[]): string {
  return `The operation is not allowed [reason=System ${application.name} is part of the following formations : ${formations.join(", ")}]`;
}

export class CompassState {
  readonly config: StateConfig;
  /** By external id. */
  readonly tenants = new Map<string, Tenant>();
  readonly runtimes = new Map<string, Runtime>();
  readonly systemAuths = new Map<string, SystemAuth>();
  readonly applications = new Map<string, Application>();
  readonly bundleInstanceAuths = new Map<string, BundleInstanceAuth>();
  /** Key: `<tenant>/<name>`. */
  readonly formations = new Map<string, Formation>();
  /** `applicationHideSelectors`: label key → values that hide an application from runtimes. */
  readonly hideSelectors = new Map<string, string[]>();
  readonly issuedCertificates: IssuedCertificate[] = [];
  readonly revokedFingerprints = new Set<string>();
  readonly requestLog: RequestLogEntry[] = [];
  readonly faultRules: FaultRule[] = [];
  /** token value → SystemAuth id, for the current (latest) token of each SystemAuth. */
  readonly #tokenIndex = new Map<string, string>();
  /** All applications ordered by id (Compass: ORDER BY id), rebuilt lazily after inserts and deletions. */
  #sortedApplications: Application[] | undefined;
  /** bundle id → application id. */
  readonly #bundleOwners = new Map<string, string>();
  #faultCounter = 0;

  constructor(
    readonly clock: Clock,
    config: Partial<StateConfig> = {},
  ) {
    this.config = { ...DEFAULT_STATE_CONFIG, ...config };
    this.ensureTenant(DEFAULT_TENANT);
  }

  now(): Date {
    return this.clock.now();
  }

  // ---- tenants ----

  ensureTenant(externalId: string, internalId?: string, name?: string): Tenant {
    const existing = this.tenants.get(externalId);
    if (existing) return existing;
    const tenant: Tenant = { externalId, internalId: internalId ?? randomUUID(), ...(name ? { name } : {}) };
    this.tenants.set(externalId, tenant);
    return tenant;
  }

  // ---- runtimes ----

  createRuntime(input: CreateRuntimeInput): Runtime {
    if (typeof input.name !== "string" || input.name.trim() === "") {
      throw new StateError("runtime name must be a non-empty string", "InvalidInput");
    }
    const id = input.id ?? randomUUID();
    if (!UUID_PATTERN.test(id)) throw new StateError(`runtime id must be a UUID, got "${id}"`, "InvalidInput");
    if (this.runtimes.has(id)) throw new StateError(`runtime ${id} already exists`, "Conflict");
    const tenant = this.ensureTenant(input.tenant ?? DEFAULT_TENANT).externalId;
    const now = this.now();
    const labels = new Map<string, JsonValue>([["isNormalized", "true"]]);
    const runtimeType = input.runtimeType === undefined ? DEFAULT_RUNTIME_TYPE : input.runtimeType;
    if (runtimeType !== null) labels.set("runtimeType", runtimeType);
    const formations = new Set(input.formations ?? []);
    for (const [key, value] of Object.entries(input.labels ?? {})) {
      if (key === "scenarios") {
        if (Array.isArray(value)) for (const f of value) if (typeof f === "string" && f !== "") formations.add(f);
        continue;
      }
      labels.set(key, value);
    }
    const runtime: Runtime = {
      id,
      tenant,
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      labels,
      status: { condition: input.status ?? "INITIAL", timestamp: now },
      createdAt: now,
      formations,
    };
    for (const formation of runtime.formations) this.ensureFormation(tenant, formation);
    this.runtimes.set(id, runtime);
    return runtime;
  }

  getRuntime(id: string): Runtime {
    const runtime = this.runtimes.get(id);
    if (!runtime) throw new StateError(`runtime ${id} not found`, "NotFound");
    return runtime;
  }

  ensureFormation(tenant: string, name: string): Formation {
    const key = `${tenant}/${name}`;
    let formation = this.formations.get(key);
    if (!formation) {
      formation = { name, tenant };
      this.formations.set(key, formation);
    }
    return formation;
  }

  // ---- applications and formations ----

  /** Registers a built application (see applications.ts) with the instance auths of its bundles. */
  addApplication(application: Application, instanceAuths: readonly BundleInstanceAuth[] = []): void {
    if (this.applications.has(application.id)) {
      throw new StateError(`application ${application.id} already exists`, "Conflict");
    }
    for (const bundle of application.bundles) {
      const owner = this.#bundleOwners.get(bundle.id);
      if (owner !== undefined) throw new StateError(`bundle ${bundle.id} already belongs to application ${owner}`, "Conflict");
    }
    this.ensureTenant(application.tenant);
    applyRegistrationLabels(application);
    this.applications.set(application.id, application);
    for (const bundle of application.bundles) this.#bundleOwners.set(bundle.id, application.id);
    for (const auth of instanceAuths) this.bundleInstanceAuths.set(auth.id, auth);
    for (const formation of scenariosOf(application.labels)) this.ensureFormation(application.tenant, formation);
    this.#sortedApplications = undefined;
  }

  /** Application id that owns the bundle, if any. */
  bundleOwner(bundleId: string): string | undefined {
    return this.#bundleOwners.get(bundleId);
  }

  /** Replaces an application's bundles and the instance auths that belonged to the old ones. */
  replaceBundles(application: Application, bundles: Bundle[], instanceAuths: readonly BundleInstanceAuth[]): void {
    this.#dropBundles(application);
    application.bundles = bundles;
    for (const bundle of bundles) this.#bundleOwners.set(bundle.id, application.id);
    for (const auth of instanceAuths) this.bundleInstanceAuths.set(auth.id, auth);
  }

  #dropBundles(application: Application): void {
    const ids = new Set(application.bundles.map((bundle) => bundle.id));
    for (const id of ids) this.#bundleOwners.delete(id);
    for (const [id, auth] of this.bundleInstanceAuths) if (ids.has(auth.bundleId)) this.bundleInstanceAuths.delete(id);
  }

  /**
   * Unregisters an application with its bundles, instance auths and SystemAuths. Like Compass, an application that is
   * still in a formation is refused (code 27 InvalidOperation): unassign it first (`unassignFormation`), or pass
   * `{ unassign: true }` to do both in one step.
   */
  deleteApplication(id: string, options: { unassign?: boolean } = {}): Application {
    const application = this.applications.get(id.toLowerCase());
    if (!application) throw new StateError(`application ${id} not found`, "NotFound");
    const formations = scenariosOf(application.labels);
    if (formations.length > 0) {
      if (!options.unassign) throw new StateError(partOfFormationsMessage(application, formations), "InvalidOperation");
      application.labels.delete("scenarios");
    }
    this.#dropBundles(application);
    for (const systemAuthId of application.systemAuthIds) this.systemAuths.delete(systemAuthId);
    this.applications.delete(application.id);
    for (const runtime of this.runtimes.values()) runtime.labels.delete(`${application.id}_defaultEventing`);
    this.#sortedApplications = undefined;
    return application;
  }

  /** Every application, ordered by id. */
  sortedApplications(): readonly Application[] {
    if (this.#sortedApplications === undefined || this.#sortedApplications.length !== this.applications.size) {
      this.#sortedApplications = [...this.applications.values()].sort(compareIds);
    }
    return this.#sortedApplications;
  }

  /**
   * `applicationsForRuntime` visibility: applications of the runtime's tenant whose `scenarios` label names a
   * formation of the runtime, minus those matching a hide selector; ordered by id.
   */
  applicationsVisibleTo(runtime: Runtime): Application[] {
    if (runtime.formations.size === 0) return [];
    const selectors = [...this.hideSelectors];
    return this.sortedApplications().filter((application) => {
      if (application.tenant !== runtime.tenant) return false;
      if (!scenariosOf(application.labels).some((scenario) => runtime.formations.has(scenario))) return false;
      return !selectors.some(([key, values]) => {
        const value = application.labels.get(key);
        if (typeof value === "string") return values.includes(value);
        return Array.isArray(value) && value.some((v) => typeof v === "string" && values.includes(v));
      });
    });
  }

  /** Assigns a runtime or an application to a formation (created when missing, in the object's tenant). */
  assignFormation(formation: string, target: { runtimeId: string } | { applicationId: string }): Formation {
    if (typeof formation !== "string" || formation === "") throw new StateError("formation must be a non-empty string", "InvalidInput");
    if ("runtimeId" in target) {
      const runtime = this.getRuntime(target.runtimeId);
      runtime.formations.add(formation);
      return this.ensureFormation(runtime.tenant, formation);
    }
    const application = this.applications.get(target.applicationId.toLowerCase());
    if (!application) throw new StateError(`application ${target.applicationId} not found`, "NotFound");
    const scenarios = scenariosOf(application.labels);
    if (!scenarios.includes(formation)) application.labels.set("scenarios", [...scenarios, formation]);
    return this.ensureFormation(application.tenant, formation);
  }

  /** Removes a runtime or an application from a formation (the formation itself stays). */
  unassignFormation(formation: string, target: { runtimeId: string } | { applicationId: string }): void {
    if ("runtimeId" in target) {
      this.getRuntime(target.runtimeId).formations.delete(formation);
      return;
    }
    const application = this.applications.get(target.applicationId.toLowerCase());
    if (!application) throw new StateError(`application ${target.applicationId} not found`, "NotFound");
    const remaining = scenariosOf(application.labels).filter((scenario) => scenario !== formation);
    // Compass deletes the label with the last formation.
    if (remaining.length > 0) application.labels.set("scenarios", remaining);
    else application.labels.delete("scenarios");
  }

  /** Director status update: the first certificate-authenticated call of a runtime sets it CONNECTED. */
  markRuntimeConnected(runtime: Runtime): void {
    if (runtime.status.condition !== "CONNECTED") runtime.status = { condition: "CONNECTED", timestamp: this.now() };
  }

  // ---- fault rules ----

  addFaultRule(input: FaultRuleInput): FaultRule {
    const times = input.times ?? 1;
    const rule: FaultRule = { ...input, id: `fault-${++this.#faultCounter}`, times, remaining: times };
    this.faultRules.push(rule);
    return rule;
  }

  /**
   * Consumes one call of the first rule for `target` that matches (`names`: the request's operation name and root
   * fields, computed only when a rule names an operation). Returns a copy of the rule as it applied, or undefined.
   */
  takeFault(target: FaultRule["target"], names: () => readonly string[]): FaultRule | undefined {
    let known: readonly string[] | undefined;
    const index = this.faultRules.findIndex((rule) => {
      if (rule.target !== target || rule.remaining <= 0) return false;
      if (rule.operation === undefined) return true;
      known ??= names();
      return known.includes(rule.operation);
    });
    if (index < 0) return undefined;
    const rule = this.faultRules[index]!;
    rule.remaining--;
    if (rule.remaining <= 0) this.faultRules.splice(index, 1);
    return { ...rule };
  }

  /** Removes every fault rule; returns how many there were. */
  clearFaults(): number {
    const count = this.faultRules.length;
    this.faultRules.length = 0;
    return count;
  }

  // ---- SystemAuths and one-time tokens ----

  createSystemAuth(refType: SystemAuthReferenceType, refId: string, tenant: string, id: string = randomUUID()): SystemAuth {
    if (this.systemAuths.has(id)) throw new StateError(`SystemAuth ${id} already exists`, "Conflict");
    const systemAuth: SystemAuth = { id, tenant, refType, refId };
    this.systemAuths.set(id, systemAuth);
    return systemAuth;
  }

  getSystemAuth(id: string): SystemAuth | undefined {
    return this.systemAuths.get(id);
  }

  /**
   * Director `requestOneTimeTokenForRuntime(id, systemAuthID?)`: without `systemAuthId` a new SystemAuth is created
   * for the runtime; with it, the token of that SystemAuth is regenerated.
   */
  issueRuntimeToken(runtimeId: string, systemAuthId?: string): SystemAuth {
    const runtime = this.getRuntime(runtimeId);
    let systemAuth: SystemAuth;
    if (systemAuthId !== undefined) {
      const existing = this.systemAuths.get(systemAuthId);
      if (!existing || existing.refType !== "Runtime" || existing.refId !== runtimeId) {
        throw new StateError(`SystemAuth ${systemAuthId} of runtime ${runtimeId} not found`, "NotFound");
      }
      systemAuth = existing;
    } else {
      systemAuth = this.createSystemAuth("Runtime", runtime.id, runtime.tenant);
    }
    this.regenerateToken(systemAuth.id);
    return systemAuth;
  }

  /** New token value on the SystemAuth; the previous value (used or not) stops matching. */
  regenerateToken(systemAuthId: string): OneTimeToken {
    const systemAuth = this.systemAuths.get(systemAuthId);
    if (!systemAuth) throw new StateError(`SystemAuth ${systemAuthId} not found`, "NotFound");
    if (systemAuth.ott) this.#tokenIndex.delete(systemAuth.ott.token);
    const type: OneTimeTokenType = systemAuth.refType === "Application" ? "Application" : "Runtime";
    const ttl = type === "Application" ? this.config.applicationTokenTtlSeconds : this.config.runtimeTokenTtlSeconds;
    const createdAt = this.now();
    const ott: OneTimeToken = {
      token: generateOneTimeToken(),
      type,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + ttl * 1000),
      used: false,
    };
    systemAuth.ott = ott;
    this.#tokenIndex.set(ott.token, systemAuth.id);
    return ott;
  }

  /** Why `token` would not authenticate now, or undefined when it would. Does not change state. */
  checkToken(token: string): { systemAuth: SystemAuth } | { rejection: TokenRejection } {
    const systemAuthId = this.#tokenIndex.get(token);
    const systemAuth = systemAuthId === undefined ? undefined : this.systemAuths.get(systemAuthId);
    const ott = systemAuth?.ott;
    if (!systemAuth || !ott || ott.token !== token) return { rejection: "unknown" };
    if (ott.used) return { rejection: "used" };
    if (this.now().getTime() > ott.expiresAt.getTime()) return { rejection: "expired" };
    return { systemAuth };
  }

  /**
   * The hydrator's token resolver: a valid (known, unused, unexpired) token is marked used immediately — before the
   * Connector operation runs, so it is burned even if that operation then fails.
   */
  consumeToken(token: string): { systemAuth: SystemAuth } | { rejection: TokenRejection } {
    const result = this.checkToken(token);
    if ("systemAuth" in result && result.systemAuth.ott) {
      result.systemAuth.ott.used = true;
      result.systemAuth.ott.usedAt = this.now();
    }
    return result;
  }

  /** Tenant mapping on a certificate call: remember the CN; on the first one, clear the pending token. */
  noteCertificateLogin(systemAuth: SystemAuth, commonName: string): void {
    if (systemAuth.certCommonName === undefined && systemAuth.ott) {
      this.#tokenIndex.delete(systemAuth.ott.token);
      delete systemAuth.ott;
    }
    systemAuth.certCommonName = commonName;
  }

  // ---- certificates ----

  recordIssuedCertificate(certificate: IssuedCertificate): void {
    this.issuedCertificates.push(certificate);
  }

  isRevoked(fingerprint: string): boolean {
    return this.revokedFingerprints.has(fingerprint.toLowerCase());
  }

  /** Adds the fingerprint to the revocation list (idempotent). Returns true when it was not revoked before. */
  revokeFingerprint(fingerprint: string): boolean {
    const normalized = normalizeFingerprint(fingerprint);
    if (normalized === undefined) throw new StateError(`invalid SHA-256 fingerprint "${fingerprint}"`, "InvalidInput");
    const added = !this.revokedFingerprints.has(normalized);
    this.revokedFingerprints.add(normalized);
    return added;
  }

  /** Revokes every issued certificate with this CN; returns how many certificates that is. */
  revokeCommonName(commonName: string): number {
    const matching = this.issuedCertificates.filter((certificate) => certificate.commonName === commonName);
    for (const certificate of matching) this.revokedFingerprints.add(certificate.fingerprint);
    return new Set(matching.map((certificate) => certificate.fingerprint)).size;
  }

  // ---- request log ----

  logRequest(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    const excess = this.requestLog.length - this.config.requestLogLimit;
    if (excess > 0) this.requestLog.splice(0, excess);
  }

  // ---- snapshot for the admin API ----

  snapshot(): StateSnapshot {
    const now = this.now();
    const iso = (date: Date | undefined) => date?.toISOString();
    return {
      now: now.toISOString(),
      tenants: [...this.tenants.values()].map((tenant) => ({ ...tenant })),
      runtimes: [...this.runtimes.values()].map((runtime) => ({
        id: runtime.id,
        tenant: runtime.tenant,
        name: runtime.name,
        ...(runtime.description !== undefined ? { description: runtime.description } : {}),
        labels: Object.fromEntries(runtimeLabels(runtime)),
        status: { condition: runtime.status.condition, timestamp: runtime.status.timestamp.toISOString() },
        createdAt: runtime.createdAt.toISOString(),
        formations: [...runtime.formations],
      })),
      systemAuths: [...this.systemAuths.values()].map((systemAuth) => ({
        id: systemAuth.id,
        tenant: systemAuth.tenant,
        refType: systemAuth.refType,
        refId: systemAuth.refId,
        ...(systemAuth.certCommonName !== undefined ? { certCommonName: systemAuth.certCommonName } : {}),
        ...(systemAuth.ott
          ? {
              oneTimeToken: {
                token: systemAuth.ott.token,
                type: systemAuth.ott.type,
                createdAt: systemAuth.ott.createdAt.toISOString(),
                expiresAt: systemAuth.ott.expiresAt.toISOString(),
                used: systemAuth.ott.used,
                ...(systemAuth.ott.usedAt ? { usedAt: iso(systemAuth.ott.usedAt) } : {}),
                expired: now.getTime() > systemAuth.ott.expiresAt.getTime(),
              },
            }
          : {}),
      })),
      issuedCertificates: this.issuedCertificates.map((certificate) => ({
        serial: certificate.serialHex,
        commonName: certificate.commonName,
        subject: certificate.subject,
        fingerprint: certificate.fingerprint,
        notBefore: certificate.notBefore.toISOString(),
        notAfter: certificate.notAfter.toISOString(),
        issuedAt: certificate.issuedAt.toISOString(),
        revoked: this.revokedFingerprints.has(certificate.fingerprint),
        expired: now.getTime() > certificate.notAfter.getTime(),
      })),
      revokedFingerprints: [...this.revokedFingerprints],
      formations: [...this.formations.values()].map((formation) => ({ ...formation })),
      applications: this.sortedApplications().map(applicationJson),
      hideSelectors: Object.fromEntries(this.hideSelectors),
      requestLog: this.requestLog.map((entry) => ({
        ...entry,
        time: entry.time.toISOString(),
      })),
      faultRules: this.faultRules.map((rule) => ({ ...rule })),
    };
  }
}

/** Accepts `ab12…` or openssl's `AB:12:…`; returns 64 lowercase hex characters or undefined. */
export function normalizeFingerprint(input: string): string | undefined {
  const hex = input.replace(/:/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

export interface StateSnapshot {
  now: string;
  tenants: Tenant[];
  runtimes: Array<{
    id: string;
    tenant: string;
    name: string;
    description?: string;
    labels: Record<string, JsonValue>;
    status: { condition: RuntimeCondition; timestamp: string };
    createdAt: string;
    formations: string[];
  }>;
  systemAuths: Array<{
    id: string;
    tenant: string;
    refType: SystemAuthReferenceType;
    refId: string;
    certCommonName?: string;
    oneTimeToken?: {
      token: string;
      type: OneTimeTokenType;
      createdAt: string;
      expiresAt: string;
      used: boolean;
      usedAt?: string;
      expired: boolean;
    };
  }>;
  issuedCertificates: Array<{
    serial: string;
    commonName: string;
    subject: string;
    fingerprint: string;
    notBefore: string;
    notAfter: string;
    issuedAt: string;
    revoked: boolean;
    expired: boolean;
  }>;
  revokedFingerprints: string[];
  formations: Formation[];
  applications: ApplicationJson[];
  hideSelectors: Record<string, string[]>;
  requestLog: Array<Omit<RequestLogEntry, "time"> & { time: string }>;
  faultRules: FaultRule[];
}
