import { classifyTransportError, GraphQLResponseError, parseRetryAfter } from "@runtime-agent/connector-client";
import { CompassErrorCode, DirectorError, DirectorErrorCode } from "./errors.js";
import type { CompassGraphQLError } from "./errors.js";

export interface FailureContext {
  operation: string;
  requestId: string;
  /** The per-request timeout fired. */
  timedOut: boolean;
  /** The caller's signal fired. */
  aborted: boolean;
  /** The Tenant header the request carried, if any. */
  tenant?: string | undefined;
}

/** Compass `extensions.error_code` → our code. Unknown codes are left to the HTTP status and the message. */
export function codeForCompassError(code: number): DirectorErrorCode | undefined {
  switch (code) {
    case CompassErrorCode.InternalError:
    case CompassErrorCode.UnknownError:
    case CompassErrorCode.OperationTimeout:
      return DirectorErrorCode.INTERNAL;
    case CompassErrorCode.NotFound:
      return DirectorErrorCode.NOT_FOUND;
    case CompassErrorCode.NotUnique:
    case CompassErrorCode.InvalidData:
    case CompassErrorCode.EmptyData:
    case CompassErrorCode.NotUniqueName:
    case CompassErrorCode.BadRequest:
      return DirectorErrorCode.INVALID_DATA;
    case CompassErrorCode.InsufficientScopes:
    case CompassErrorCode.Unauthorized:
      return DirectorErrorCode.AUTH_FAILED;
    case CompassErrorCode.TenantRequired:
    case CompassErrorCode.TenantNotFound:
      return DirectorErrorCode.TENANT_NOT_FOUND;
    case CompassErrorCode.ConcurrentOperation:
    case CompassErrorCode.ConcurrentUpdate:
    case CompassErrorCode.OperationInProgress:
    case CompassErrorCode.Conflict:
      return DirectorErrorCode.CONFLICT;
    case CompassErrorCode.InvalidOperation:
    case CompassErrorCode.InconsistentData:
    case CompassErrorCode.InvalidStatusCondition:
    case CompassErrorCode.CannotUpdateObjectInManyBundles:
    case CompassErrorCode.EmptyParentID:
    case CompassErrorCode.NoScheduledOperations:
      return DirectorErrorCode.REJECTED;
    default:
      return undefined;
  }
}

/** When several errors come back, the one a retry cannot fix decides. */
const PRIORITY: DirectorErrorCode[] = [
  DirectorErrorCode.AUTH_FAILED,
  DirectorErrorCode.TENANT_NOT_FOUND,
  DirectorErrorCode.RUNTIME_NOT_FOUND,
  DirectorErrorCode.QUERY_REJECTED,
  DirectorErrorCode.INVALID_DATA,
  DirectorErrorCode.NOT_FOUND,
  DirectorErrorCode.REJECTED,
  DirectorErrorCode.CONFLICT,
  DirectorErrorCode.INTERNAL,
];

// "runtime does not exist" (applicationsForRuntime, code 22) and "Runtime with ID … doesn't exist" (label
// mutations, rendered as code 10 by Compass's error presenter).
const RUNTIME_MISSING = /runtime (with id \S+ )?does(n't| not) exist/i;
const AUTH_MESSAGE = /insufficient scopes|unauthori[sz]ed|authenticat/i;
const QUERY_ERROR_CODES = new Set(["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"]);

function classifyGraphQLError(error: CompassGraphQLError & { extensionCode?: string | undefined }): DirectorErrorCode | undefined {
  if (RUNTIME_MISSING.test(error.message)) return DirectorErrorCode.RUNTIME_NOT_FOUND;
  if (error.extensionCode !== undefined && QUERY_ERROR_CODES.has(error.extensionCode)) return DirectorErrorCode.QUERY_REJECTED;
  if (error.code !== undefined) {
    const mapped = codeForCompassError(error.code);
    if (mapped) return mapped;
  }
  if (AUTH_MESSAGE.test(error.message)) return DirectorErrorCode.AUTH_FAILED;
  return undefined;
}

type ReadError = CompassGraphQLError & { extensionCode?: string | undefined };

/** Reads an `errors[]` defensively: Compass bodies are not trusted either. */
export function readGraphQLErrors(value: unknown): ReadError[] {
  if (!Array.isArray(value)) return [];
  return value.map((entry): ReadError => {
    const obj = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>) : {};
    const extensions =
      typeof obj["extensions"] === "object" && obj["extensions"] !== null ? (obj["extensions"] as Record<string, unknown>) : {};
    const path = Array.isArray(obj["path"])
      ? (obj["path"] as unknown[]).filter((p): p is string | number => typeof p === "string" || typeof p === "number")
      : undefined;
    const code = extensions["error_code"];
    return {
      message: typeof obj["message"] === "string" ? obj["message"] : JSON.stringify(entry),
      path,
      code: typeof code === "number" ? code : undefined,
      errorName: typeof extensions["error"] === "string" ? extensions["error"] : undefined,
      extensionCode: typeof extensions["code"] === "string" ? extensions["code"] : undefined,
    };
  });
}

function summarize(errors: readonly CompassGraphQLError[]): string {
  return errors
    .map((e) => {
      const where = e.path && e.path.length > 0 ? ` at ${e.path.join(".")}` : "";
      const code = e.code === undefined ? "" : ` [${e.errorName ?? "code"} ${e.code}]`;
      return `${e.message}${where}${code}`;
    })
    .join("; ");
}

