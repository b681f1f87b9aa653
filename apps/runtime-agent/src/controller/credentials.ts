import { certificateFacts } from "@runtime-agent/cert-manager";
import type { ClientCertificate, RuntimeCredentials } from "@runtime-agent/connector-client";
import type { Credentials } from "@runtime-agent/k8s-store";

/** The agent's client certificate as it holds it in memory, with the facts it decides on. */
export interface AgentCredentials {
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  caPem: string;
  fingerprint: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

export function fromRuntimeCredentials(credentials: RuntimeCredentials): AgentCredentials {
  return {
    keyPem: credentials.privateKeyPem,
    certificatePem: credentials.clientCertificatePem,
    chainPem: credentials.certificateChainPem,
    caPem: credentials.caCertificatePem,
    fingerprint: credentials.certificate.fingerprintSha256,
    subject: credentials.certificate.subject,
    notBefore: credentials.certificate.notBefore,
    notAfter: credentials.certificate.notAfter,
  };
}

/** From the Kyma Secrets (`crt`, `key`, `crtChain`, `cacert`); throws CertificateError when unreadable. */
export function fromSecretData(credentials: Credentials): AgentCredentials {
  const facts = certificateFacts(credentials.crt);
  return {
    keyPem: credentials.key,
    certificatePem: credentials.crt,
    chainPem: credentials.crtChain || credentials.crt,
    caPem: credentials.cacert,
    fingerprint: facts.fingerprintSha256,
    subject: facts.subject,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
  };
}

export function toSecretData(credentials: AgentCredentials): Credentials {
  return { crt: credentials.certificatePem, key: credentials.keyPem, crtChain: credentials.chainPem, cacert: credentials.caPem };
}

export function clientCertificate(credentials: AgentCredentials): ClientCertificate {
  return { keyPem: credentials.keyPem, certificateChainPem: credentials.chainPem };
}
