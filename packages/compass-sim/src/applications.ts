/**
 * Applications as the admin API and seed files describe them: JSON input → checked, typed input → state objects.
 *
 * Input (every id optional, a random UUID when absent; explicit ids make tests deterministic):
 * ```json
 * {"id"?, "name", "description"?, "providerName"?, "systemNumber"?, "baseUrl"?, "tenant"?, "labels"?, "formations"?,
 *  "status"?, "auths"?: [{"id"?}],
 *  "bundles"?: [{"id"?, "name", "description"?, "instanceAuthRequestInputSchema"? (object or JSON text),
 *    "apiDefinitions"?: [{"id"?, "name", "description"?, "targetURL", "group"?, "version"?, "spec"?}],
 *    "eventDefinitions"?: [{"id"?, "name", "description"?, "group"?, "version"?, "spec"?}],
 *    "defaultInstanceAuth"?: {"credential"?, "additionalHeaders"?, "additionalQueryParams"?, "requestAuth"?: {"csrf": {…}}},
 *    "instanceAuths"?: [{"id"?, "runtimeId", "auth"?, "status"?}]}]}
 * ```
 * A credential is `{username, password}`, `{clientId, clientSecret, url}` or `{clientId, certificate, url}` (or
 * Compass's input form `{basic: …}` / `{oauth: …}` / `{certificateOAuth: …}`). Headers and query parameters are
 * `{name: [values]}` (a single string is taken as one value).
 */
import { randomUUID } from "node:crypto";
import {
  DEFAULT_TENANT,
  StateError,
  type ApiDefinition,
  type Application,
  type ApplicationCondition,
  type Auth,
  type Bundle,
  type BundleInstanceAuth,
  type BundleInstanceAuthCondition,
  type CompassState,
  type Credential,
  type EventDefinition,
  type JsonValue,
  type Version,
  applyRegistrationLabels,
  scenariosOf,
} from "./state.js";

/** Bad input; the message starts with the JSON path of the offending value. */
export class InputError extends Error {
  override readonly name = "InputError";
}

type SpecFormat = "YAML" | "JSON" | "XML";

export interface ApiDefinitionInput {
  id?: string;
  name: string;
  description?: string;
  targetURL: string;
  group?: string;
  version?: Version;
  spec?: { data?: string; type: "ODATA" | "OPEN_API"; format: SpecFormat };
}

export interface EventDefinitionInput {
  id?: string;
  name: string;
  description?: string;
  group?: string;
  version?: Version;
  spec?: { data?: string; type: "ASYNC_API"; format: SpecFormat };
}

export interface BundleInstanceAuthInput {
  id?: string;
  runtimeId: string;
  auth?: Auth;
  status?: BundleInstanceAuthCondition;
}

export interface BundleInput {
  id?: string;
  name: string;
  description?: string;
  /** JSON text. */
  instanceAuthRequestInputSchema?: string;
  defaultInstanceAuth?: Auth;
  apiDefinitions?: ApiDefinitionInput[];
  eventDefinitions?: EventDefinitionInput[];
  instanceAuths?: BundleInstanceAuthInput[];
}

export interface ApplicationInput {
  id?: string;
  name: string;
  tenant?: string;
  description?: string;
  providerName?: string;
  systemNumber?: string;
  baseUrl?: string;
  applicationTemplateId?: string;
  labels?: Record<string, JsonValue>;
  /** Added to the `scenarios` label. */
  formations?: string[];
  status?: ApplicationCondition;
  bundles?: BundleInput[];
  /** SystemAuths of the application (`Application.auths`). */
  auths?: Array<{ id?: string }>;
}

/** PATCH: every field optional; a field that is present replaces the stored one (`bundles` the whole list). */
export type ApplicationPatch = Partial<Omit<ApplicationInput, "id" | "tenant">>;

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const APPLICATION_CONDITIONS = new Set<ApplicationCondition>(["INITIAL", "CONNECTED", "FAILED"]);
const INSTANCE_AUTH_CONDITIONS = new Set<BundleInstanceAuthCondition>(["PENDING", "SUCCEEDED", "FAILED", "UNUSED"]);
const SPEC_FORMATS = new Set(["YAML", "JSON", "XML"]);

