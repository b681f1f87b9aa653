/**
 * The trust boundary: Director answers arrive as `unknown` and leave as the model types, or as a DirectorError
 * (BAD_RESPONSE) that names the operation, the application and the field. The generated types describe what the
 * schema promises; nothing here relies on those promises.
 */
import { DirectorError, DirectorErrorCode } from "./errors.js";
import type {
  DirectorApiDefinition,
  DirectorApplication,
  DirectorAuth,
  DirectorBundle,
  DirectorCredential,
  DirectorCsrf,
  DirectorEventDefinition,
  DirectorVersion,
  MultiValueMap,
  RuntimeLabel,
} from "./model.js";

/** Where a value came from, for error messages. */
export interface Origin {
  operation: string;
  applicationId?: string | undefined;
  requestId?: string | undefined;
}

/** What the client needs of a page to go on paging. */
export interface PageMeta {
  startCursor: string;
  endCursor: string;
  hasNextPage: boolean;
  totalCount: number;
}

export interface Page<T> {
  items: T[];
  meta: PageMeta;
}

/** A bundle with the paging state of its nested lists, as far as one answer told. */
export interface BundleState {
  bundle: DirectorBundle;
  apis: PageMeta;
  events: PageMeta;
}

export interface ApplicationState {
  application: DirectorApplication;
  bundles: PageMeta;
  bundleStates: BundleState[];
}

type Json = Record<string, unknown>;