const ADVICE: Partial<Record<DirectorErrorCode, string>> = {
  DIRECTOR_TENANT_NOT_FOUND: "the TENANT in the agent configuration does not match the runtime's tenant",
  DIRECTOR_RUNTIME_NOT_FOUND: "check RUNTIME_ID, or whether the runtime was unregistered from Compass",
  DIRECTOR_QUERY_REJECTED: "the Director could not read this client's request: this client's queries do not match this Director's schema",
  DIRECTOR_RATE_LIMITED: "Compass asked us to slow down",
};

/**
 * Real Compass answers HTTP 401 code 26 ("consumer with type <nil> is not supported") alike to a revoked or unknown
 * certificate and to a Tenant header that names no tenant it knows; only the second needs a configuration change.
 */
function authAdvice(tenant: string | undefined, insufficientScopes: boolean): string {
  const certificate = insufficientScopes
    ? "the runtime's client certificate lacks a scope or is not accepted"
    : "the runtime's client certificate is revoked or unknown to Compass";
  if (tenant === undefined) return `${certificate}; renew the certificate or re-pair the runtime`;
  return (
    `${certificate}, or the Tenant header ${JSON.stringify(tenant)} is not a tenant Compass knows (check TENANT in the agent ` +
    "configuration); if TENANT is right, renew the certificate or re-pair the runtime"
  );
}

/** Maps anything a Director request can throw to a DirectorError. */
export function toDirectorError(error: unknown, context: FailureContext): DirectorError {
  const { operation, requestId, tenant } = context;
  const base = { operation, requestId, cause: error, tenantHeader: tenant };
  if (error instanceof DirectorError) return error;
  if (context.aborted) return new DirectorError(DirectorErrorCode.ABORTED, `${operation} was aborted`, base);
  if (context.timedOut) {
    return new DirectorError(DirectorErrorCode.TIMEOUT, `${operation}: the Director did not answer in time`, base);
  }
  if (error instanceof GraphQLResponseError) {
    const { status } = error.response;
    let raw: unknown = error.response.errors;
    if (raw === undefined && typeof error.response.body === "string") {
      try {
        raw = (JSON.parse(error.response.body) as { errors?: unknown }).errors;
      } catch {
        raw = undefined;
      }
    }
    const errors = readGraphQLErrors(raw);
    const retryAfterMs = parseRetryAfter(error.response.headers?.get("retry-after"));
    const classified = errors.map(classifyGraphQLError).filter((c): c is DirectorErrorCode => c !== undefined);
    const fromErrors = PRIORITY.find((code) => classified.includes(code));
    const compassErrorCode = errors.find((e) => e.code !== undefined && classifyGraphQLError(e) === fromErrors)?.code;
    const summary = errors.length > 0 ? summarize(errors) : `HTTP ${status}`;
    const graphqlErrors: CompassGraphQLError[] = errors.map(({ message, path, code, errorName }) => ({ message, path, code, errorName }));
    const details = { ...base, status, retryAfterMs, graphqlErrors, compassErrorCode };

    let code: DirectorErrorCode;
    if (status === 401 || status === 403) code = DirectorErrorCode.AUTH_FAILED;
    else if (status === 429) code = DirectorErrorCode.RATE_LIMITED;
    else if (status === 422) code = DirectorErrorCode.QUERY_REJECTED;
    else if (status === 408) code = DirectorErrorCode.TIMEOUT;
    else if (status >= 500) code = DirectorErrorCode.UNAVAILABLE;
    // HTTP 400 with InternalError 10: the Director could not decode the request body.
    else if (status === 400 && fromErrors === DirectorErrorCode.INTERNAL) code = DirectorErrorCode.QUERY_REJECTED;
    else if (status >= 400) code = fromErrors ?? DirectorErrorCode.REJECTED;
    else if (status >= 200 && status < 300) code = fromErrors ?? DirectorErrorCode.REJECTED;
    else code = DirectorErrorCode.BAD_RESPONSE;

    const advice = code === DirectorErrorCode.AUTH_FAILED ? authAdvice(tenant, status !== 401 && compassErrorCode === 23) : ADVICE[code];
    const partial = status >= 200 && status < 300 && hasData(error.response.data) ? " (the answer was partial)" : "";
    const message = `${operation}: the Director answered with an error${partial}: ${summary}${advice ? `; ${advice}` : ""}`;
    return new DirectorError(code, message, details);
  }
  if (error instanceof TypeError && (error.message === "fetch failed" || error.cause !== undefined)) {
    const { kind, detail } = classifyTransportError(error);
    if (kind === "proxy") {
      return new DirectorError(DirectorErrorCode.PROXY_FAILED, `${operation}: the proxy to the Director refused or could not be reached: ${detail}`, base);
    }
    return kind === "tls"
      ? new DirectorError(DirectorErrorCode.TLS_FAILED, `${operation}: TLS with the Director failed: ${detail}`, base)
      : new DirectorError(DirectorErrorCode.UNAVAILABLE, `${operation}: cannot reach the Director: ${detail}`, base);
  }
  const name = error instanceof Error ? error.name : "";
  if (name === "AbortError" || name === "TimeoutError") {
    return new DirectorError(DirectorErrorCode.TIMEOUT, `${operation}: the Director did not answer in time`, base);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new DirectorError(DirectorErrorCode.BAD_RESPONSE, `${operation}: unreadable answer from the Director: ${message}`, base);
}

function hasData(data: unknown): boolean {
  return typeof data === "object" && data !== null && Object.values(data).some((v) => v !== null && v !== undefined);
}
