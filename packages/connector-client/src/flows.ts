import { createCsr, decodeCertificationResult, generateKeyPair, modulusLengthFor } from "@runtime-agent/cert-manager";
import type { CertificateFacts, KeyPair } from "@runtime-agent/cert-manager";
import { ConnectorClient } from "./client.js";
import type { CallOptions } from "./client.js";
import { ConnectorError, ConnectorErrorCode } from "./errors.js";
import type { ClientCertificate, TlsTrust } from "./transport.js";
import type { ProxyConfig } from "./proxy.js";
import type { ConnectorConfiguration } from "./validate.js";

/** Everything a runtime keeps after pairing or renewal. PEM text throughout; the key is PKCS#1. */
export interface RuntimeCredentials {
  privateKeyPem: string;
  clientCertificatePem: string;
  /** Client certificate first, then its issuers: what the runtime presents over mTLS. */
  certificateChainPem: string;
  caCertificatePem: string;
  certificate: CertificateFacts;
  /** The configuration Compass returned in the same flow (subject and management-plane URLs). */
  configuration: ConnectorConfiguration;
}

export interface FlowOptions extends CallOptions {
  tls?: TlsTrust | undefined;
  /** HTTP(S) proxy to Compass (as Go's HTTPS_PROXY / NO_PROXY); direct when absent. */
  proxy?: ProxyConfig | undefined;
  /**
   * RSA modulus length. Default: the size the Connector's `keyAlgorithm` names (Compass sends `rsa2048`), at least
   * 2048; 4096 (the Go agent's size) when it names none. Given, it wins, and key generation overlaps the first call.
   */
  keySize?: number | undefined;
  timeoutMs?: number | undefined;
  /** Validity of the returned certificate is checked against this instant (default: now). */
  now?: () => Date;
  /**
   * pairWithToken: called with the one-time token `configuration` returned, before it is used for signing. The
   * token passed in is spent from then on; when signing then fails for a reason a retry can fix (5xx, reset,
   * timeout), this token is the one to retry the flow with. Not called when `configuration` fails, e.g. with
   * CONNECTOR_NOT_AUTHENTICATED. When signing fails with CONNECTOR_NOT_AUTHENTICATED the signing token was refused,
   * or Compass's own authentication was failing and the token is still unspent: only a later attempt tells which.
   */
  onSigningToken?: ((token: string) => void) | undefined;
}

export function clientCertificateOf(credentials: Pick<RuntimeCredentials, "privateKeyPem" | "certificateChainPem">): ClientCertificate {
  return { keyPem: credentials.privateKeyPem, certificateChainPem: credentials.certificateChainPem };
}

/**
 * The one-time-token flow: `configuration` with the token, a fresh key and a CSR with the subject Compass dictates,
 * `signCertificateSigningRequest` with the token `configuration` returned, then every check of the answer.
 */
export async function pairWithToken(
  connectorUrl: string,
  token: string,
  options: FlowOptions = {},
): Promise<RuntimeCredentials> {
  const client = new ConnectorClient({
    url: connectorUrl,
    auth: { token },
    tls: options.tls,
    proxy: options.proxy,
    timeoutMs: options.timeoutMs,
  });
  try {
    const key = startKeyGeneration(options.keySize);
    const configuration = await client.configuration(options);
    if (!configuration.token) {
      throw new ConnectorError(
        ConnectorErrorCode.BAD_RESPONSE,
        "configuration returned no one-time token for signing the CSR",
        { operation: "configuration" },
      );
    }
    options.onSigningToken?.(configuration.token);
    return await signAndCheck(client.withToken(configuration.token), configuration, await key(configuration), options);
  } finally {
    await client.close();
  }
}

/**
 * Renewal over mTLS: `configuration` with the current certificate (which also proves the connection works),
 * then a new key and CSR for the subject it returns. The old certificate stays valid until it expires.
 */
export async function renewWithCertificate(
  certificateSecuredConnectorUrl: string,
  current: ClientCertificate,
  options: FlowOptions = {},
): Promise<RuntimeCredentials> {
  const client = new ConnectorClient({
    url: certificateSecuredConnectorUrl,
    auth: { clientCertificate: current },
    tls: options.tls,
    proxy: options.proxy,
    timeoutMs: options.timeoutMs,
  });
  try {
    const key = startKeyGeneration(options.keySize);
    const configuration = await client.configuration(options);
    return await signAndCheck(client, configuration, await key(configuration), options);
  } finally {
    await client.close();
  }
}

/** Revokes the given certificate at the certificate-secured Connector. */
export async function revokeCertificate(
  certificateSecuredConnectorUrl: string,
  current: ClientCertificate,
  options: FlowOptions = {},
): Promise<boolean> {
  const client = new ConnectorClient({
    url: certificateSecuredConnectorUrl,
    auth: { clientCertificate: current },
    tls: options.tls,
    proxy: options.proxy,
    timeoutMs: options.timeoutMs,
  });
  try {
    return await client.revokeCertificate(options);
  } finally {
    await client.close();
  }
}

/**
 * The key for the CSR. With a size given, generation starts at once (it overlaps the `configuration` call; RSA-4096
 * takes up to seconds); else it starts once `configuration` has named the algorithm.
 */
function startKeyGeneration(keySize: number | undefined): (configuration: ConnectorConfiguration) => Promise<KeyPair> {
  if (keySize === undefined) return (configuration) => generateKeyPair({ modulusLength: modulusLengthFor(configuration.keyAlgorithm) });
  const early = generateKeyPair({ modulusLength: keySize });
  early.catch(() => undefined); // observed when the configuration call fails first
  return () => early;
}

async function signAndCheck(
  client: ConnectorClient,
  configuration: ConnectorConfiguration,
  key: KeyPair,
  options: FlowOptions,
): Promise<RuntimeCredentials> {
  const csr = await createCsr(configuration.subject, key);
  const result = await client.signCertificateSigningRequest(csr.base64Pem, options);
  const decoded = decodeCertificationResult(result, {
    privateKeyPem: key.privateKeyPem,
    subject: configuration.subject,
    now: options.now?.() ?? new Date(),
  });
  return {
    privateKeyPem: key.privateKeyPem,
    clientCertificatePem: decoded.clientCertificatePem,
    certificateChainPem: decoded.certificateChainPem,
    caCertificatePem: decoded.caCertificatePem,
    certificate: decoded.client,
    configuration,
  };
}
