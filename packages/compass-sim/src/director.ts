/**
 * The Director as a runtime sees it (compass-contract.md §5, §7.8), executed by graphql-js against
 * `schemas/compass/director.graphql`.
 *
 * - Identity: the mTLS listener maps the client certificate to a SystemAuth (identity.ts). Only Runtime SystemAuths
 *   get the runtime scopes; anything else (revoked, unknown CN, expired in simulator time, or a non-runtime
 *   SystemAuth) has none, and every root field fails with code 23 "insufficient scopes provided".
 * - `Tenant` header: absent or empty → the SystemAuth's tenant; any other value than that tenant (unknown or foreign)
 *   → HTTP 400 TenantNotFound from the "auth middleware", before GraphQL runs.
 * - The first certificate-authenticated call sets the runtime CONNECTED.
 * - Errors are rendered by Compass's error presenter: `{message, path, extensions: {error, error_code}}`.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import {
  buildSchema,
  GraphQLError,
  GraphQLInterfaceType,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLUnionType,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from "graphql";
import { UUID_PATTERN } from "./applications.js";
import type { SimClock } from "./clock.js";
import {
  executeOperation,
  isHttpResult,
  prepareOperation,
  type GraphQLErrorJson,
  type GraphQLHttpResult,
  type GraphQLRequestBody,
  type PreparedOperation,
} from "./graphql-http.js";
import type { AuthOutcome } from "./identity.js";
import { loadSchemaSource } from "./schemas.js";
import type {
  Application,
  Auth,
  Bundle,
  BundleInstanceAuth,
  CompassState,
  Credential,
  JsonValue,
  Runtime,
  SystemAuth,
} from "./state.js";

export interface DirectorRequest {
  body: GraphQLRequestBody;
  /** Outcome of the certificate → SystemAuth mapping (revoked, expired or unknown certificates have no identity). */
  auth: AuthOutcome;
  /** Lowercased header names; the Director reads `tenant`. */
  headers: IncomingHttpHeaders;
}

export interface DirectorEnvironment {
  state: CompassState;
  clock: SimClock;
}

export interface DirectorHandler {
  handle(request: DirectorRequest): Promise<GraphQLHttpResult>;
}

/** Builds the Director for a simulator instance. */
export type DirectorFactory = (environment: DirectorEnvironment) => DirectorHandler;

export const DIRECTOR_NOT_IMPLEMENTED = "Director not implemented yet";

/** A stand-in that answers one GraphQL error to everything (kept for tests of the plug point). */
export const placeholderDirector: DirectorFactory = () => ({
  async handle() {
    return { status: 200, body: { errors: [{ message: DIRECTOR_NOT_IMPLEMENTED }], data: null }, operations: [] };
  },
});

// ---- Compass errors (components/director/pkg/apperrors) ----

export const ErrorCode = Object.freeze({
  InternalError: 10,
  NotFound: 20,
  InvalidData: 22,
  InsufficientScopes: 23,
  TenantNotFound: 25,
});

const ERROR_NAMES: Record<number, string> = {
  10: "InternalError",
  20: "NotFound",
  22: "InvalidData",
  23: "InsufficientScopes",
  25: "TenantNotFound",
};

/** A Compass `apperrors.Error`: the presenter shows its message and code. */
export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** `Message [k=v; k=v]` with keys in Go's sort order (byte order: upper case first). */
function withArguments(message: string, args: Record<string, string>): string {
  const keys = Object.keys(args).sort();
  return keys.length === 0 ? message : `${message} [${keys.map((k) => `${k}=${args[k]}`).join("; ")}]`;
}

export function invalidData(reason: string): AppError {
  return new AppError(ErrorCode.InvalidData, withArguments("Invalid data", { reason }));
}

function invalidDataFields(objectType: string, fields: Record<string, string>): AppError {
  return new AppError(ErrorCode.InvalidData, withArguments(`Invalid data ${objectType}`, fields));
}

function notFound(object: string, id: string): AppError {
  return new AppError(ErrorCode.NotFound, withArguments("Object not found", { object, ID: id }));
}

