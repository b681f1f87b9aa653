// The certificate-secured listener over real mTLS: issued certificates, renewal, revocation, handshake failures.
import { X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCompassSimulator, type CompassSimulator } from "../src/index.js";
import { pair, type PairedRuntime } from "./support/pairing.js";
import {
  CONFIGURATION_QUERY,
  fromB64,
  graphqlCall,
  httpCall,
  opensslCsr,
  REVOKE_MUTATION,
  run,
  signMutation,
  tempDir,
  expectRefused,
} from "./support/tools.js";

let sim: CompassSimulator;
let serverCa: string;
let dir: { path: string; remove: () => Promise<void> };
let paired: PairedRuntime;

beforeAll(async () => {
  sim = await startCompassSimulator({});
  serverCa = await readFile(sim.serverCaFile, "utf8");
  dir = await tempDir();
  paired = await pair(sim, serverCa, dir.path);
});

afterAll(async () => {
  await sim?.close();
  await dir?.remove();
});

const mtls = (query: string, p: { certPem: string; keyPem: string }, url = sim.certSecuredConnectorUrl) =>
  graphqlCall(url, query, { ca: serverCa, cert: p.certPem, key: p.keyPem });

/** Asserts the request dies in the TLS handshake and never reaches HTTP handling. */
async function expectHandshakeFailure(cert?: { certPem: string; keyPem: string }): Promise<void> {
  const logged = sim.state.requestLog.length;
  const error: NodeJS.ErrnoException = await httpCall(sim.certSecuredConnectorUrl, {
    ca: serverCa,
    ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: CONFIGURATION_QUERY }),
  }).then(
    (res): NodeJS.ErrnoException => new Error(`expected a handshake failure, got HTTP ${res.status}`),
    (e: NodeJS.ErrnoException) => e,
  );
  expect(error.code ?? error.message).toMatch(/ERR_SSL|ECONNRESET|EPIPE/);
  expect(sim.state.requestLog.length).toBe(logged);
}

describe("issued certificates", () => {
  test("subject, key usage, EKU, validity and serial", async () => {
    const cert = paired.x509;
    expect(cert.subject.split("\n")).toEqual([
      "O=Org",
      "OU=OrgUnit",
      "L=locality",
      "ST=province",
      "C=DE",
      `CN=${paired.systemAuthId}`,
    ]);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]); // node lists EKUs here: clientAuth only
    expect(cert.ca).toBe(false);
    const validity = cert.validToDate.getTime() - cert.validFromDate.getTime();
    expect(validity).toBe(90 * 24 * 3600 * 1000);
    expect(Math.abs(cert.validFromDate.getTime() - sim.now().getTime())).toBeLessThan(60_000);
    const text = await run("openssl", ["x509", "-noout", "-text", "-in", await writeTemp("leaf.pem", paired.certPem)]);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \s*\n\s+TLS Web Client Authentication\n/);
    expect(text).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(text).not.toContain("Basic Constraints");
    expect(cert.serialNumber).not.toBe("02");
  });

  test("chain = leaf + client CA, caCertificate = client CA, and openssl verifies the leaf against it", async () => {
    const clientCa = await readFile(sim.clientCaFile, "utf8");
    expect(paired.caPem).toBe(clientCa);
    expect(paired.chainPem).toBe(paired.certPem + clientCa);
    expect(paired.chainPem.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(paired.certPem.endsWith("-----END CERTIFICATE-----\n")).toBe(true);
    const verify = await run("openssl", ["verify", "-CAfile", sim.clientCaFile, await writeTemp("leaf2.pem", paired.certPem)]);
    expect(verify).toContain(": OK");
    // …and not against the server CA.
    await expect(run("openssl", ["verify", "-CAfile", sim.serverCaFile, join(dir.path, "leaf2.pem")])).rejects.toThrow();
  });

  test("issued certificates are recorded with their fingerprint", () => {
    const record = sim.state.snapshot().issuedCertificates.find((c) => c.fingerprint === paired.fingerprint);
    expect(record).toMatchObject({
      commonName: paired.systemAuthId,
      notBefore: paired.x509.validFromDate.toISOString(),
      notAfter: paired.x509.validToDate.toISOString(),
      revoked: false,
    });
  });

  test("the server certificate comes from a separate ingress CA and names the host", () => {
    const server = new X509Certificate(serverCa);
    expect(server.subject).not.toBe(new X509Certificate(paired.caPem).subject);
    expect(server.ca).toBe(true);
  });
});