// ---- JSON readers ----

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function object(value: unknown, path: string): Obj {
  if (!isObject(value)) throw new InputError(`${path} must be an object`);
  return value;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new InputError(`${path} must be an array`);
  return value;
}

function optString(obj: Obj, key: string, path: string, allowEmpty = true): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || (!allowEmpty && value === "")) {
    throw new InputError(`${path}.${key} must be a ${allowEmpty ? "" : "non-empty "}string`);
  }
  return value;
}

function reqString(obj: Obj, key: string, path: string): string {
  const value = optString(obj, key, path, false);
  if (value === undefined) throw new InputError(`${path}.${key} is required`);
  return value;
}

function optId(obj: Obj, key: string, path: string): string | undefined {
  const value = optString(obj, key, path, false);
  if (value === undefined) return undefined;
  if (!UUID_PATTERN.test(value)) throw new InputError(`${path}.${key} must be a UUID, got "${value}"`);
  return value.toLowerCase();
}

function optBoolean(obj: Obj, key: string, path: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw new InputError(`${path}.${key} must be a boolean`);
  return value;
}

function stringList(value: unknown, path: string): string[] {
  const list = array(value, path);
  list.forEach((item, i) => {
    if (typeof item !== "string" || item === "") throw new InputError(`${path}[${i}] must be a non-empty string`);
  });
  return list as string[];
}

/** `{name: [values]}`; a single string counts as one value. */
function multiMap(value: unknown, path: string): Record<string, string[]> | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = object(value, path);
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(obj)) {
    if (typeof values === "string") out[name] = [values];
    else if (Array.isArray(values) && values.every((v) => typeof v === "string")) out[name] = [...(values as string[])];
    else throw new InputError(`${path}.${name} must be a string or an array of strings`);
  }
  return out;
}

function jsonLabels(value: unknown, path: string): Record<string, JsonValue> {
  const obj = object(value, path);
  if ("scenarios" in obj) stringList(obj["scenarios"], `${path}.scenarios`);
  return obj as Record<string, JsonValue>;
}

/** A version as Compass stores it: `deprecated` and `forRemoval` default to false (the columns are NOT NULL-ish). */
function version(value: unknown, path: string): Version | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return { value, deprecated: false, forRemoval: false };
  const obj = object(value, path);
  const deprecatedSince = optString(obj, "deprecatedSince", path);
  return {
    value: reqString(obj, "value", path),
    deprecated: optBoolean(obj, "deprecated", path) ?? false,
    ...(deprecatedSince !== undefined ? { deprecatedSince } : {}),
    forRemoval: optBoolean(obj, "forRemoval", path) ?? false,
  };
}

/**
 * JSON text the way PostgreSQL's `jsonb` prints it: `", "` and `": "` separators, object keys ordered by length, then
 * bytes (duplicate keys: the last one wins). Compass stores `instanceAuthRequestInputSchema` there.
 */