/** The scopes a runtime consumer gets (chart `scopesPerConsumerType.runtime`). */
export const RUNTIME_SCOPES = Object.freeze([
  "runtime:read",
  "runtime:write",
  "application:read",
  "runtime.auths:read",
  "bundle.instance_auths:read",
  "runtime.webhooks:read",
  "webhook:write",
]);

function insufficientScopes(required: string, actual: readonly string[]): AppError {
  return new AppError(
    ErrorCode.InsufficientScopes,
    withArguments("insufficient scopes provided", { required, actual: actual.join(";") }),
  );
}

/** Compass's error presenter (components/director/internal/error_presenter/presenter.go). */
export function presentDirectorError(error: GraphQLError): GraphQLErrorJson {
  const original = error.originalError;
  const path = error.path ? { path: error.path } : {};
  if (original instanceof AppError) {
    if (original.code === ErrorCode.InternalError) {
      return {
        message: `Internal Server Error [errorID=${randomUUID()}]`,
        ...path,
        extensions: { error: "InternalError", error_code: ErrorCode.InternalError },
      };
    }
    return {
      message: original.message,
      ...path,
      extensions: { error: ERROR_NAMES[original.code] ?? `ErrorType(${original.code})`, error_code: original.code },
    };
  }
  if (original !== undefined && !(original instanceof GraphQLError)) {
    return {
      message: `Internal Server Error [errorID=${randomUUID()}, reason: ${original.message}]`,
      ...path,
      extensions: { error: "InternalError", error_code: ErrorCode.InternalError },
    };
  }
  // Errors of the executor itself (e.g. a null in a non-null field): gqlgen shows them with message and path.
  return { message: error.message, ...path };
}

// ---- paging (components/director/pkg/pagination) ----

const CURSOR_PREFIX = "DpKtJ4j9jDq";
export const NESTED_PAGE_MAX = 200;