export function badResponse(origin: Origin, field: string, problem: string): DirectorError {
  const where = origin.applicationId === undefined ? "" : `application ${origin.applicationId}: `;
  return new DirectorError(
    DirectorErrorCode.BAD_RESPONSE,
    `${origin.operation}: unexpected answer from the Director: ${where}${field} ${problem}`,
    { operation: origin.operation, applicationId: origin.applicationId, field, requestId: origin.requestId },
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "missing";
  if (Array.isArray(value)) return "an array";
  // Never the text itself: it may be a header value or a credential.
  if (typeof value === "string") return "a string";
  return `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const join = (path: string, key: string): string => (path === "" ? key : `${path}.${key}`);

function object(value: unknown, origin: Origin, field: string): Json {
  if (!isPlainObject(value)) throw badResponse(origin, field, `is ${describe(value)}, but must be an object`);
  return value;
}

/** A non-null String!/ID! field. `nonEmpty` for ids, which Compass never leaves empty. */
function requiredString(obj: Json, key: string, origin: Origin, path: string, nonEmpty = false): string {
  const value = obj[key];
  if (typeof value !== "string") {
    throw badResponse(origin, join(path, key), `is ${describe(value)}, but Compass never sends anything but a string there`);
  }
  if (nonEmpty && value === "") throw badResponse(origin, join(path, key), "is empty");
  return value;
}

function optionalString(obj: Json, key: string, origin: Origin, path: string): string | null {
  const value = obj[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw badResponse(origin, join(path, key), `is ${describe(value)}, but must be a string or null`);
  return value;
}

function optionalBoolean(obj: Json, key: string, origin: Origin, path: string): boolean | null {
  const value = obj[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== "boolean") throw badResponse(origin, join(path, key), `is ${describe(value)}, but must be a boolean or null`);
  return value;
}

/** Labels scalar: a JSON object; null means "no labels". */
export function readLabels(value: unknown, origin: Origin, field: string): Record<string, unknown> {
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw badResponse(origin, field, `is ${describe(value)}, but Labels must be a JSON object`);
  return { ...value };
}

/** HttpHeaders / QueryParams scalars: {name: [string, ...]}. */
function multiValueMap(value: unknown, origin: Origin, field: string): MultiValueMap | null {
  if (value === null || value === undefined) return null;
  if (!isPlainObject(value)) throw badResponse(origin, field, `is ${describe(value)}, but must be an object of string lists`);
  const result: MultiValueMap = {};
  for (const [name, values] of Object.entries(value)) {
    if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) {
      throw badResponse(origin, `${field}.${name}`, `is ${describe(values)}, but must be a list of strings`);
    }
    result[name] = [...(values as string[])];
  }
  return result;
}

/** JSON / JSONSchema scalars: stringified JSON. Kept as the string Compass sent. */
function stringifiedJson(value: unknown, origin: Origin, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw badResponse(origin, field, `is ${describe(value)}, but must be stringified JSON`);
  try {
    JSON.parse(value);
  } catch {
    throw badResponse(origin, field, "is a string that is not JSON");
  }
  return value;
}

function count(obj: Json, key: string, origin: Origin, path: string): number {
  const value = obj[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw badResponse(origin, join(path, key), `is ${describe(value)}, but must be a non-negative integer`);
  }
  return value;
}

function pageMeta(obj: Json, origin: Origin, path: string): PageMeta {
  const info = object(obj["pageInfo"], origin, join(path, "pageInfo"));
  const infoPath = join(path, "pageInfo");
  const hasNextPage = info["hasNextPage"];
  if (typeof hasNextPage !== "boolean") {
    throw badResponse(origin, join(infoPath, "hasNextPage"), `is ${describe(hasNextPage)}, but must be a boolean`);
  }
  const meta: PageMeta = {
    startCursor: requiredString(info, "startCursor", origin, infoPath),
    endCursor: requiredString(info, "endCursor", origin, infoPath),
    hasNextPage,
    totalCount: count(obj, "totalCount", origin, path),
  };
  if (hasNextPage && meta.endCursor === "") {
    throw badResponse(origin, join(infoPath, "endCursor"), "is empty although hasNextPage is true");
  }
  return meta;
}

/**
 * A page object. `nullable` pages (nested lists) read null as an empty, final page; `data` itself is never null.
 */
function page<T>(
  value: unknown,
  origin: Origin,
  path: string,
  nullable: boolean,
  item: (raw: unknown, index: number, itemPath: string) => T,
): Page<T> {
  if ((value === null || value === undefined) && nullable) {
    return { items: [], meta: { startCursor: "", endCursor: "", hasNextPage: false, totalCount: 0 } };
  }
  const obj = object(value, origin, path);
  const data = obj["data"];
  if (!Array.isArray(data)) throw badResponse(origin, join(path, "data"), `is ${describe(data)}, but a page's data is always a list`);
  const items = data.map((raw, index) => item(raw, index, `${join(path, "data")}[${index}]`));
  return { items, meta: pageMeta(obj, origin, path) };
}

/** Only the paging fields of a page whose items the caller reads itself. */
export function rawPage(value: unknown, origin: Origin, path: string): { data: unknown[]; meta: PageMeta } {
  const obj = object(value, origin, path);
  const data = obj["data"];
  if (!Array.isArray(data)) throw badResponse(origin, join(path, "data"), `is ${describe(data)}, but a page's data is always a list`);
  return { data, meta: pageMeta(obj, origin, path) };
}

/** `totalCount` and `data` of an application page re-read for a nested page (no pageInfo selected). */
export function rawApplicationList(value: unknown, origin: Origin, path: string): { data: unknown[]; totalCount: number } {
  const obj = object(value, origin, path);
  const data = obj["data"];
  if (!Array.isArray(data)) throw badResponse(origin, join(path, "data"), `is ${describe(data)}, but a page's data is always a list`);
  return { data, totalCount: count(obj, "totalCount", origin, path) };
}

function version(value: unknown, origin: Origin, path: string): DirectorVersion | null {
  if (value === null || value === undefined) return null;
  const obj = object(value, origin, path);
  return {
    value: requiredString(obj, "value", origin, path),
    deprecated: optionalBoolean(obj, "deprecated", origin, path),
    deprecatedSince: optionalString(obj, "deprecatedSince", origin, path),
    forRemoval: optionalBoolean(obj, "forRemoval", origin, path),
  };
}

export function apiDefinition(value: unknown, origin: Origin, path: string): DirectorApiDefinition {
  const obj = object(value, origin, path);
  return {
    id: requiredString(obj, "id", origin, path, true),
    name: requiredString(obj, "name", origin, path),
    description: optionalString(obj, "description", origin, path),
    targetUrl: requiredString(obj, "targetURL", origin, path),
    group: optionalString(obj, "group", origin, path),
    version: version(obj["version"], origin, join(path, "version")),
  };
}

export function eventDefinition(value: unknown, origin: Origin, path: string): DirectorEventDefinition {
  const obj = object(value, origin, path);
  return {
    id: requiredString(obj, "id", origin, path, true),
    name: requiredString(obj, "name", origin, path),
    description: optionalString(obj, "description", origin, path),
    group: optionalString(obj, "group", origin, path),
    version: version(obj["version"], origin, join(path, "version")),
  };
}

export function apiDefinitionPage(value: unknown, origin: Origin, path: string): Page<DirectorApiDefinition> {
  return page(value, origin, path, true, (raw, _i, itemPath) => apiDefinition(raw, origin, itemPath));
}

export function eventDefinitionPage(value: unknown, origin: Origin, path: string): Page<DirectorEventDefinition> {
  return page(value, origin, path, true, (raw, _i, itemPath) => eventDefinition(raw, origin, itemPath));
}

function credential(value: unknown, origin: Origin, path: string): DirectorCredential | null {
  if (value === null || value === undefined) return null;
  const obj = object(value, origin, path);
  const typename = obj["__typename"];
  switch (typename) {
    case "BasicCredentialData":
      return {
        type: "Basic",
        username: requiredString(obj, "username", origin, path),
        password: requiredString(obj, "password", origin, path),
      };
    case "OAuthCredentialData":
      return {
        type: "OAuth",
        clientId: requiredString(obj, "clientId", origin, path),
        clientSecret: requiredString(obj, "clientSecret", origin, path),
        url: requiredString(obj, "url", origin, path),
      };
    case "CertificateOAuthCredentialData":
      return {
        type: "CertificateOAuth",
        clientId: requiredString(obj, "clientId", origin, path),
        certificate: requiredString(obj, "certificate", origin, path),
        url: requiredString(obj, "url", origin, path),
      };
    default:
      throw badResponse(
        origin,
        join(path, "__typename"),
        typeof typename === "string" && /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(typename)
          ? `is ${typename}, which is not a CredentialData member this client knows`
          : `is ${describe(typename)}, but the client asks for __typename to tell credential kinds apart`,
      );
  }
}

function csrf(value: unknown, origin: Origin, path: string): DirectorCsrf | null {
  if (value === null || value === undefined) return null;
  const obj = object(value, origin, path);
  return {
    tokenEndpointUrl: requiredString(obj, "tokenEndpointURL", origin, path),
    credential: credential(obj["credential"], origin, join(path, "credential")),
    additionalHeaders: multiValueMap(obj["additionalHeaders"], origin, join(path, "additionalHeaders")),
    additionalQueryParams: multiValueMap(obj["additionalQueryParams"], origin, join(path, "additionalQueryParams")),
  };
}

function auth(value: unknown, origin: Origin, path: string): DirectorAuth | null {
  if (value === null || value === undefined) return null;
  const obj = object(value, origin, path);
  const requestAuth = obj["requestAuth"];
  const requestAuthPath = join(path, "requestAuth");
  return {
    credential: credential(obj["credential"], origin, join(path, "credential")),
    additionalHeaders: multiValueMap(obj["additionalHeaders"], origin, join(path, "additionalHeaders")),
    additionalQueryParams: multiValueMap(obj["additionalQueryParams"], origin, join(path, "additionalQueryParams")),
    csrf:
      requestAuth === null || requestAuth === undefined
        ? null
        : csrf(object(requestAuth, origin, requestAuthPath)["csrf"], origin, join(requestAuthPath, "csrf")),
  };
}

export function bundle(value: unknown, origin: Origin, path: string): BundleState {
  const obj = object(value, origin, path);
  const apis = apiDefinitionPage(obj["apiDefinitions"], origin, join(path, "apiDefinitions"));
  const events = eventDefinitionPage(obj["eventDefinitions"], origin, join(path, "eventDefinitions"));
  return {
    bundle: {
      id: requiredString(obj, "id", origin, path, true),
      name: requiredString(obj, "name", origin, path),
      description: optionalString(obj, "description", origin, path),
      instanceAuthRequestInputSchema: stringifiedJson(
        obj["instanceAuthRequestInputSchema"],
        origin,
        join(path, "instanceAuthRequestInputSchema"),
      ),
      apiDefinitions: apis.items,
      eventDefinitions: events.items,
      defaultInstanceAuth: auth(obj["defaultInstanceAuth"], origin, join(path, "defaultInstanceAuth")),
    },
    apis: apis.meta,
    events: events.meta,
  };
}

export function bundlePage(value: unknown, origin: Origin, path: string): Page<BundleState> {
  return page(value, origin, path, true, (raw, _i, itemPath) => bundle(raw, origin, itemPath));
}

/** The id of an application object, checked first so that every later message can name the application. */
export function applicationId(value: unknown, origin: Origin, path: string): string {
  return requiredString(object(value, origin, path), "id", origin, path, true);
}

/** One element of `applicationsForRuntime.data`, with the first page of each nested list. */
export function application(value: unknown, origin: Origin): ApplicationState {
  const obj = object(value, origin, "application");
  const id = requiredString(obj, "id", origin, "application", true);
  const own: Origin = { ...origin, applicationId: id };
  const auths = obj["auths"];
  let systemAuthIds: string[] = [];
  if (auths !== null && auths !== undefined) {
    if (!Array.isArray(auths)) throw badResponse(own, "auths", `is ${describe(auths)}, but must be a list`);
    systemAuthIds = auths.map((entry, index) => requiredString(object(entry, own, `auths[${index}]`), "id", own, `auths[${index}]`, true));
  }
  const bundles = bundlePage(obj["bundles"], own, "bundles");
  return {
    application: {
      id,
      name: requiredString(obj, "name", own, ""),
      systemNumber: optionalString(obj, "systemNumber", own, ""),
      providerName: optionalString(obj, "providerName", own, ""),
      description: optionalString(obj, "description", own, ""),
      labels: readLabels(obj["labels"], own, "labels"),
      systemAuthIds,
      bundles: bundles.items.map((state) => state.bundle),
    },
    bundles: bundles.meta,
    bundleStates: bundles.items,
  };
}

/** `runtime { id labels }`; null when the runtime does not exist. */
export function runtimeLabels(value: unknown, origin: Origin): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  const obj = object(value, origin, "runtime");
  return readLabels(obj["labels"], origin, "runtime.labels");
}

export function label(value: unknown, origin: Origin): RuntimeLabel {
  const obj = object(value, origin, "label");
  if (obj["value"] === null || obj["value"] === undefined) {
    throw badResponse(origin, "label.value", `is ${describe(obj["value"])}, but Label.value is never null`);
  }
  return { key: requiredString(obj, "key", origin, "label"), value: obj["value"] };
}
