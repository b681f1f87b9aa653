/** Pairs a runtime with the simulator the way an agent does: T1 → configuration → CSR (openssl) → sign with T2. */
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { CompassSimulator, CreateRuntimeInput } from "../../src/index.js";
import { CONFIGURATION_QUERY, fromB64, graphqlCall, opensslCsr, signMutation } from "./tools.js";

export interface PairedRuntime {
  runtimeId: string;
  systemAuthId: string;
  subject: string;
  keyPem: string;
  certPem: string;
  chainPem: string;
  caPem: string;
  fingerprint: string;
  x509: X509Certificate;
}

export async function pair(
  sim: CompassSimulator,
  serverCa: string,
  dir: string,
  runtimeInput: CreateRuntimeInput = { name: "paired" },
): Promise<PairedRuntime> {
  const runtime = sim.createRuntime(runtimeInput);
  const t1 = sim.issueToken(runtime.id);
  const config = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca: serverCa, token: t1.token });
  const { subject } = config.json.data.result.certificateSigningRequestInfo;
  const csr = await opensslCsr(dir, subject);
  const signed = await graphqlCall(sim.connectorUrl, signMutation(csr.csrArgument), {
    ca: serverCa,
    token: config.json.data.result.token.token,
  });
  if (!signed.json.data) throw new Error(`signing failed: ${signed.text}`);
  const result = signed.json.data.result;
  const certPem = fromB64(result.clientCertificate);
  const x509 = new X509Certificate(certPem);
  return {
    runtimeId: runtime.id,
    systemAuthId: t1.systemAuthId,
    subject,
    keyPem: await readFile(csr.keyPath, "utf8"),
    certPem,
    chainPem: fromB64(result.certificateChain),
    caPem: fromB64(result.caCertificate),
    fingerprint: x509.fingerprint256.replace(/:/g, "").toLowerCase(),
    x509,
  };
}
