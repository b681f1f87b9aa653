import { execFileSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateError, createCsr, generateKeyPair } from "@runtime-agent/cert-manager";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import type { CompassSimulator } from "@runtime-agent/compass-sim";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  clientCertificateOf,
  ConnectorClient,
  ConnectorError,
  ConnectorErrorCode,
  pairWithToken,
  renewWithCertificate,
} from "../src/index.js";
import { makeServerTls } from "./support/tls-fixtures.js";

// The Connector client against the project's Compass simulator, over real TLS and mTLS.
let sim: CompassSimulator;
const KEY_SIZE = 2048;

beforeAll(async () => {
  sim = await startCompassSimulator({});
});
afterAll(async () => {
  await sim?.close();
});

function newToken(): string {
  const runtime = sim.createRuntime({ name: `rt-${Math.random().toString(36).slice(2, 8)}` });
  return sim.issueToken(runtime.id).token;
}

const tls = () => ({ caPem: sim.serverCaPem });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

describe("pairing and renewal against the simulator", () => {
  test("pairWithToken returns checked credentials for the subject Compass dictated", async () => {
    const credentials = await pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), keySize: KEY_SIZE });
    expect(credentials.configuration.directorUrl).toBe(sim.directorUrl);
    expect(credentials.configuration.certificateSecuredConnectorUrl).toBe(sim.certSecuredConnectorUrl);
    const leaf = new X509Certificate(credentials.clientCertificatePem);
    expect(leaf.checkPrivateKey(await import("node:crypto").then((c) => c.createPrivateKey(credentials.privateKeyPem)))).toBe(true);
    expect(credentials.certificate.fingerprintSha256).toBe(leaf.fingerprint256.replace(/:/g, "").toLowerCase());
    expect(credentials.certificateChainPem.startsWith(credentials.clientCertificatePem.trim())).toBe(true);
    expect(sim.state.snapshot().issuedCertificates.some((c) => c.fingerprint === credentials.certificate.fingerprintSha256)).toBe(true);
  });

  test("the key size follows the Connector's keyAlgorithm (rsa2048) unless one is given, in pairing and renewal", async () => {
    const bits = (pem: string) => createPrivateKey(pem).asymmetricKeyDetails?.modulusLength;
    const paired = await pairWithToken(sim.connectorUrl, newToken(), { tls: tls() });
    expect(paired.configuration.keyAlgorithm).toBe("rsa2048");
    expect(bits(paired.privateKeyPem)).toBe(2048);
    const renewed = await renewWithCertificate(sim.certSecuredConnectorUrl, clientCertificateOf(paired), { tls: tls() });
    expect(bits(renewed.privateKeyPem)).toBe(2048);
    const pinned = await renewWithCertificate(sim.certSecuredConnectorUrl, clientCertificateOf(renewed), { tls: tls(), keySize: 3072 });
    expect(bits(pinned.privateKeyPem)).toBe(3072);
    expect(new X509Certificate(pinned.clientCertificatePem).checkPrivateKey(createPrivateKey(pinned.privateKeyPem))).toBe(true);
  });

  test("a CSR with a wrong subject is refused by Compass", async () => {
    const client = new ConnectorClient({ url: sim.connectorUrl, auth: { token: newToken() }, tls: tls() });
    const configuration = await client.configuration();
    const wrong = configuration.subject.replace(/CN=[^,]+/, "CN=somebody-else");
    const csr = await createCsr(wrong, await generateKeyPair({ modulusLength: KEY_SIZE }));
    const error = await rejection(client.withToken(configuration.token ?? "").signCertificateSigningRequest(csr.base64Pem));
    await client.close();
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe(ConnectorErrorCode.REJECTED);
    expect((error as ConnectorError).message).toContain("Invalid common name");
  });

  test("the mTLS listener refuses a call without a client certificate in the handshake", async () => {
    const client = new ConnectorClient({ url: sim.certSecuredConnectorUrl, auth: { token: "irrelevant" }, tls: tls() });
    const error = await rejection(client.configuration());
    await client.close();
    expect((error as ConnectorError).code).toBe(ConnectorErrorCode.TLS_FAILED);
  });

  test("renewal over mTLS, then swapping the client certificate of a live client", async () => {
    const first = await pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), keySize: KEY_SIZE });
    const client = new ConnectorClient({
      url: sim.certSecuredConnectorUrl,
      auth: { clientCertificate: clientCertificateOf(first) },
      tls: tls(),
    });
    await expect(client.configuration()).resolves.toMatchObject({ subject: first.configuration.subject });

    const renewed = await renewWithCertificate(sim.certSecuredConnectorUrl, clientCertificateOf(first), { tls: tls(), keySize: KEY_SIZE });
    expect(renewed.certificate.fingerprintSha256).not.toBe(first.certificate.fingerprintSha256);
    expect(renewed.certificate.subject).toBe(first.certificate.subject);

    client.setClientCertificate(clientCertificateOf(renewed));
    sim.revoke(first.certificate.fingerprintSha256);
    // The swapped client presents the new certificate, so revoking the old one does not affect it...
    await expect(client.configuration()).resolves.toMatchObject({ subject: first.configuration.subject });
    await client.close();
    // ...while the old certificate is now refused.
    const old = new ConnectorClient({ url: sim.certSecuredConnectorUrl, auth: { clientCertificate: clientCertificateOf(first) }, tls: tls() });
    const error = await rejection(old.configuration());
    await old.close();
    // Real Compass answers a revoked certificate with HTTP 400 and an empty body.
    expect(error).toMatchObject({ code: ConnectorErrorCode.NOT_AUTHENTICATED, status: 400 });
  });

  test("a used one-time token is not authenticated (HTTP 400, empty body), before any signing token is handed out", async () => {
    const token = newToken();
    await pairWithToken(sim.connectorUrl, token, { tls: tls(), keySize: KEY_SIZE });
    const signingTokens: string[] = [];
    const error = await rejection(pairWithToken(sim.connectorUrl, token, { tls: tls(), keySize: KEY_SIZE, onSigningToken: (t) => signingTokens.push(t) }));
    expect(error).toMatchObject({ code: ConnectorErrorCode.NOT_AUTHENTICATED, status: 400, operation: "configuration", retryable: false });
    expect(signingTokens).toEqual([]);
  });
});