export function encodeCursor(offset: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${offset}`, "utf8").toString("base64");
}

/** Where Go's `base64.StdEncoding.DecodeString` reports a CorruptInputError, or -1 when the text decodes. */
export function base64ErrorIndex(text: string): number {
  const alphabet = /[A-Za-z0-9+/]/;
  let collected = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "=") {
      if (collected === 0 || collected === 1) return i;
      if (collected === 2) {
        if (i + 1 >= text.length) return text.length;
        if (text[i + 1] !== "=") return i;
        return i + 2 < text.length ? i + 2 : -1;
      }
      return i + 1 < text.length ? i + 1 : -1;
    }
    if (!alphabet.test(c)) return i;
    collected = (collected + 1) % 4;
  }
  return collected === 0 ? -1 : text.length - collected;
}

/** `DecodeOffsetCursor` as Compass runs it, with the error wrapping of its repository layer. */
export function decodeCursor(after: string): number {
  if (after === "") return 0;
  const bad = base64ErrorIndex(after);
  if (bad >= 0) {
    throw new Error(`while decoding page cursor: cursor is not correct: illegal base64 data at input byte ${bad}`);
  }
  const decoded = Buffer.from(after, "base64").toString("utf8");
  const real = decoded.startsWith(CURSOR_PREFIX) ? decoded.slice(CURSOR_PREFIX.length) : decoded;
  if (!/^[+-]?\d+$/.test(real)) {
    throw new Error(`while decoding page cursor: cursor is not correct: strconv.Atoi: parsing ${JSON.stringify(real)}: invalid syntax`);
  }
  const offset = Number(real);
  if (!Number.isSafeInteger(offset)) {
    throw new Error(`while decoding page cursor: cursor is not correct: strconv.Atoi: parsing ${JSON.stringify(real)}: value out of range`);
  }
  if (offset < 0) throw invalidData("cursor is not correct");
  return offset;
}

export interface Page<T> {
  data: T[];
  pageInfo: { startCursor: string; endCursor: string; hasNextPage: boolean };
  totalCount: number;
}

/** Compass's offset paging over items already ordered by id. Nested lists accept 1..200 items per page. */
export function paginate<T>(
  items: readonly T[],
  first: number | null | undefined,
  after: string | null | undefined,
  nested: boolean,
): Page<T> {
  if (first === null || first === undefined) throw invalidData("missing required parameter 'first'");
  if (nested && (first < 1 || first > NESTED_PAGE_MAX)) throw invalidData(`page size must be between 1 and ${NESTED_PAGE_MAX}`);
  if (first < 1) throw invalidData("page size cannot be smaller than 1");
  const offset = decodeCursor(after ?? "");
  const data = items.slice(offset, offset + first);
  const more = items.length > offset + data.length;
  return {
    data,
    pageInfo: { startCursor: after ?? "", endCursor: more ? encodeCursor(offset + first) : "", hasNextPage: more },
    totalCount: items.length,
  };
}

// ---- names (components/director/pkg/normalizer) ----

const NORMALIZED_PREFIX = "mp-";

function compassNormalize(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^-a-z0-9]/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/-$/, "");
}

/** `mp-` prefix, lower case, `[^-a-z0-9]` → `-`, `--` collapsed, a trailing `-` dropped; `mp-…` names kept. */
export function normalizeName(name: string): string {
  if (name.startsWith(NORMALIZED_PREFIX) && compassNormalize(name) === name) return name;
  return compassNormalize(NORMALIZED_PREFIX + name);
}

/** Names are rewritten unless the runtime's `isNormalized` label is set to something other than the string "true". */
export function runtimeNormalizes(runtime: Runtime): boolean {
  return !runtime.labels.has("isNormalized") || runtime.labels.get("isNormalized") === "true";
}

/** The application name a runtime sees: normalized (when the runtime wants it), then `-<systemNumber>`. */
export function nameForRuntime(application: Pick<Application, "name" | "systemNumber">, normalize: boolean): string {
  const name = normalize ? normalizeName(application.name) : application.name;
  return application.systemNumber !== undefined && application.systemNumber !== null ? `${name}-${application.systemNumber}` : name;
}

// ---- runtime labels (components/director/internal/domain/runtime, pkg/graphql/labels_validation.go) ----

const LABEL_KEY = /^[a-zA-Z0-9_]*$/;
const PROTECTED_LABEL = /.*_defaultEventing$/;
const IMMUTABLE_LABEL = /^xsappnameCMPClone$|^runtimeType$|^CMPSaaSAppName$/;

/** ozzo-validation `Required`: nil, "", empty lists and maps are blank. */
function isBlank(value: unknown): boolean {
  if (value === null || value === undefined || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value).length === 0;
}

/** `LabelInput.Validate()`: the field errors, or undefined. */
export function validateLabelInput(key: string, value: unknown): AppError | undefined {
  const fields: Record<string, string> = {};
  if (key === "") fields["key"] = "cannot be blank";
  else if ([...key].length > 256) fields["key"] = "the length must be between 1 and 256";
  else if (!LABEL_KEY.test(key)) fields["key"] = "must be in a valid format";
  if (isBlank(value)) fields["value"] = "cannot be blank";
  return Object.keys(fields).length > 0 ? invalidDataFields("LabelInput", fields) : undefined;
}

/** Stored labels without the protected `<appId>_defaultEventing` ones; one key only when asked. */
function visibleLabels(labels: ReadonlyMap<string, JsonValue>, key: string | null | undefined): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of labels) {
    if (PROTECTED_LABEL.test(k)) continue;
    if (key !== undefined && key !== null && k !== key) continue;
    out[k] = v;
  }
  return out;
}

// ---- execution context ----

interface Consumer {
  runtimeId: string;
  /** External tenant id. */
  tenant: string;
  scopes: readonly string[];
}

interface DirectorContext {
  state: CompassState;
  consumer?: Consumer;
}

/** An application as one runtime sees it (the name depends on that runtime's `isNormalized`). */
interface ApplicationRef {
  app: Application;
  normalize: boolean;
}

function requireScope(ctx: DirectorContext, scope: string): Consumer {
  if (!ctx.consumer || !ctx.consumer.scopes.includes(scope)) throw insufficientScopes(scope, ctx.consumer?.scopes ?? []);
  return ctx.consumer;
}

/** Go's `uuid.Parse` error text. */
function uuidError(id: string): string {
  return [32, 36, 38, 45].includes(id.length) ? "invalid UUID format" : `invalid UUID length: ${id.length}`;
}

function findRuntime(ctx: DirectorContext, consumer: Consumer, id: string): Runtime | undefined {
  const runtime = ctx.state.runtimes.get(id.toLowerCase()) ?? ctx.state.runtimes.get(id);
  return runtime && runtime.tenant === consumer.tenant ? runtime : undefined;
}

/** §5.7: the runtime whose eventing URL an application uses; choosing one labels it (a write on read, as in Compass). */
function defaultEventingRuntime(state: CompassState, app: Application): Runtime | undefined {
  const key = `${app.id}_defaultEventing`;
  const inTenant = [...state.runtimes.values()].filter((runtime) => runtime.tenant === app.tenant);
  const labelled = inTenant.find((runtime) => runtime.labels.has(key));
  if (labelled) return labelled;
  const scenarios = app.labels.get("scenarios");
  const names = Array.isArray(scenarios) ? scenarios : [];
  const oldest = inTenant
    .filter((runtime) => names.some((name) => typeof name === "string" && runtime.formations.has(name)))
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0];
  if (oldest) oldest.labels.set(key, "true");
  return oldest;
}

function runtimeEventingUrl(runtime: Runtime): string {
  const value = runtime.labels.get("runtime_eventServiceUrl");
  if (value === undefined) return "";
  if (typeof value !== "string") throw new Error("unable to cast label [key=runtime_eventServiceUrl] value as a string");
  return value;
}

// ---- schema with resolvers ----

type Resolver<TSource = unknown, TArgs = Record<string, unknown>> = GraphQLFieldResolver<TSource, DirectorContext, TArgs>;
type ResolverMap = Record<string, Record<string, Resolver<never, never>>>;

const CREDENTIAL_TYPES: Record<Credential["kind"], string> = {
  basic: "BasicCredentialData",
  oauth: "OAuthCredentialData",
  certificateOAuth: "CertificateOAuthCredentialData",
};

const nothing = () => null;

/** Bundle.defaultInstanceAuth for a runtime caller: the auth of the first instance auth it owns, else the default. */
function authForRuntime(state: CompassState, bundle: Bundle, runtimeId: string | undefined): Auth | null {
  if (runtimeId !== undefined) {
    for (const instanceAuth of state.bundleInstanceAuths.values()) {
      if (instanceAuth.bundleId === bundle.id && instanceAuth.runtimeId === runtimeId && instanceAuth.auth) {
        return instanceAuth.auth;
      }
    }
  }
  return bundle.defaultInstanceAuth ?? null;
}

function ownInstanceAuths(state: CompassState, bundle: Bundle, runtimeId: string | undefined): BundleInstanceAuth[] {
  return [...state.bundleInstanceAuths.values()].filter(
    (auth) => auth.bundleId === bundle.id && auth.runtimeId === runtimeId,
  );
}

function byGroup<T extends { group?: string }>(items: readonly T[], group: string | null | undefined): readonly T[] {
  return group === undefined || group === null ? items : items.filter((item) => item.group === group);
}

const serializedMap = (value: Record<string, string[]> | undefined) => (value === undefined ? null : JSON.stringify(value));

const resolvers = {
  Query: {
    runtime: (_: unknown, args: { id: string }, ctx: DirectorContext) => {
      const consumer = requireScope(ctx, "runtime:read");
      return findRuntime(ctx, consumer, args.id) ?? null;
    },
    applicationsForRuntime: (
      _: unknown,
      args: { runtimeID: string; first?: number | null; after?: string | null },
      ctx: DirectorContext,
    ): Page<ApplicationRef> => {
      const consumer = requireScope(ctx, "application:read");
      if (args.first === null || args.first === undefined) throw invalidData("missing required parameter 'first'");
      if (args.first < 1) throw invalidData("page size cannot be smaller than 1");
      if (!UUID_PATTERN.test(args.runtimeID)) {
        throw new Error(`while converting runtimeID to UUID: ${uuidError(args.runtimeID)}`);
      }
      const runtime = findRuntime(ctx, consumer, args.runtimeID);
      if (!runtime) throw invalidData("runtime does not exist");
      const page = paginate(ctx.state.applicationsVisibleTo(runtime), args.first, args.after, false);
      const normalize = runtimeNormalizes(runtime);
      return { ...page, data: page.data.map((app) => ({ app, normalize })) };
    },
  },
  Mutation: {
    setRuntimeLabel: (_: unknown, args: { runtimeID: string; key: string; value: JsonValue }, ctx: DirectorContext) => {
      const consumer = requireScope(ctx, "runtime:write");
      const invalid = validateLabelInput(args.key, args.value);
      if (invalid) throw invalid;
      const runtime = findRuntime(ctx, consumer, args.runtimeID);
      if (!runtime) throw new Error(`Runtime with ID ${args.runtimeID} doesn't exist`);
      if (args.key === "scenarios") throw new Error("label with key scenarios cannot be set explicitly");
      if (PROTECTED_LABEL.test(args.key) || IMMUTABLE_LABEL.test(args.key)) {
        throw invalidData(`could not set unmodifiable label with key ${args.key}`);
      }
      runtime.labels.set(args.key, args.value);
      return { key: args.key, value: args.value };
    },
    deleteRuntimeLabel: (_: unknown, args: { runtimeID: string; key: string }, ctx: DirectorContext) => {
      const consumer = requireScope(ctx, "runtime:write");
      const runtime = findRuntime(ctx, consumer, args.runtimeID);
      if (!runtime) throw new Error(`Runtime with ID ${args.runtimeID} doesn't exist`);
      if (args.key === "scenarios") throw new Error("label with key scenarios cannot be deleted explicitly");
      if (PROTECTED_LABEL.test(args.key) || IMMUTABLE_LABEL.test(args.key)) {
        throw invalidData(`could not delete unmodifiable label with key ${args.key}`);
      }
      if (!runtime.labels.has(args.key)) throw notFound("label", args.key);
      const value = runtime.labels.get(args.key)!;
      runtime.labels.delete(args.key);
      return { key: args.key, value };
    },
  },
  Runtime: {
    metadata: (runtime: Runtime) => ({ creationTimestamp: runtime.createdAt }),
    description: (runtime: Runtime) => runtime.description ?? null,
    labels: (runtime: Runtime, args: { key?: string | null }) => visibleLabels(runtime.labels, args.key),
    eventingConfiguration: (runtime: Runtime) => ({ defaultURL: runtimeEventingUrl(runtime) }),
    applicationNamespace: nothing,
  },
  Application: {
    id: (ref: ApplicationRef) => ref.app.id,
    name: (ref: ApplicationRef) => nameForRuntime(ref.app, ref.normalize),
    systemNumber: (ref: ApplicationRef) => ref.app.systemNumber ?? null,
    localTenantID: nothing,
    baseUrl: (ref: ApplicationRef) => ref.app.baseUrl ?? null,
    providerName: (ref: ApplicationRef) => ref.app.providerName ?? null,
    description: (ref: ApplicationRef) => ref.app.description ?? null,
    integrationSystemID: nothing,
    applicationTemplateID: (ref: ApplicationRef) => ref.app.applicationTemplateId ?? null,
    labels: (ref: ApplicationRef, args: { key?: string | null }) => visibleLabels(ref.app.labels, args.key),
    status: (ref: ApplicationRef) => ref.app.status,
    healthCheckURL: nothing,
    bundles: (ref: ApplicationRef, args: { first?: number | null; after?: string | null }) =>
      paginate(ref.app.bundles, args.first, args.after, true),
    bundle: (ref: ApplicationRef, args: { id: string }) => ref.app.bundles.find((b) => b.id === args.id) ?? null,
    apiDefinition: (ref: ApplicationRef, args: { id: string }) => {
      for (const bundle of ref.app.bundles) {
        const api = bundle.apiDefinitions.find((a) => a.id === args.id);
        if (api) return api;
      }
      return null;
    },
    eventDefinition: (ref: ApplicationRef, args: { id: string }) => {
      for (const bundle of ref.app.bundles) {
        const event = bundle.eventDefinitions.find((e) => e.id === args.id);
        if (event) return event;
      }
      return null;
    },
    auths: (ref: ApplicationRef, _args: unknown, ctx: DirectorContext) =>
      ref.app.systemAuthIds.flatMap((id) => {
        const systemAuth = ctx.state.systemAuths.get(id);
        return systemAuth ? [systemAuth] : [];
      }),
    eventingConfiguration: (ref: ApplicationRef, _args: unknown, ctx: DirectorContext) => {
      const runtime = defaultEventingRuntime(ctx.state, ref.app);
      if (!runtime) return { defaultURL: "" };
      const base = runtime.labels.get("runtime_eventServiceUrl");
      if (typeof base !== "string" || base === "") return { defaultURL: "" };
      let url: URL;
      try {
        url = new URL(base);
      } catch {
        return { defaultURL: "" };
      }
      return { defaultURL: `${url.protocol}//${url.host}/${nameForRuntime(ref.app, ref.normalize)}/v1/events` };
    },
    applicationNamespace: nothing,
    createdAt: (ref: ApplicationRef) => ref.app.createdAt,
    updatedAt: (ref: ApplicationRef) => ref.app.updatedAt,
    deletedAt: nothing,
    systemStatus: nothing,
    error: nothing,
  },
  AppSystemAuth: {
    // @sanitize: a runtime lacks application.auths:read, so the credentials are null (no error).
    auth: nothing,
    type: () => "APPLICATION",
    tenantId: (systemAuth: SystemAuth, _args: unknown, ctx: DirectorContext) =>
      ctx.state.tenants.get(systemAuth.tenant)?.internalId ?? null,
    referenceObjectId: (systemAuth: SystemAuth) => systemAuth.refId,
  },
  Bundle: {
    description: (bundle: Bundle) => bundle.description ?? null,
    instanceAuthRequestInputSchema: (bundle: Bundle) => bundle.instanceAuthRequestInputSchema ?? null,
    instanceAuth: (bundle: Bundle, args: { id: string }, ctx: DirectorContext) =>
      ownInstanceAuths(ctx.state, bundle, ctx.consumer?.runtimeId).find((auth) => auth.id === args.id) ?? null,
    instanceAuths: (bundle: Bundle, _args: unknown, ctx: DirectorContext) =>
      ownInstanceAuths(ctx.state, bundle, ctx.consumer?.runtimeId),
    defaultInstanceAuth: (bundle: Bundle, _args: unknown, ctx: DirectorContext) =>
      authForRuntime(ctx.state, bundle, ctx.consumer?.runtimeId),
    apiDefinitions: (bundle: Bundle, args: { group?: string | null; first?: number | null; after?: string | null }) =>
      paginate(byGroup(bundle.apiDefinitions, args.group), args.first, args.after, true),
    eventDefinitions: (bundle: Bundle, args: { group?: string | null; first?: number | null; after?: string | null }) =>
      paginate(byGroup(bundle.eventDefinitions, args.group), args.first, args.after, true),
    apiDefinition: (bundle: Bundle, args: { id: string }) => bundle.apiDefinitions.find((a) => a.id === args.id) ?? null,
    eventDefinition: (bundle: Bundle, args: { id: string }) =>
      bundle.eventDefinitions.find((e) => e.id === args.id) ?? null,
    correlationIDs: nothing,
    updatedAt: (bundle: Bundle) => bundle.createdAt,
    deletedAt: nothing,
    error: nothing,
  },
  BundleInstanceAuth: {
    runtimeID: (auth: BundleInstanceAuth) => auth.runtimeId,
    runtimeContextID: nothing,
  },
  APIDefinition: {
    created_at: (api: { createdAt: Date }) => api.createdAt,
    updated_at: (api: { createdAt: Date }) => api.createdAt,
    deleted_at: nothing,
    error: nothing,
  },
  EventDefinition: {
    updatedAt: (event: { createdAt: Date }) => event.createdAt,
    deletedAt: nothing,
    error: nothing,
  },
  Auth: {
    additionalHeadersSerialized: (auth: Auth) => serializedMap(auth.additionalHeaders),
    additionalQueryParamsSerialized: (auth: Auth) => serializedMap(auth.additionalQueryParams),
    certCommonName: nothing,
  },
  CSRFTokenCredentialRequestAuth: {
    additionalHeadersSerialized: (csrf: { additionalHeaders?: Record<string, string[]> }) =>
      serializedMap(csrf.additionalHeaders),
    additionalQueryParamsSerialized: (csrf: { additionalQueryParams?: Record<string, string[]> }) =>
      serializedMap(csrf.additionalQueryParams),
  },
} as unknown as ResolverMap;

