/**
 * Every failure of a Director call is a DirectorError with a stable `code`.
 * `retryable` says whether the same call can succeed later without anybody changing anything.
 */
export const DirectorErrorCode = {
  /**
   * The client certificate was not accepted, or it lacks a scope (HTTP 401/403, Compass codes 23 and 26). Real Compass
   * answers HTTP 401 code 26 both to a revoked or unknown certificate and to a Tenant header that names no tenant it
   * knows: `tenantHeader` says whether the request carried one.
   */
  AUTH_FAILED: "DIRECTOR_AUTH_FAILED",
  /** The Tenant header names an existing tenant that is not the runtime's (Compass codes 24 and 25, HTTP 400). */
  TENANT_NOT_FOUND: "DIRECTOR_TENANT_NOT_FOUND",
  /** The runtime does not exist in the tenant (a null `runtime`, or Compass says so). */
  RUNTIME_NOT_FOUND: "DIRECTOR_RUNTIME_NOT_FOUND",
  /** Something the call names does not exist (Compass code 20), e.g. a label key that is not set. */
  NOT_FOUND: "DIRECTOR_NOT_FOUND",
  /** Compass refused the input (Compass codes 21, 22, 29, 31, HTTP 400), e.g. an invalid label key. */
  INVALID_DATA: "DIRECTOR_INVALID_DATA",
  /** Compass refused the operation for another reason that a retry will not change (codes 27, 30, 33, 34, 36, 37). */
  REJECTED: "DIRECTOR_REJECTED",
  /** A concurrent operation is in the way (codes 32, 35, 38, HTTP 409). */
  CONFLICT: "DIRECTOR_CONFLICT",
  /** Compass failed internally (codes 10, 11, 28). */
  INTERNAL: "DIRECTOR_INTERNAL_ERROR",
  /**
   * Compass could not read, parse or validate our request (HTTP 422, or HTTP 400 with Compass code 10): this client
   * and that Director disagree on the schema or the request format.
   */
  QUERY_REJECTED: "DIRECTOR_QUERY_REJECTED",
  /** HTTP 429. `retryAfterMs` says how long Compass asked us to wait, when it did. */
  RATE_LIMITED: "DIRECTOR_RATE_LIMITED",
  /** Connection refused or reset, DNS failure, HTTP 5xx. */
  UNAVAILABLE: "DIRECTOR_UNAVAILABLE",
  /** The TLS handshake failed: untrusted server certificate, client certificate refused, ... */
  TLS_FAILED: "DIRECTOR_TLS_FAILED",
  /** The HTTP(S) proxy refused the CONNECT tunnel (e.g. 403, 407, 502) or could not be reached. */
  PROXY_FAILED: "DIRECTOR_PROXY_FAILED",
  /** The answer is not what the schema promises: non-JSON, `{}`, null where Compass never sends null, bad scalars. */
  BAD_RESPONSE: "DIRECTOR_BAD_RESPONSE",
  /**
   * The pages of a listing did not fit together twice in a row (items moved while we paged, or a cursor loop). With
   * `allowInconsistent` the listing is returned instead, marked `consistent: false`.
   */
  INCONSISTENT_PAGING: "DIRECTOR_INCONSISTENT_PAGING",
  /** No answer within the timeout. */
  TIMEOUT: "DIRECTOR_TIMEOUT",
  /** The caller aborted the call through its AbortSignal. */
  ABORTED: "DIRECTOR_ABORTED",
  /** The caller passed an argument the Director would refuse (checked before any request). */
  INVALID_ARGUMENT: "DIRECTOR_INVALID_ARGUMENT",
} as const;

export type DirectorErrorCode = (typeof DirectorErrorCode)[keyof typeof DirectorErrorCode];

const RETRYABLE: Record<DirectorErrorCode, boolean> = {
  DIRECTOR_AUTH_FAILED: false,
  DIRECTOR_TENANT_NOT_FOUND: false,
  DIRECTOR_RUNTIME_NOT_FOUND: false,
  DIRECTOR_NOT_FOUND: false,
  DIRECTOR_INVALID_DATA: false,
  DIRECTOR_REJECTED: false,
  DIRECTOR_CONFLICT: true,
  DIRECTOR_INTERNAL_ERROR: true,
  DIRECTOR_QUERY_REJECTED: false,
  DIRECTOR_RATE_LIMITED: true,
  DIRECTOR_UNAVAILABLE: true,
  DIRECTOR_TLS_FAILED: false,
  DIRECTOR_PROXY_FAILED: true,
  DIRECTOR_BAD_RESPONSE: true,
  DIRECTOR_INCONSISTENT_PAGING: true,
  DIRECTOR_TIMEOUT: true,
  DIRECTOR_ABORTED: false,
  DIRECTOR_INVALID_ARGUMENT: false,
};