describe("a Connector that answers with a certificate for another CN", () => {
  // A hostile Connector on loopback: it dictates one subject but signs the CSR with openssl under another CN.
  let server: Server;
  let url: string;
  let caPem: string;
  const dir = mkdtempSync(join(tmpdir(), "cc-evil-"));

  beforeAll(async () => {
    const serverTls = makeServerTls();
    caPem = serverTls.caPem;
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=evil-ca"], { cwd: dir, stdio: "pipe" });
    const subject = "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=expected-id";
    server = createServer({ key: serverTls.keyPem, cert: serverTls.certPem }, (req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        const request = JSON.parse(body) as { query: string; variables?: { csr?: string } };
        let result: unknown;
        if (request.query.includes("configuration")) {
          result = {
            token: { token: "next" },
            certificateSigningRequestInfo: { subject, keyAlgorithm: "rsa2048" },
            managementPlaneInfo: { directorURL: "https://x/director/graphql", certificateSecuredConnectorURL: "https://x/connector/graphql" },
          };
        } else {
          writeFileSync(join(dir, "req.pem"), Buffer.from(request.variables?.csr ?? "", "base64"));
          execFileSync("openssl", ["x509", "-req", "-in", "req.pem", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-out", "leaf.pem", "-subj", "/C=DE/ST=province/L=locality/O=Org/OU=OrgUnit/CN=another-id"], { cwd: dir, stdio: "pipe" });
          const leaf = readFileSync(join(dir, "leaf.pem"), "utf8");
          const ca = readFileSync(join(dir, "ca.pem"), "utf8");
          const b64 = (text: string) => Buffer.from(text).toString("base64");
          result = { certificateChain: b64(leaf + ca), caCertificate: b64(ca), clientCertificate: b64(leaf) };
        }
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: { result } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/connector/graphql`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test("pairWithToken rejects it with CERT_SUBJECT_MISMATCH", async () => {
    const error = await rejection(pairWithToken(url, "token", { tls: { caPem }, keySize: KEY_SIZE }));
    expect(error).toBeInstanceOf(CertificateError);
    expect((error as CertificateError).code).toBe("CERT_SUBJECT_MISMATCH");
  });
});