/** RFC 3339 with second precision, e.g. `2024-06-01T10:00:00Z`. */
export function formatTimestamp(value: unknown): string {
  const date = value instanceof Date ? value : new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new TypeError(`Timestamp cannot represent ${String(value)}`);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

const stringified = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

let cachedSchema: GraphQLSchema | undefined;

/** The Director schema with the simulator's resolvers and Compass's scalar wire formats. Built once per process. */
export function directorSchema(): GraphQLSchema {
  if (cachedSchema) return cachedSchema;
  // A schema object of its own: resolvers are attached to it, so it must not be the shared one of schemas.ts.
  const schema = buildSchema(loadSchemaSource("director"));
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName);
    if (!(type instanceof GraphQLObjectType)) throw new Error(`director schema: ${typeName} is not an object type`);
    const typeFields = type.getFields();
    for (const [fieldName, resolve] of Object.entries(fields)) {
      const field = typeFields[fieldName];
      if (!field) throw new Error(`director schema: ${typeName}.${fieldName} does not exist`);
      field.resolve = resolve as Resolver;
    }
  }
  const scalar = (name: string) => schema.getType(name) as GraphQLScalarType;
  scalar("Timestamp").serialize = formatTimestamp;
  for (const name of ["JSON", "JSONSchema", "HttpHeadersSerialized", "QueryParamsSerialized"]) scalar(name).serialize = stringified;
  scalar("Labels").serialize = (value) => (value instanceof Map ? Object.fromEntries(value) : value);
  (schema.getType("CredentialData") as GraphQLUnionType).resolveType = (value) =>
    CREDENTIAL_TYPES[(value as Credential).kind];
  (schema.getType("SystemAuth") as GraphQLInterfaceType).resolveType = () => "AppSystemAuth";
  cachedSchema = schema;
  return schema;
}