/** Compass's own error codes (`extensions.error_code`, components/director/pkg/apperrors). */
export const CompassErrorCode = {
  InternalError: 10,
  UnknownError: 11,
  NotFound: 20,
  NotUnique: 21,
  InvalidData: 22,
  InsufficientScopes: 23,
  TenantRequired: 24,
  TenantNotFound: 25,
  Unauthorized: 26,
  InvalidOperation: 27,
  OperationTimeout: 28,
  EmptyData: 29,
  InconsistentData: 30,
  NotUniqueName: 31,
  ConcurrentOperation: 32,
  InvalidStatusCondition: 33,
  CannotUpdateObjectInManyBundles: 34,
  ConcurrentUpdate: 35,
  EmptyParentID: 36,
  NoScheduledOperations: 37,
  OperationInProgress: 38,
  BadRequest: 400,
  Conflict: 409,
} as const;

/** One entry of a GraphQL `errors[]`, as far as the client could read it. */
export interface CompassGraphQLError {
  message: string;
  /** Field path, e.g. ["applicationsForRuntime"]; absent for errors raised before GraphQL execution. */
  path?: (string | number)[] | undefined;
  /** `extensions.error_code` */
  code?: number | undefined;
  /** `extensions.error`, e.g. "InvalidData" */
  errorName?: string | undefined;
}

export interface DirectorErrorDetails {
  cause?: unknown;
  /** HTTP status of the answer, when there was one. */
  status?: number | undefined;
  /** Milliseconds Compass asked us to wait (Retry-After), when it did. */
  retryAfterMs?: number | undefined;
  /** The x-request-id the call carried, to find it in Compass's logs. */
  requestId?: string | undefined;
  operation?: string | undefined;
  /** The GraphQL errors Compass returned, when it returned some. */
  graphqlErrors?: CompassGraphQLError[] | undefined;
  /** The Compass error code the classification is based on, when there was one. */
  compassErrorCode?: number | undefined;
  /** For BAD_RESPONSE found while converting: the application the bad value belongs to. */
  applicationId?: string | undefined;
  /** For BAD_RESPONSE found while converting: where the bad value is, e.g. `bundles.data[0].name`. */
  field?: string | undefined;
  /** The Tenant header the failing request carried. */
  tenantHeader?: string | undefined;
}

export class DirectorError extends Error {
  override readonly name = "DirectorError";
  readonly code: DirectorErrorCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;
  readonly operation: string | undefined;
  readonly graphqlErrors: readonly CompassGraphQLError[];
  readonly compassErrorCode: number | undefined;
  readonly applicationId: string | undefined;
  readonly field: string | undefined;
  /**
   * The Tenant header the failing request carried, on errors mapped from the Director's answer or from the transport;
   * undefined when the request carried none (Compass then takes the tenant from the certificate), and on errors found
   * by the client itself (INVALID_ARGUMENT, BAD_RESPONSE, INCONSISTENT_PAGING). With DIRECTOR_AUTH_FAILED, a defined
   * value means the cause may be that tenant rather than the certificate.
   */
  readonly tenantHeader: string | undefined;

  constructor(code: DirectorErrorCode, message: string, details: DirectorErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retryable = RETRYABLE[code];
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.requestId = details.requestId;
    this.operation = details.operation;
    this.graphqlErrors = details.graphqlErrors ?? [];
    this.compassErrorCode = details.compassErrorCode;
    this.applicationId = details.applicationId;
    this.field = details.field;
    this.tenantHeader = details.tenantHeader;
  }
}

export function isDirectorError(error: unknown): error is DirectorError {
  return error instanceof DirectorError;
}

/** Whether a DirectorError with this code can succeed on a later attempt without anybody changing anything. */
export function isRetryableCode(code: DirectorErrorCode): boolean {
  return RETRYABLE[code];
}
