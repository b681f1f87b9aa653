import { ConnectorError, ConnectorErrorCode } from "./errors.js";
import type { ConfigurationQuery, SignCertificateSigningRequestMutation } from "./generated/graphql.js";

/** What `configuration` tells a runtime, checked against the schema's promises. */
export interface ConnectorConfiguration {
  /** The next one-time token; Compass always sends one, but the schema allows null. */
  token: string | undefined;
  /** Subject the CSR must carry. */
  subject: string;
  keyAlgorithm: string;
  directorUrl: string;
  certificateSecuredConnectorUrl: string;
}

/** The signing answer; each field is base64 of PEM text, decoded and checked by cert-manager. */
export interface CertificationResult {
  certificateChain: string;
  caCertificate: string;
  clientCertificate: string;
}

function bad(operation: string, message: string): ConnectorError {
  return new ConnectorError(ConnectorErrorCode.BAD_RESPONSE, `${operation}: ${message}`, { operation });
}

function httpsUrl(operation: string, field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) throw bad(operation, `${field} is missing`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(operation, `${field} is not a URL`);
  }
  if (url.protocol !== "https:") throw bad(operation, `${field} must be an https URL, got ${url.protocol}`);
  return value;
}

export function validateConfiguration(result: ConfigurationQuery["result"] | null | undefined): ConnectorConfiguration {
  const op = "configuration";
  if (!result) throw bad(op, "the answer has no configuration");
  const info = result.certificateSigningRequestInfo;
  if (!info || typeof info.subject !== "string" || info.subject.trim() === "") {
    throw bad(op, "certificateSigningRequestInfo.subject is missing");
  }
  const plane = result.managementPlaneInfo;
  if (!plane) throw bad(op, "managementPlaneInfo is missing");
  const token = result.token?.token;
  if (token !== undefined && (typeof token !== "string" || token.length === 0)) throw bad(op, "token is empty");
  return {
    token,
    subject: info.subject,
    keyAlgorithm: typeof info.keyAlgorithm === "string" ? info.keyAlgorithm : "",
    directorUrl: httpsUrl(op, "managementPlaneInfo.directorURL", plane.directorURL),
    certificateSecuredConnectorUrl: httpsUrl(
      op,
      "managementPlaneInfo.certificateSecuredConnectorURL",
      plane.certificateSecuredConnectorURL,
    ),
  };
}

export function validateCertificationResult(
  result: SignCertificateSigningRequestMutation["result"] | null | undefined,
): CertificationResult {
  const op = "signCertificateSigningRequest";
  if (!result) throw bad(op, "the answer has no certification result");
  for (const field of ["certificateChain", "caCertificate", "clientCertificate"] as const) {
    const value: unknown = result[field];
    if (typeof value !== "string" || value.trim() === "") throw bad(op, `${field} is missing`);
  }
  return {
    certificateChain: result.certificateChain,
    caCertificate: result.caCertificate,
    clientCertificate: result.clientCertificate,
  };
}
