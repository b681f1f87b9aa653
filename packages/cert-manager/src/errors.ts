/**
 * Stable error codes of `@runtime-agent/cert-manager`. Callers switch on `error.code`; the strings never change.
 */
export const CertificateErrorCode = {
  /** The subject string is not a distinguished name we can parse (RFC 4514 subset). */
  SubjectInvalid: "CERT_SUBJECT_INVALID",
  /** A private key could not be read, is not RSA, or is encrypted. */
  KeyInvalid: "CERT_KEY_INVALID",
  /** A certificate field is not standard base64 of PEM, holds no certificate, or a block does not parse. */
  BadEncoding: "CERT_BAD_ENCODING",
  /** The client certificate's public key does not belong to our private key. */
  KeyMismatch: "CERT_KEY_MISMATCH",
  /** The client certificate's subject is not the subject we asked for. */
  SubjectMismatch: "CERT_SUBJECT_MISMATCH",
  /** The chain does not start with the client certificate, a link does not verify, or it does not end at the CA. */
  ChainInvalid: "CERT_CHAIN_INVALID",
  /** The client certificate's notBefore is after `now` (beyond the allowed clock skew). */
  NotYetValid: "CERT_NOT_YET_VALID",
  /** The client certificate's notAfter is before `now`. */
  Expired: "CERT_EXPIRED",
  /** A CSR could not be built, parsed or verified. */
  CsrInvalid: "CERT_CSR_INVALID",
  /** An argument is out of range (key size, threshold, invalid Date, ...). A programming error. */
  InvalidArgument: "CERT_INVALID_ARGUMENT",
} as const;

export type CertificateErrorCode = (typeof CertificateErrorCode)[keyof typeof CertificateErrorCode];

export interface CertificateErrorOptions {
  readonly cause?: unknown;
}

/**
 * The one error class of this package. `code` is stable, `message` says what went wrong and what to do,
 * `retryable` is always `false` (retrying the same input gives the same answer).
 *
 * Messages never contain key material; they may contain certificate subjects, serial numbers and fingerprints.
 */
export class CertificateError extends Error {
  override readonly name = "CertificateError";
  readonly code: CertificateErrorCode;
  readonly retryable = false as const;

  constructor(code: CertificateErrorCode, message: string, options: CertificateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** True when `error` is a {@link CertificateError}, optionally with the given code. */
export function isCertificateError(error: unknown, code?: CertificateErrorCode): error is CertificateError {
  return error instanceof CertificateError && (code === undefined || error.code === code);
}
