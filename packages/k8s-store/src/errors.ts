/**
 * K8sStoreError: the only error type the store throws. `code` is stable, `retryable` says whether trying the
 * same call again later can help, `cause` keeps the original error. Messages carry the operation, the object and
 * the API server's Status message, never Secret data.
 */

export type K8sStoreErrorCode =
  /** The object (or the resource type: CRD not installed) does not exist. HTTP 404. */
  | "K8S_NOT_FOUND"
  /** Optimistic concurrency failure (resourceVersion or uid precondition). HTTP 409, reason Conflict. Retryable. */
  | "K8S_CONFLICT"
  /** Create of an object that exists. HTTP 409, reason AlreadyExists. */
  | "K8S_ALREADY_EXISTS"
  /** RBAC denies the request. HTTP 403. */
  | "K8S_FORBIDDEN"
  /** The credentials were rejected (expired token, wrong certificate). HTTP 401. Retryable: tokens are re-read. */
  | "K8S_UNAUTHORIZED"
  /** The object is invalid (schema, pattern, enum, bad patch). HTTP 400, 415, 422. */
  | "K8S_INVALID"
  /** A watch's resourceVersion is too old. HTTP 410. Informers re-list. */
  | "K8S_GONE"
  /** The API server cannot be reached or is overloaded (network error, timeout, 429, 5xx). Retryable. */
  | "K8S_UNAVAILABLE"
  /** No usable kubeconfig (file missing, no current context, not in a cluster). */
  | "K8S_CONFIG"
  /**
   * A write refused before it was sent: the store is fenced (K8sStore.fence: leadership lost, or shutting down).
   * Nothing reached the API server. Not retryable: a fenced store stays fenced.
   */
  | "K8S_FENCED"
  /** Anything else (unexpected status code or response). */
  | "K8S_UNEXPECTED";

export interface K8sStoreErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** HTTP status code of the API server's answer, when there was one. */
  statusCode?: number;
  /** `reason` of the API server's Status object (e.g. AlreadyExists, Conflict, Invalid). */
  reason?: string;
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<K8sStoreErrorCode> = new Set(["K8S_CONFLICT", "K8S_UNAVAILABLE", "K8S_UNAUTHORIZED", "K8S_GONE"]);

export class K8sStoreError extends Error {
  override readonly name = "K8sStoreError";
  readonly code: K8sStoreErrorCode;
  readonly retryable: boolean;
  readonly statusCode: number | undefined;
  readonly reason: string | undefined;

  constructor(code: K8sStoreErrorCode, message: string, options: K8sStoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.statusCode = options.statusCode;
    this.reason = options.reason;
  }
}

export function isK8sStoreError(err: unknown, code?: K8sStoreErrorCode): err is K8sStoreError {
  return err instanceof K8sStoreError && (code === undefined || err.code === code);
}

export const isNotFound = (err: unknown): boolean => isK8sStoreError(err, "K8S_NOT_FOUND");
export const isConflict = (err: unknown): boolean => isK8sStoreError(err, "K8S_CONFLICT");
export const isAlreadyExists = (err: unknown): boolean => isK8sStoreError(err, "K8S_ALREADY_EXISTS");

/** The fields of a Kubernetes `Status` object the mapping uses. */
export interface ApiStatus {
  reason?: string;
  message?: string;
  code?: number;
}

/** Parses the body of an error answer (a Kubernetes Status, as JSON text; an object is accepted too). */
export function parseStatusBody(body: unknown): ApiStatus | undefined {
  let value: unknown = body;
  if (typeof body === "string") {
    if (body.trim() === "") return undefined;
    try {
      value = JSON.parse(body);
    } catch {
      return { message: body.length > 200 ? `${body.slice(0, 200)}…` : body };
    }
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const out: ApiStatus = {};
  if (typeof v["reason"] === "string") out.reason = v["reason"];
  if (typeof v["message"] === "string") out.message = v["message"];
  if (typeof v["code"] === "number") out.code = v["code"];
  return out;
}

/** Error codes of sockets and undici that mean "the API server is not reachable right now". */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_ABORTED",
  "UND_ERR_REQ_RETRY",
]);

function errorCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string") {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** Walks the `cause` chain (bounded) looking for a network error code. */
function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e !== undefined && e !== null; i++) {
    const c = errorCode(e);
    if (c !== undefined && NETWORK_CODES.has(c)) return c;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const ic = errorCode(inner);
        if (ic !== undefined && NETWORK_CODES.has(ic)) return ic;
      }
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function httpStatusOf(err: unknown): { status: number; body: unknown } | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; headers?: unknown };
  // The store's HttpStatusError (and client-node's ApiException, same shape): numeric `.code`, `.body`, `.headers`.
  if (typeof e.code === "number" && "body" in e && "headers" in e) return { status: e.code, body: e.body };
  // A watch's non-200 answer (watch.ts; client-node's Watch too): `Error(statusText)` with `.statusCode` and `.body`.
  if (typeof e.statusCode === "number") return { status: e.statusCode, body: e.body };
  return undefined;
}

function codeForStatus(status: number, reason: string | undefined): K8sStoreErrorCode {
  switch (status) {
    case 404:
      return "K8S_NOT_FOUND";
    case 409:
      return reason === "AlreadyExists" ? "K8S_ALREADY_EXISTS" : "K8S_CONFLICT";
    case 403:
      return "K8S_FORBIDDEN";
    case 401:
      return "K8S_UNAUTHORIZED";
    case 400:
    case 415:
    case 422:
      return "K8S_INVALID";
    case 410:
      return "K8S_GONE";
    case 408:
    case 429:
      return "K8S_UNAVAILABLE";
    default:
      return status >= 500 ? "K8S_UNAVAILABLE" : "K8S_UNEXPECTED";
  }
}

const HINTS: Partial<Record<K8sStoreErrorCode, string>> = {
  K8S_FORBIDDEN: "grant the agent's ServiceAccount this verb in its (Cluster)Role",
  K8S_UNAUTHORIZED: "check the kubeconfig credentials or the ServiceAccount token",
  K8S_UNAVAILABLE: "the API server is unreachable or overloaded; the call is retried later",
  K8S_CONFLICT: "the object changed meanwhile; re-read it and apply the change again",
};

const MAX_SERVER_MESSAGE = 400;

/**
 * Turns anything a request of the store (or of client-node / undici, for callers who use them) can throw into a K8sStoreError. `operation` names what was attempted, e.g.
 * `get secrets kyma-system/cluster-client-certificates`. The server's Status message is kept (it names objects
 * and fields, not values); request bodies are never part of the message.
 */
export function toK8sStoreError(err: unknown, operation: string): K8sStoreError {
  if (err instanceof K8sStoreError) return err;
  const http = httpStatusOf(err);
  if (http !== undefined) {
    const status = parseStatusBody(http.body);
    const code = codeForStatus(http.status, status?.reason);
    let serverMessage = status?.message ?? (http.status === 401 ? "Unauthorized" : `HTTP ${http.status}`);
    if (serverMessage.length > MAX_SERVER_MESSAGE) serverMessage = `${serverMessage.slice(0, MAX_SERVER_MESSAGE)}…`;
    const hint = HINTS[code];
    return new K8sStoreError(code, `${operation}: ${serverMessage}${hint ? ` (${hint})` : ""}`, {
      cause: err,
      statusCode: http.status,
      ...(status?.reason !== undefined ? { reason: status.reason } : {}),
    });
  }
  const net = networkCode(err);
  if (net !== undefined) {
    return new K8sStoreError("K8S_UNAVAILABLE", `${operation}: API server unreachable (${net}) (${HINTS.K8S_UNAVAILABLE})`, { cause: err });
  }
  if (err instanceof Error) {
    if (err.name === "TimeoutError" || err.name === "AbortError") {
      return new K8sStoreError("K8S_UNAVAILABLE", `${operation}: request timed out or was aborted (${HINTS.K8S_UNAVAILABLE})`, { cause: err });
    }
    if (err instanceof TypeError && err.message === "fetch failed") {
      return new K8sStoreError("K8S_UNAVAILABLE", `${operation}: API server unreachable (fetch failed) (${HINTS.K8S_UNAVAILABLE})`, { cause: err });
    }
  }
  const detail = err instanceof Error ? `${err.name}: ${err.message.split("\n")[0] ?? ""}` : String(err);
  return new K8sStoreError("K8S_UNEXPECTED", `${operation}: ${detail.slice(0, MAX_SERVER_MESSAGE)}`, { cause: err, retryable: false });
}