// ---- the handler ----

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** HTTP 400 from Compass's auth middleware, without Content-Type (Compass sets it after WriteHeader). */
function tenantNotFound(externalTenant: string): GraphQLHttpResult {
  return {
    status: 400,
    body: {
      errors: [
        {
          message: withArguments("Tenant not found", { externalTenant }),
          extensions: { error: "TenantNotFound", error_code: ErrorCode.TenantNotFound },
        },
      ],
      data: null,
    },
    operations: [],
    noContentType: true,
  };
}

/** Parsed and validated operations, by query text and operation name (clients repeat the same few queries). */
class PreparedCache {
  readonly #entries = new Map<string, PreparedOperation | GraphQLHttpResult>();
  constructor(private readonly limit = 200) {}

  get(schema: GraphQLSchema, body: GraphQLRequestBody): PreparedOperation | GraphQLHttpResult {
    const key = `${body.operationName ?? ""}\u0000${body.query}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = prepareOperation(schema, body);
      if (this.#entries.size >= this.limit) this.#entries.clear();
      this.#entries.set(key, entry);
    }
    return entry;
  }
}

export const createDirector: DirectorFactory = ({ state }) => {
  const schema = directorSchema();
  const prepared = new PreparedCache();
  return {
    async handle(request: DirectorRequest): Promise<GraphQLHttpResult> {
      const identity = request.auth.identity;
      let consumer: Consumer | undefined;
      if (identity?.via === "certificate" && identity.systemAuth.refType === "Runtime") {
        const systemAuth = identity.systemAuth;
        const header = headerValue(request.headers, "tenant");
        if (header !== undefined && header !== "" && (header !== systemAuth.tenant || !state.tenants.has(header))) {
          return tenantNotFound(header);
        }
        consumer = { runtimeId: systemAuth.refId, tenant: systemAuth.tenant, scopes: RUNTIME_SCOPES };
        const runtime = state.runtimes.get(systemAuth.refId);
        if (runtime) state.markRuntimeConnected(runtime);
      }
      const operation = prepared.get(schema, request.body);
      if (isHttpResult(operation)) return operation;
      const context: DirectorContext = { state, ...(consumer ? { consumer } : {}) };
      return executeOperation(schema, request.body, operation, undefined, context, presentDirectorError);
    },
  };
};
