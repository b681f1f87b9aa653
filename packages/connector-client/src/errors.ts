/**
 * Every failure of a Connector call is a ConnectorError with a stable `code`.
 * `retryable` says whether the same call can succeed later without anybody changing anything.
 */
export const ConnectorErrorCode = {
  /**
   * Compass answered with a GraphQL authentication error ("Failed to authenticate request…", HTTP 401/403): the token
   * is unknown, used or expired, or the client certificate is unknown or revoked.
   */
  AUTH_FAILED: "CONNECTOR_AUTH_FAILED",
  /**
   * HTTP 400 with an empty body, real Compass's answer to every unauthenticated Connector call (either listener):
   * the one-time token was used, expired or unknown, or the client certificate is revoked or unknown — or Compass's
   * own authentication chain is failing (e.g. the Director is down), in which case a token is NOT spent and a later
   * attempt with it can succeed. Not retryable: on its own, the same call fails the same way.
   */
  NOT_AUTHENTICATED: "CONNECTOR_NOT_AUTHENTICATED",
  /** Compass refused the request itself, e.g. a CSR with a wrong subject. */
  REJECTED: "CONNECTOR_REJECTED",
  /** Connection refused or reset, DNS failure, HTTP 429 or 5xx. */
  UNAVAILABLE: "CONNECTOR_UNAVAILABLE",
  /** The TLS handshake failed: untrusted server certificate, client certificate refused, ... */
  TLS_FAILED: "CONNECTOR_TLS_FAILED",
  /**
   * The HTTP(S) proxy (ProxyConfig; the agent's HTTPS_PROXY) refused the CONNECT tunnel (e.g. 403, 407, 502) or could
   * not be reached. Nothing reached Compass: a one-time token is not spent.
   */
  PROXY_FAILED: "CONNECTOR_PROXY_FAILED",
  /** The answer is not what the schema promises: non-JSON, missing or null fields, unexpected status. */
  BAD_RESPONSE: "CONNECTOR_BAD_RESPONSE",
  /** No answer within the timeout. */
  TIMEOUT: "CONNECTOR_TIMEOUT",
  /** The caller aborted the call through its AbortSignal. */
  ABORTED: "CONNECTOR_ABORTED",
} as const;

export type ConnectorErrorCode = (typeof ConnectorErrorCode)[keyof typeof ConnectorErrorCode];

const RETRYABLE: Record<ConnectorErrorCode, boolean> = {
  CONNECTOR_AUTH_FAILED: false,
  CONNECTOR_NOT_AUTHENTICATED: false,
  CONNECTOR_REJECTED: false,
  CONNECTOR_UNAVAILABLE: true,
  CONNECTOR_TLS_FAILED: false,
  CONNECTOR_PROXY_FAILED: true,
  CONNECTOR_BAD_RESPONSE: true,
  CONNECTOR_TIMEOUT: true,
  CONNECTOR_ABORTED: false,
};

export interface ConnectorErrorDetails {
  cause?: unknown;
  /** HTTP status of the answer, when there was one. */
  status?: number;
  /** Milliseconds Compass asked us to wait (Retry-After), when it did. */
  retryAfterMs?: number;
  /** The x-request-id the call carried, to find it in Compass's logs. */
  requestId?: string;
  operation?: string;
}

export class ConnectorError extends Error {
  override readonly name = "ConnectorError";
  readonly code: ConnectorErrorCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;
  readonly operation: string | undefined;

  constructor(code: ConnectorErrorCode, message: string, details: ConnectorErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retryable = RETRYABLE[code];
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.requestId = details.requestId;
    this.operation = details.operation;
  }
}

export function isConnectorError(error: unknown): error is ConnectorError {
  return error instanceof ConnectorError;
}
