/**
 * The Director as a runtime sees it (compass-contract.md §5, §7.8), executed by graphql-js against
 * `schemas/compass/director.graphql`.
 *
 * - Identity: the mTLS listener maps the client certificate to a SystemAuth (identity.ts). A certificate without one
 *   (revoked, unknown CN, expired in simulator time) → HTTP 401 Unauthorized code 26 before GraphQL, as real Compass
 *   answers (the hydrator finds no consumer). Runtime SystemAuths get the runtime scopes; other SystemAuths
 *   (application, integration system) are authenticated but lack them: code 23 "insufficient scopes" per root field.
 * - `Tenant` header: absent or empty → the SystemAuth's tenant; a value that is no tenant → HTTP 401 code 26; another
 *   existing tenant → HTTP 400 TenantNotFound code 25 (JSON). Both before GraphQL runs.
 * - The first certificate-authenticated call sets the runtime CONNECTED; the first one whose body mentions "bundle"
 *   adds the label `useBundles: "true"` (after answering it).
 * - Errors are rendered by Compass's error presenter: `{message, path, extensions: {error, error_code}}`; internal
 *   errors carry gqlgen's `input: <path> ` prefix in their reason.
 * - Nested lists (bundles, API and event definitions) come back in varying order within a page (`nestedOrder`).
 */
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
import { directorInternalError, gqlerrorText } from "./gqlgen-errors.js";
import { normalizeName } from "./normalize.js";
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
import {
  runtimeLabels,
  type Application,
  type Auth,
  type Bundle,
  type BundleInstanceAuth,
  type CompassState,
  type Credential,
  type JsonValue,
  type Runtime,
  type SystemAuth,
  type Version,
} from "./state.js";

export { normalizeName };

/**
 * How the simulated Director behaves where the simulator used to differ from real Compass (all default to real
 * Compass; the legacy switches exist for old tests and tools only).
 */
export interface DirectorOptions {
  /**
   * Order of nested lists (bundles, API and event definitions) inside a page. `"varying"` (default): like real
   * Compass (a SQL UNION without an outer ORDER BY), the page holds the right items but their order changes between
   * identical calls, most of the time for any list of 2 or more. `"id"`: always ordered by id.
   */
  nestedOrder?: "varying" | "id";
  /** Seed of the PRNG behind `nestedOrder: "varying"` (default a fixed value: reproducible call sequences). */
  nestedOrderSeed?: number;
  /**
   * Legacy: a certificate without identity (revoked, unknown CN, expired in simulator time) gets HTTP 200 with a code
   * 23 "insufficient scopes" error per root field instead of HTTP 401 code 26; any foreign Tenant header (unknown or
   * another tenant) gets HTTP 400 TenantNotFound without Content-Type.
   */
  legacyDirectorAuth?: boolean;
  /** Legacy: runtime labels as stored only (no `scenarios` derived from formations, no `useBundles` added). */
  legacyRuntimeLabels?: boolean;
}

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
  options?: DirectorOptions;
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
  Unauthorized: 26,
  InvalidOperation: 27,
});