export function postgresJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(postgresJson).join(", ")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort((a, b) => {
      const la = Buffer.byteLength(a);
      const lb = Buffer.byteLength(b);
      if (la !== lb) return la - lb;
      return Buffer.compare(Buffer.from(a), Buffer.from(b));
    });
    return `{${keys.map((key) => `${JSON.stringify(key)}: ${postgresJson(value[key])}`).join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function spec<T extends string>(value: unknown, path: string, types: readonly T[], defaultType: T) {
  if (value === undefined || value === null) return undefined;
  const obj = object(value, path);
  const type = (optString(obj, "type", path) ?? defaultType) as T;
  if (!types.includes(type)) throw new InputError(`${path}.type must be one of ${types.join(", ")}`);
  const format = optString(obj, "format", path) ?? "YAML";
  if (!SPEC_FORMATS.has(format)) throw new InputError(`${path}.format must be one of YAML, JSON, XML`);
  const data = optString(obj, "data", path);
  return { type, format: format as SpecFormat, ...(data !== undefined ? { data } : {}) };
}

export function parseCredential(value: unknown, path: string): Credential | undefined {
  if (value === undefined || value === null) return undefined;
  let obj = object(value, path);
  for (const wrapper of ["basic", "oauth", "certificateOAuth"]) {
    if (isObject(obj[wrapper])) {
      path = `${path}.${wrapper}`;
      obj = obj[wrapper] as Obj;
      break;
    }
  }
  if ("username" in obj || "password" in obj) {
    return { kind: "basic", username: reqString(obj, "username", path), password: reqString(obj, "password", path) };
  }
  if ("certificate" in obj) {
    return {
      kind: "certificateOAuth",
      clientId: reqString(obj, "clientId", path),
      certificate: reqString(obj, "certificate", path),
      url: reqString(obj, "url", path),
    };
  }
  if ("clientId" in obj || "clientSecret" in obj) {
    return {
      kind: "oauth",
      clientId: reqString(obj, "clientId", path),
      clientSecret: reqString(obj, "clientSecret", path),
      url: reqString(obj, "url", path),
    };
  }
  throw new InputError(
    `${path} must be {username, password}, {clientId, clientSecret, url} or {clientId, certificate, url}`,
  );
}

export function parseAuth(value: unknown, path: string): Auth | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = object(value, path);
  const auth: Auth = {};
  const credential = parseCredential(obj["credential"], `${path}.credential`);
  if (credential) auth.credential = credential;
  const accessStrategy = optString(obj, "accessStrategy", path);
  if (accessStrategy !== undefined) auth.accessStrategy = accessStrategy;
  const headers = multiMap(obj["additionalHeaders"], `${path}.additionalHeaders`);
  if (headers) auth.additionalHeaders = headers;
  const params = multiMap(obj["additionalQueryParams"], `${path}.additionalQueryParams`);
  if (params) auth.additionalQueryParams = params;
  const requestAuth = obj["requestAuth"];
  if (requestAuth !== undefined && requestAuth !== null) {
    const at = `${path}.requestAuth`;
    const csrfValue = object(requestAuth, at)["csrf"];
    if (csrfValue !== undefined && csrfValue !== null) {
      const csrfPath = `${at}.csrf`;
      const csrf = object(csrfValue, csrfPath);
      const csrfCredential = parseCredential(csrf["credential"], `${csrfPath}.credential`);
      const csrfHeaders = multiMap(csrf["additionalHeaders"], `${csrfPath}.additionalHeaders`);
      const csrfParams = multiMap(csrf["additionalQueryParams"], `${csrfPath}.additionalQueryParams`);
      auth.requestAuth = {
        csrf: {
          tokenEndpointURL: reqString(csrf, "tokenEndpointURL", csrfPath),
          ...(csrfCredential ? { credential: csrfCredential } : {}),
          ...(csrfHeaders ? { additionalHeaders: csrfHeaders } : {}),
          ...(csrfParams ? { additionalQueryParams: csrfParams } : {}),
        },
      };
    } else {
      auth.requestAuth = {};
    }
  }
  return auth;
}

function parseApi(value: unknown, path: string): ApiDefinitionInput {
  const obj = object(value, path);
  const id = optId(obj, "id", path);
  const description = optString(obj, "description", path);
  const group = optString(obj, "group", path);
  const v = version(obj["version"], `${path}.version`);
  const s = spec(obj["spec"], `${path}.spec`, ["ODATA", "OPEN_API"] as const, "OPEN_API");
  return {
    ...(id !== undefined ? { id } : {}),
    name: reqString(obj, "name", path),
    ...(description !== undefined ? { description } : {}),
    targetURL: reqString(obj, "targetURL", path),
    ...(group !== undefined ? { group } : {}),
    ...(v ? { version: v } : {}),
    ...(s ? { spec: s } : {}),
  };
}

function parseEvent(value: unknown, path: string): EventDefinitionInput {
  const obj = object(value, path);
  const id = optId(obj, "id", path);
  const description = optString(obj, "description", path);
  const group = optString(obj, "group", path);
  const v = version(obj["version"], `${path}.version`);
  const s = spec(obj["spec"], `${path}.spec`, ["ASYNC_API"] as const, "ASYNC_API");
  return {
    ...(id !== undefined ? { id } : {}),
    name: reqString(obj, "name", path),
    ...(description !== undefined ? { description } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(v ? { version: v } : {}),
    ...(s ? { spec: s } : {}),
  };
}

function parseInstanceAuth(value: unknown, path: string): BundleInstanceAuthInput {
  const obj = object(value, path);
  const id = optId(obj, "id", path);
  const runtimeId = optId(obj, "runtimeId", path);
  if (runtimeId === undefined) throw new InputError(`${path}.runtimeId is required`);
  const auth = parseAuth(obj["auth"], `${path}.auth`);
  const status = optString(obj, "status", path);
  if (status !== undefined && !INSTANCE_AUTH_CONDITIONS.has(status as BundleInstanceAuthCondition)) {
    throw new InputError(`${path}.status must be one of ${[...INSTANCE_AUTH_CONDITIONS].join(", ")}`);
  }
  return {
    ...(id !== undefined ? { id } : {}),
    runtimeId,
    ...(auth ? { auth } : {}),
    ...(status !== undefined ? { status: status as BundleInstanceAuthCondition } : {}),
  };
}

function parseBundle(value: unknown, path: string): BundleInput {
  const obj = object(value, path);
  const id = optId(obj, "id", path);
  const description = optString(obj, "description", path);
  let schema: string | undefined;
  const rawSchema = obj["instanceAuthRequestInputSchema"];
  if (typeof rawSchema === "string") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawSchema);
    } catch {
      throw new InputError(`${path}.instanceAuthRequestInputSchema must be a JSON schema (object) or its JSON text`);
    }
    schema = postgresJson(parsed);
  } else if (rawSchema !== undefined && rawSchema !== null) {
    schema = postgresJson(rawSchema);
  }
  const auth = parseAuth(obj["defaultInstanceAuth"], `${path}.defaultInstanceAuth`);
  const list = <T>(key: string, parse: (v: unknown, p: string) => T): T[] | undefined =>
    obj[key] === undefined || obj[key] === null ? undefined : array(obj[key], `${path}.${key}`).map((v, i) => parse(v, `${path}.${key}[${i}]`));
  const apis = list("apiDefinitions", parseApi);
  const events = list("eventDefinitions", parseEvent);
  const instanceAuths = list("instanceAuths", parseInstanceAuth);
  return {
    ...(id !== undefined ? { id } : {}),
    name: reqString(obj, "name", path),
    ...(description !== undefined ? { description } : {}),
    ...(schema !== undefined ? { instanceAuthRequestInputSchema: schema } : {}),
    ...(auth ? { defaultInstanceAuth: auth } : {}),
    ...(apis ? { apiDefinitions: apis } : {}),
    ...(events ? { eventDefinitions: events } : {}),
    ...(instanceAuths ? { instanceAuths } : {}),
  };
}

/** Reads the fields both POST and PATCH accept. */
function parseCommon(obj: Obj, path: string): ApplicationPatch {
  const out: ApplicationPatch = {};
  for (const key of ["description", "providerName", "systemNumber", "baseUrl"] as const) {
    const value = optString(obj, key, path);
    if (value !== undefined) out[key] = value;
  }
  const templateId = optId(obj, "applicationTemplateId", path);
  if (templateId !== undefined) out.applicationTemplateId = templateId;
  const name = optString(obj, "name", path, false);
  if (name !== undefined) out.name = name;
  if (obj["labels"] !== undefined && obj["labels"] !== null) out.labels = jsonLabels(obj["labels"], `${path}.labels`);
  const formations = obj["formations"] ?? obj["scenarios"];
  if (formations !== undefined && formations !== null) {
    out.formations = stringList(formations, `${path}.${obj["formations"] !== undefined ? "formations" : "scenarios"}`);
  }
  const status = optString(obj, "status", path);
  if (status !== undefined) {
    if (!APPLICATION_CONDITIONS.has(status as ApplicationCondition)) {
      throw new InputError(`${path}.status must be one of ${[...APPLICATION_CONDITIONS].join(", ")}`);
    }
    out.status = status as ApplicationCondition;
  }
  if (obj["bundles"] !== undefined && obj["bundles"] !== null) {
    out.bundles = array(obj["bundles"], `${path}.bundles`).map((b, i) => parseBundle(b, `${path}.bundles[${i}]`));
  }
  if (obj["auths"] !== undefined && obj["auths"] !== null) {
    out.auths = array(obj["auths"], `${path}.auths`).map((a, i) => {
      const at = `${path}.auths[${i}]`;
      if (typeof a === "string") {
        if (!UUID_PATTERN.test(a)) throw new InputError(`${at} must be a UUID`);
        return { id: a.toLowerCase() };
      }
      const id = optId(object(a, at), "id", at);
      return id !== undefined ? { id } : {};
    });
  }
  return out;
}

export function parseApplicationInput(value: unknown, path = "application"): ApplicationInput {
  const obj = object(value, path);
  const common = parseCommon(obj, path);
  if (common.name === undefined) throw new InputError(`${path}.name is required`);
  const id = optId(obj, "id", path);
  const tenant = optString(obj, "tenant", path, false);
  return { ...common, name: common.name, ...(id !== undefined ? { id } : {}), ...(tenant !== undefined ? { tenant } : {}) };
}

export function parseApplicationPatch(value: unknown, path = "application"): ApplicationPatch {
  const obj = object(value, path);
  for (const key of ["id", "tenant"]) {
    if (obj[key] !== undefined) throw new InputError(`${path}.${key} cannot be changed`);
  }
  return parseCommon(obj, path);
}

// ---- construction ----

const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function mergeScenarios(labels: Map<string, JsonValue>, formations: readonly string[]): void {
  if (formations.length === 0) return;
  const merged = [...scenariosOf(labels)];
  for (const formation of formations) if (!merged.includes(formation)) merged.push(formation);
  labels.set("scenarios", merged);
}

/** A version as Compass stores it: the flags a registration leaves out are false. */
function storedVersion(version: Version): Version {
  return { ...version, deprecated: version.deprecated ?? false, forRemoval: version.forRemoval ?? false };
}

/** JSON text as PostgreSQL prints it (text that is not JSON is kept as given). */
function storedSchema(text: string): string {
  try {
    return postgresJson(JSON.parse(text));
  } catch {
    return text;
  }
}

/** Builds bundles (with fresh ids where none are given), sorted by id, and their instance auths. */
function buildBundles(
  state: CompassState,
  inputs: readonly BundleInput[],
  applicationId: string,
  now: Date,
): { bundles: Bundle[]; instanceAuths: BundleInstanceAuth[] } {
  const seen = new Set<string>();
  const unique = (id: string | undefined, what: string): string => {
    const value = id ?? randomUUID();
    if (seen.has(value)) throw new StateError(`${what} id ${value} is used twice`, "Conflict");
    seen.add(value);
    return value;
  };
  const instanceAuths: BundleInstanceAuth[] = [];
  const bundles = inputs.map((input): Bundle => {
    const id = unique(input.id, "bundle");
    const owner = state.bundleOwner(id);
    if (owner !== undefined && owner !== applicationId) {
      throw new StateError(`bundle ${id} already belongs to application ${owner}`, "Conflict");
    }
    const apiDefinitions = (input.apiDefinitions ?? []).map(
      ({ spec, ...api }): ApiDefinition => ({
        ...api,
        ...(api.version ? { version: storedVersion(api.version) } : {}),
        id: unique(api.id, "API definition"),
        ...(spec ? { spec: { id: randomUUID(), ...spec } } : {}),
        createdAt: now,
      }),
    );
    const eventDefinitions = (input.eventDefinitions ?? []).map(
      ({ spec, ...event }): EventDefinition => ({
        ...event,
        ...(event.version ? { version: storedVersion(event.version) } : {}),
        id: unique(event.id, "event definition"),
        ...(spec ? { spec: { id: randomUUID(), ...spec } } : {}),
        createdAt: now,
      }),
    );
    for (const auth of input.instanceAuths ?? []) {
      instanceAuths.push({
        id: unique(auth.id, "bundle instance auth"),
        bundleId: id,
        runtimeId: auth.runtimeId,
        ...(auth.auth ? { auth: auth.auth } : {}),
        status: {
          condition: auth.status ?? "SUCCEEDED",
          timestamp: now,
          message: auth.status === "PENDING" ? "Credentials were not yet provided." : "Credentials were provided.",
          reason: auth.status === "PENDING" ? "CredentialsNotProvided" : "CredentialsProvided",
        },
      });
    }
    return {
      id,
      applicationId,
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.instanceAuthRequestInputSchema !== undefined
        ? { instanceAuthRequestInputSchema: storedSchema(input.instanceAuthRequestInputSchema) }
        : {}),
      ...(input.defaultInstanceAuth ? { defaultInstanceAuth: input.defaultInstanceAuth } : {}),
      apiDefinitions: apiDefinitions.sort(byId),
      eventDefinitions: eventDefinitions.sort(byId),
      documents: [],
      createdAt: now,
    };
  });
  return { bundles: bundles.sort(byId), instanceAuths };
}

function auths(state: CompassState, application: Pick<Application, "id" | "tenant">, inputs: ReadonlyArray<{ id?: string }>) {
  return inputs.map((input) => {
    const existing = input.id !== undefined ? state.systemAuths.get(input.id) : undefined;
    if (existing) {
      if (existing.refType !== "Application" || existing.refId !== application.id) {
        throw new StateError(`SystemAuth ${existing.id} belongs to ${existing.refType} ${existing.refId}`, "Conflict");
      }
      return existing.id;
    }
    return state.createSystemAuth("Application", application.id, application.tenant, input.id ?? randomUUID()).id;
  });
}

/** Creates an application (and its formations, tenant and SystemAuths when needed). */
export function createApplication(state: CompassState, input: ApplicationInput): Application {
  const id = input.id?.toLowerCase() ?? randomUUID();
  if (state.applications.has(id)) throw new StateError(`application ${id} already exists`, "Conflict");
  const tenant = state.ensureTenant(input.tenant ?? DEFAULT_TENANT).externalId;
  const now = state.now();
  const labels = new Map<string, JsonValue>(Object.entries(input.labels ?? {}));
  mergeScenarios(labels, input.formations ?? []);
  if (scenariosOf(labels).length === 0) labels.delete("scenarios");
  const { bundles, instanceAuths } = buildBundles(state, input.bundles ?? [], id, now);
  const application: Application = {
    id,
    tenant,
    name: input.name,
    ...(input.systemNumber !== undefined ? { systemNumber: input.systemNumber } : {}),
    ...(input.providerName !== undefined ? { providerName: input.providerName } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.baseUrl !== undefined ? { baseUrl: input.baseUrl } : {}),
    ...(input.applicationTemplateId !== undefined ? { applicationTemplateId: input.applicationTemplateId } : {}),
    labels,
    status: { condition: input.status ?? "INITIAL", timestamp: now },
    createdAt: now,
    updatedAt: now,
    bundles,
    systemAuthIds: [],
  };
  application.systemAuthIds = auths(state, application, input.auths ?? []);
  state.addApplication(application, instanceAuths);
  return application;
}

/**
 * Applies a PATCH: present fields replace the stored ones; `bundles` replaces the bundle list (and their instance
 * auths). `labels` replaces the labels but keeps `scenarios` unless the new labels or `formations` set them.
 */
export function patchApplication(state: CompassState, id: string, patch: ApplicationPatch): Application {
  const application = state.applications.get(id.toLowerCase());
  if (!application) throw new StateError(`application ${id} not found`, "NotFound");
  const now = state.now();
  // Build everything that can fail first, so a bad patch changes nothing.
  const built = patch.bundles ? buildBundles(state, patch.bundles, application.id, now) : undefined;
  const systemAuthIds = patch.auths ? auths(state, application, patch.auths) : undefined;
  if (patch.name !== undefined) application.name = patch.name;
  for (const key of ["description", "providerName", "systemNumber", "baseUrl", "applicationTemplateId"] as const) {
    if (patch[key] !== undefined) application[key] = patch[key];
  }
  if (patch.labels !== undefined) {
    const scenarios = application.labels.get("scenarios");
    application.labels = new Map(Object.entries(patch.labels));
    if (!("scenarios" in patch.labels) && patch.formations === undefined && scenarios !== undefined) {
      application.labels.set("scenarios", scenarios);
    }
  }
  if (patch.formations !== undefined) {
    application.labels.delete("scenarios");
    mergeScenarios(application.labels, patch.formations);
  }
  if (scenariosOf(application.labels).length === 0) application.labels.delete("scenarios");
  applyRegistrationLabels(application);
  if (patch.status !== undefined) application.status = { condition: patch.status, timestamp: now };
  if (systemAuthIds) application.systemAuthIds = systemAuthIds;
  if (built) state.replaceBundles(application, built.bundles, built.instanceAuths);
  for (const formation of scenariosOf(application.labels)) state.ensureFormation(application.tenant, formation);
  application.updatedAt = now;
  return application;
}