describe("mTLS Connector", () => {
  test("configuration with the issued certificate", async () => {
    const res = await mtls(CONFIGURATION_QUERY, paired);
    expect(res.status).toBe(200);
    expect(res.json.data.result.certificateSigningRequestInfo.subject).toBe(paired.subject);
    expect(res.json.data.result.managementPlaneInfo.directorURL).toBe(sim.directorUrl);
    expect(res.json.data.result.token.token).toMatch(/^[A-Za-z0-9_-]{86}==$/);
    expect(sim.state.requestLog.at(-1)).toMatchObject({
      listener: "mtls",
      identity: { systemAuthId: paired.systemAuthId, via: "certificate" },
      certificateFingerprint: paired.fingerprint,
    });
  });

  test("curl, as an independent client, gets the same answer", async () => {
    const certFile = await writeTemp("curl-crt.pem", paired.certPem);
    const keyFile = await writeTemp("curl-key.pem", paired.keyPem);
    const out = await run("curl", [
      "-sS",
      "--cacert",
      sim.serverCaFile,
      "--cert",
      certFile,
      "--key",
      keyFile,
      "-H",
      "Content-Type: application/json",
      "-d",
      JSON.stringify({ query: CONFIGURATION_QUERY }),
      sim.certSecuredConnectorUrl,
    ]);
    expect(JSON.parse(out).data.result.certificateSigningRequestInfo.subject).toBe(paired.subject);
  });

  test("a Connector-Token is ignored on the mTLS listener (and not burned)", async () => {
    const runtime = sim.createRuntime({ name: "token-on-mtls" });
    const t = sim.issueToken(runtime.id);
    const res = await graphqlCall(sim.certSecuredConnectorUrl, CONFIGURATION_QUERY, {
      ca: serverCa,
      cert: paired.certPem,
      key: paired.keyPem,
      token: t.token,
    });
    expect(res.json.data.result.certificateSigningRequestInfo.subject).toContain(`CN=${paired.systemAuthId}`);
    expect(sim.state.getSystemAuth(t.systemAuthId)?.ott?.used).toBe(false);
  });

  test("renewal over mTLS returns a new certificate; the old one keeps working", async () => {
    const own = await pair(sim, serverCa, dir.path);
    const csr = await opensslCsr(dir.path, own.subject);
    const renewed = await mtls(signMutation(csr.csrArgument), own);
    expect(renewed.json.errors).toBeUndefined();
    const newPem = fromB64(renewed.json.data.result.clientCertificate);
    const newCert = new X509Certificate(newPem);
    expect(newCert.subject).toBe(own.x509.subject);
    expect(newCert.fingerprint256).not.toBe(own.x509.fingerprint256);
    const newPair = { certPem: newPem, keyPem: await readFile(csr.keyPath, "utf8") };
    expect((await mtls(CONFIGURATION_QUERY, newPair)).json.data.result.certificateSigningRequestInfo.subject).toBe(own.subject);
    expect((await mtls(CONFIGURATION_QUERY, own)).json.data.result.certificateSigningRequestInfo.subject).toBe(own.subject);
  });

  test("renewal with a CSR for another CN is rejected", async () => {
    const csr = await opensslCsr(dir.path, paired.subject.replace(/CN=.*/, "CN=somebody-else"));
    const res = await mtls(signMutation(csr.csrArgument), paired);
    expect(res.json.errors[0].message).toBe("Error while signing Certificate Signing Request: CSR: Invalid common name provided.");
  });

  test("revokeCertificate: handshake still succeeds, but the certificate no longer authenticates", async () => {
    const own = await pair(sim, serverCa, dir.path);
    const csr = await opensslCsr(dir.path, own.subject);
    const second = await mtls(signMutation(csr.csrArgument), own);
    const other = { certPem: fromB64(second.json.data.result.clientCertificate), keyPem: await readFile(csr.keyPath, "utf8") };

    const revoked = await mtls(REVOKE_MUTATION, own);
    expect(revoked.json).toEqual({ data: { result: true } });
    expect(sim.state.isRevoked(own.fingerprint)).toBe(true);

    const config = await mtls(CONFIGURATION_QUERY, own);
    expectRefused(config);
    const sign = await mtls(signMutation(csr.csrArgument), own);
    expectRefused(sign);
    expectRefused(await mtls(REVOKE_MUTATION, own));
    // Revocation is per certificate: the other certificate of the same SystemAuth still works.
    expect((await mtls(CONFIGURATION_QUERY, other)).json.data.result.certificateSigningRequestInfo.subject).toBe(own.subject);
    const state = sim.state.snapshot().issuedCertificates.find((c) => c.fingerprint === own.fingerprint);
    expect(state?.revoked).toBe(true);
  });

  test("revocation through the library by fingerprint", async () => {
    const own = await pair(sim, serverCa, dir.path);
    expect(sim.revoke(own.fingerprint.toUpperCase().replace(/(..)(?!$)/g, "$1:"))).toBe(1);
    expectRefused(await mtls(CONFIGURATION_QUERY, own));
  });

  test("a client-CA certificate with a foreign subject completes the handshake but is unauthenticated", async () => {
    const csr = await opensslCsr(dir.path, `O=Other,OU=OrgUnit,L=locality,ST=province,C=DE,CN=${paired.systemAuthId}`);
    const issued = await sim.signCsr(csr.csrPem);
    const res = await mtls(CONFIGURATION_QUERY, { certPem: issued.certificatePem, keyPem: await readFile(csr.keyPath, "utf8") });
    expectRefused(res);
  });

  test("a certificate whose CN has no SystemAuth is unauthenticated", async () => {
    const csr = await opensslCsr(dir.path, "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=6f1c2e1a-0000-4000-8000-000000000000");
    const issued = await sim.signCsr(csr.csrPem);
    const res = await mtls(CONFIGURATION_QUERY, { certPem: issued.certificatePem, keyPem: await readFile(csr.keyPath, "utf8") });
    expectRefused(res);
  });

  test("the Director answers on the same listener (details in director.test.ts)", async () => {
    const res = await mtls(`{ runtime(id: "${paired.runtimeId}") { id } }`, paired, sim.directorUrl);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ data: { runtime: { id: paired.runtimeId } } });
  });

  test("healthz on the mTLS listener", async () => {
    const res = await httpCall(sim.certSecuredConnectorUrl.replace("/graphql", "/healthz"), {
      method: "GET",
      ca: serverCa,
      cert: paired.certPem,
      key: paired.keyPem,
    });
    expect(res.text).toBe("ok");
  });
});