const ERROR_NAMES: Record<number, string> = {
  10: "InternalError",
  20: "NotFound",
  22: "InvalidData",
  23: "InsufficientScopes",
  25: "TenantNotFound",
  26: "Unauthorized",
  27: "InvalidOperation",
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

function notFound(object: string, id?: string): AppError {
  return new AppError(ErrorCode.NotFound, withArguments("Object not found", { object, ...(id !== undefined ? { ID: id } : {}) }));
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

/** gqlgen's `ast.Path.String()`: `result.data[0].bundles`. */
export function gqlgenPath(path: ReadonlyArray<string | number>): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

/** Compass's error presenter (components/director/internal/error_presenter/presenter.go). */
export function presentDirectorError(error: GraphQLError): GraphQLErrorJson {
  const original = error.originalError;
  const path = error.path ? { path: error.path } : {};
  if (original instanceof AppError) {
    if (original.code === ErrorCode.InternalError) return directorInternalError(undefined, error.path);
    return {
      message: original.message,
      ...path,
      extensions: { error: ERROR_NAMES[original.code] ?? `ErrorType(${original.code})`, error_code: original.code },
    };
  }
  if (original !== undefined && !(original instanceof GraphQLError)) {
    // The reason is gqlgen's gqlerror text: `input: <path> <message>` (no location for resolver errors).
    const where = error.path && error.path.length > 0 ? `${gqlgenPath(error.path)} ` : "";
    return directorInternalError(gqlerrorText(`${where}${original.message}`), error.path);
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

/**
 * Labels without the protected `<appId>_defaultEventing` ones; one key only when asked. Keys in Go's map order
 * (sorted), as Compass's JSON encoder writes them.
 */
function visibleLabels(labels: ReadonlyMap<string, JsonValue>, key: string | null | undefined): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of [...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
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
  order: NestedOrder;
  legacyRuntimeLabels: boolean;
}

// ---- nested list order ----

/** mulberry32: a small, fast, seedable PRNG. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULT_NESTED_ORDER_SEED = 0x5eed_c0de;

/**
 * Real Compass pages nested lists with a SQL UNION of per-parent `ORDER BY id LIMIT/OFFSET` queries and no outer
 * ORDER BY: a page holds the right items, in whatever order PostgreSQL returns them. Here each page is shuffled; when
 * the shuffle repeats the order of the previous answer for the same page it is drawn once more, so consecutive
 * identical calls differ for a list of 2 in about 3 of 4 calls and nearly always for longer lists.
 */
export class NestedOrder {
  readonly #random: (() => number) | undefined;
  /** page key → signature of the order last answered. */
  readonly #last = new Map<string, number>();

  constructor(mode: "varying" | "id" = "varying", seed: number = DEFAULT_NESTED_ORDER_SEED) {
    this.#random = mode === "id" ? undefined : mulberry32(seed);
  }

  #permutation(n: number): number[] {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.#random!() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }

  arrange<T>(key: string, page: Page<T>): Page<T> {
    const n = page.data.length;
    if (this.#random === undefined || n < 2) return page;
    const signature = (order: number[]) => order.reduce((h, i) => Math.imul(h ^ i, 16777619) >>> 0, 2166136261);
    let order = this.#permutation(n);
    if (this.#last.get(key) === signature(order)) order = this.#permutation(n);
    if (this.#last.size >= 100_000) this.#last.clear();
    this.#last.set(key, signature(order));
    return { ...page, data: order.map((i) => page.data[i]!) };
  }
}

function nestedPage<T>(
  ctx: DirectorContext,
  key: string,
  items: readonly T[],
  args: { first?: number | null; after?: string | null },
): Page<T> {
  const page = paginate(items, args.first, args.after, true);
  return ctx.order.arrange(`${key}@${args.after ?? ""}/${page.data.length}`, page);
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
      // Compass fails converting the id, and its presenter hides the reason of this one.
      if (!UUID_PATTERN.test(args.id)) throw new AppError(ErrorCode.InternalError, `while converting id to UUID: ${uuidError(args.id)}`);
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
      let page: Page<Application>;
      try {
        page = paginate(ctx.state.applicationsVisibleTo(runtime), args.first, args.after, false);
      } catch (error) {
        if (error instanceof AppError) throw error;
        throw new Error(`while getting all Application for Runtime: ${(error as Error).message}`, { cause: error });
      }
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
      if (!runtime.labels.has(args.key)) throw notFound("runtimeLabel");
      const value = runtime.labels.get(args.key)!;
      runtime.labels.delete(args.key);
      return { key: args.key, value };
    },
  },
  Runtime: {
    metadata: (runtime: Runtime) => ({ creationTimestamp: runtime.createdAt }),
    description: (runtime: Runtime) => runtime.description ?? null,
    labels: (runtime: Runtime, args: { key?: string | null }, ctx: DirectorContext) =>
      visibleLabels(ctx.legacyRuntimeLabels ? runtime.labels : runtimeLabels(runtime), args.key),
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
    bundles: (ref: ApplicationRef, args: { first?: number | null; after?: string | null }, ctx: DirectorContext) =>
      nestedPage(ctx, `bundles:${ref.app.id}`, ref.app.bundles, args),
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
    apiDefinitions: (
      bundle: Bundle,
      args: { group?: string | null; first?: number | null; after?: string | null },
      ctx: DirectorContext,
    ) => nestedPage(ctx, `apis:${bundle.id}:${args.group ?? ""}`, byGroup(bundle.apiDefinitions, args.group), args),
    eventDefinitions: (
      bundle: Bundle,
      args: { group?: string | null; first?: number | null; after?: string | null },
      ctx: DirectorContext,
    ) => nestedPage(ctx, `events:${bundle.id}:${args.group ?? ""}`, byGroup(bundle.eventDefinitions, args.group), args),
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
  // Compass stores false for flags a registration leaves out.
  Version: {
    deprecated: (version: Version) => version.deprecated ?? false,
    forRemoval: (version: Version) => version.forRemoval ?? false,
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

/** HTTP 400 from Compass's tenant middleware (legacy: without Content-Type). */
function tenantNotFound(externalTenant: string, noContentType: boolean): GraphQLHttpResult {
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
    ...(noContentType ? { noContentType: true } : {}),
  };
}

export const UNAUTHORIZED_MESSAGE = "Unauthorized [reason=consumer with type <nil> is not supported]";

/** HTTP 401 of Compass's auth middleware when the token carries no consumer (no identity, or no such tenant). */
function unauthorized(): GraphQLHttpResult {
  return {
    status: 401,
    body: {
      errors: [{ message: UNAUTHORIZED_MESSAGE, extensions: { error: "Unauthorized", error_code: ErrorCode.Unauthorized } }],
      data: null,
    },
    operations: [],
  };
}

/** Whether a request body mentions bundles (what makes Compass add `useBundles: "true"` to the calling runtime). */
function mentionsBundle(body: GraphQLRequestBody): boolean {
  return JSON.stringify(body).includes("bundle");
}

/** Parsed and validated operations, by query text and operation name (clients repeat the same few queries). */
class PreparedCache {
  readonly #entries = new Map<string, PreparedOperation | GraphQLHttpResult>();
  constructor(private readonly limit = 200) {}

  get(schema: GraphQLSchema, body: GraphQLRequestBody): PreparedOperation | GraphQLHttpResult {
    const key = `${body.operationName ?? ""}\u0000${body.query}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = prepareOperation(schema, body, "director");
      // Error answers carry a fresh errorID each time: only successful preparations are cached.
      if (isHttpResult(entry)) return entry;
      if (this.#entries.size >= this.limit) this.#entries.clear();
      this.#entries.set(key, entry);
    }
    return entry;
  }
}

export const createDirector: DirectorFactory = ({ state, options = {} }) => {
  const schema = directorSchema();
  const prepared = new PreparedCache();
  const order = new NestedOrder(options.nestedOrder ?? "varying", options.nestedOrderSeed ?? DEFAULT_NESTED_ORDER_SEED);
  const legacyAuth = options.legacyDirectorAuth ?? false;
  const legacyRuntimeLabels = options.legacyRuntimeLabels ?? false;
  return {
    async handle(request: DirectorRequest): Promise<GraphQLHttpResult> {
      const identity = request.auth.identity;
      let consumer: Consumer | undefined;
      if (identity?.via !== "certificate") {
        if (!legacyAuth) return unauthorized();
      } else {
        const systemAuth = identity.systemAuth;
        const header = headerValue(request.headers, "tenant");
        if (header !== undefined && header !== "") {
          if (legacyAuth) {
            if (header !== systemAuth.tenant || !state.tenants.has(header)) return tenantNotFound(header, true);
          } else if (!state.tenants.has(header)) {
            return unauthorized();
          } else if (header !== systemAuth.tenant) {
            return tenantNotFound(header, false);
          }
        }
        if (systemAuth.refType === "Runtime") {
          consumer = { runtimeId: systemAuth.refId, tenant: systemAuth.tenant, scopes: RUNTIME_SCOPES };
          const runtime = state.runtimes.get(systemAuth.refId);
          if (runtime) state.markRuntimeConnected(runtime);
        }
      }
      const operation = prepared.get(schema, request.body);
      let result: GraphQLHttpResult;
      if (isHttpResult(operation)) {
        result = operation;
      } else {
        const context: DirectorContext = { state, order, legacyRuntimeLabels, ...(consumer ? { consumer } : {}) };
        result = await executeOperation(schema, request.body, operation, undefined, context, presentDirectorError);
      }
      // Added after the answer: the first request that mentions bundles does not show it yet.
      if (consumer && !legacyRuntimeLabels && mentionsBundle(request.body)) {
        const runtime = state.runtimes.get(consumer.runtimeId);
        if (runtime && !runtime.labels.has("useBundles")) runtime.labels.set("useBundles", "true");
      }
      return result;
    },
  };
};
