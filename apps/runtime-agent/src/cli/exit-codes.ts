import { CertificateError } from "@runtime-agent/cert-manager";
import { ConnectorError, ConnectorErrorCode } from "@runtime-agent/connector-client";
import { DirectorError, DirectorErrorCode } from "@runtime-agent/director-client";

/** Exit codes every command shares; scripts rely on them. */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  /** Compass refused: token invalid, used or expired; certificate rejected or revoked (or Compass could not authenticate it). */
  REFUSED: 3,
  /** Compass unreachable (also through the proxy), timed out, or TLS failed. */
  UNREACHABLE: 4,
  /** Compass answered something unusable, or a certificate check failed. */
  BAD_RESPONSE: 5,
} as const;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return ExitCode.USAGE;
  if (error instanceof CertificateError) return ExitCode.BAD_RESPONSE;
  if (error instanceof ConnectorError) {
    switch (error.code) {
      case ConnectorErrorCode.AUTH_FAILED:
      case ConnectorErrorCode.NOT_AUTHENTICATED:
      case ConnectorErrorCode.REJECTED:
        return ExitCode.REFUSED;
      case ConnectorErrorCode.UNAVAILABLE:
      case ConnectorErrorCode.TIMEOUT:
      case ConnectorErrorCode.TLS_FAILED:
      case ConnectorErrorCode.PROXY_FAILED:
      case ConnectorErrorCode.ABORTED:
        return ExitCode.UNREACHABLE;
      case ConnectorErrorCode.BAD_RESPONSE:
        return ExitCode.BAD_RESPONSE;
    }
  }
  if (error instanceof DirectorError) {
    switch (error.code) {
      case DirectorErrorCode.AUTH_FAILED:
      case DirectorErrorCode.TENANT_NOT_FOUND:
      case DirectorErrorCode.RUNTIME_NOT_FOUND:
      case DirectorErrorCode.NOT_FOUND:
      case DirectorErrorCode.INVALID_DATA:
      case DirectorErrorCode.REJECTED:
      case DirectorErrorCode.QUERY_REJECTED:
      case DirectorErrorCode.INVALID_ARGUMENT:
        return ExitCode.REFUSED;
      case DirectorErrorCode.BAD_RESPONSE:
      case DirectorErrorCode.INCONSISTENT_PAGING:
        return ExitCode.BAD_RESPONSE;
      default:
        return ExitCode.UNREACHABLE;
    }
  }
  return ExitCode.FAILURE;
}

/** One line for stderr: the stable code first, so scripts and people can grep it. */
export function describeError(error: unknown): string {
  if (error instanceof ConnectorError || error instanceof CertificateError || error instanceof DirectorError) {
    return `${error.code}: ${error.message}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