describe("handshake failures", () => {
  test("no client certificate", async () => {
    await expectHandshakeFailure();
  });

  test("a certificate from another CA with the right subject", async () => {
    const keyPath = join(dir.path, "foreign-key.pem");
    const certPath = join(dir.path, "foreign-crt.pem");
    await run("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
      "-keyout", keyPath, "-out", certPath,
      "-subj", `/O=Org/OU=OrgUnit/L=locality/ST=province/C=DE/CN=${paired.systemAuthId}`,
    ]);
    await expectHandshakeFailure({ certPem: await readFile(certPath, "utf8"), keyPem: await readFile(keyPath, "utf8") });
  });

  test("a certificate expired in real time", async () => {
    const csr = await opensslCsr(dir.path, paired.subject);
    const now = Date.now();
    const issued = await sim.signCsr(csr.csrPem, {
      notBefore: new Date(now - 2 * 86400_000),
      notAfter: new Date(now - 86400_000),
    });
    await expectHandshakeFailure({ certPem: issued.certificatePem, keyPem: await readFile(csr.keyPath, "utf8") });
  });

  test("curl sees the handshake fail without a client certificate", async () => {
    await expect(
      // HTTP/1.1 as in the recording (connector-mtls-no-client-cert.json); over h2 curl may fail on its first write instead.
      run("curl", ["-sS", "--http1.1", "--cacert", sim.serverCaFile, "-H", "Content-Type: application/json", "-d", "{}", sim.certSecuredConnectorUrl]),
    ).rejects.toThrow(/alert|SSL|reset/i);
  });
});

describe("simulator clock and certificate validity", () => {
  test("a certificate expired by the simulator clock is unauthenticated (handshake still ok)", async () => {
    const short = await startCompassSimulator({ certValidity: 60 });
    try {
      const ca = await readFile(short.serverCaFile, "utf8");
      const p = await pair(short, ca, dir.path);
      expect(p.x509.validToDate.getTime() - p.x509.validFromDate.getTime()).toBe(60_000);
      const call = () => graphqlCall(short.certSecuredConnectorUrl, CONFIGURATION_QUERY, { ca, cert: p.certPem, key: p.keyPem });
      expect((await call()).json.data.result.certificateSigningRequestInfo.subject).toBe(p.subject);
      short.advanceClock(61);
      const res = await call();
        expectRefused(res);
      expect(short.state.requestLog.at(-1)?.errors[0]).toContain("expired (simulator clock)");
    } finally {
      await short.close();
    }
  });

  test("serial2 quirk: every certificate gets serial 2", async () => {
    const quirky = await startCompassSimulator({ serial2: true });
    try {
      const ca = await readFile(quirky.serverCaFile, "utf8");
      const a = await pair(quirky, ca, dir.path);
      const b = await pair(quirky, ca, dir.path);
      expect(a.x509.serialNumber).toBe("02");
      expect(b.x509.serialNumber).toBe("02");
    } finally {
      await quirky.close();
    }
  });

  test("after advancing the clock, new certificates still pass real-clock TLS (unless realTimeNotBefore: false)", async () => {
    const faithful = await startCompassSimulator({ realTimeNotBefore: false });
    const lenient = await startCompassSimulator({});
    try {
      for (const s of [faithful, lenient]) s.advanceClock(86400);
      const faithfulCa = await readFile(faithful.serverCaFile, "utf8");
      const f = await pair(faithful, faithfulCa, dir.path);
      expect(f.x509.validFromDate.getTime()).toBeGreaterThan(Date.now() + 86000_000);
      await expect(
        graphqlCall(faithful.certSecuredConnectorUrl, CONFIGURATION_QUERY, { ca: faithfulCa, cert: f.certPem, key: f.keyPem }),
      ).rejects.toThrow();

      const lenientCa = await readFile(lenient.serverCaFile, "utf8");
      const l = await pair(lenient, lenientCa, dir.path);
      expect(l.x509.validFromDate.getTime()).toBeLessThanOrEqual(Date.now());
      // notAfter still counts from the simulator clock.
      const issuedAt = lenient.state.issuedCertificates.at(-1)!.issuedAt.getTime();
      expect(l.x509.validToDate.getTime()).toBe(Math.floor(issuedAt / 1000) * 1000 + 90 * 86400_000);
      const res = await graphqlCall(lenient.certSecuredConnectorUrl, CONFIGURATION_QUERY, { ca: lenientCa, cert: l.certPem, key: l.keyPem });
      expect(res.json.data.result.certificateSigningRequestInfo.subject).toBe(l.subject);
    } finally {
      await faithful.close();
      await lenient.close();
    }
  });
});

async function writeTemp(name: string, content: string): Promise<string> {
  const path = join(dir.path, name);
  await writeFile(path, content);
  return path;
}
