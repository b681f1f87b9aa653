/**
 * A hostile Connector on loopback for the reliability matrix: it answers `configuration` and
 * `signCertificateSigningRequest` like the real one, except for the one thing each variant breaks (a subject the
 * agent must refuse, a certificate that is malformed, for another key or CN, out of its validity, or with a chain
 * that does not verify). The variant is chosen by the one-time token, so one agent can be walked through all of them
 * by writing new TOKENs into its configuration Secret.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import { generateKeyPair, readCsr } from "@runtime-agent/cert-manager";
// The cert-manager package's own test CA (pkijs): certificates with any subject, key, validity and issuer.
import { b64, createTestCa, issueCertificate } from "../../../../packages/cert-manager/test/support/test-ca.js";
import type { TestCa } from "../../../../packages/cert-manager/test/support/test-ca.js";

export const HOSTILE_SUBJECT = "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=hostile-runtime";

interface CertificationResult {
  certificateChain: string;
  caCertificate: string;
  clientCertificate: string;
}

interface Variant {
  /** What `configuration` dictates (default HOSTILE_SUBJECT). */
  subject?: string;
  /** The answer to the signing request, given the requested key. */
  sign?: (publicKey: CryptoKey, tools: { ca: TestCa; otherCa: TestCa; now: Date }) => Promise<CertificationResult>;
}

const DAY = 24 * 3600_000;

async function leaf(options: { ca: TestCa; publicKey: CryptoKey; subject?: string; notBefore: Date; notAfter: Date }): Promise<string> {
  return issueCertificate({ subject: options.subject ?? HOSTILE_SUBJECT, publicKey: options.publicKey, issuer: options.ca, notBefore: options.notBefore, notAfter: options.notAfter });
}

function answer(cert: string, ca: TestCa): CertificationResult {
  return { clientCertificate: b64(cert), certificateChain: b64(cert + ca.pem), caCertificate: b64(ca.pem) };
}

/** Every variant, with the error code the agent must report for it. */
export const HOSTILE_VARIANTS: Record<string, Variant & { expect: RegExp }> = {
  "malformed-base64": {
    expect: /CERT_BAD_ENCODING/,
    sign: async () => ({ clientCertificate: "%%% not base64 %%%", certificateChain: "%%%", caCertificate: "%%%" }),
  },
  "not-pem": {
    expect: /CERT_BAD_ENCODING/,
    sign: async () => ({ clientCertificate: b64("hello"), certificateChain: b64("hello"), caCertificate: b64("hello") }),
  },
  "certificate-for-another-key": {
    expect: /CERT_KEY_MISMATCH/,
    sign: async (_key, { ca, now }) => {
      const other = await generateKeyPair({ modulusLength: 2048 });
      return answer(await leaf({ ca, publicKey: other.cryptoKeyPair.publicKey, notBefore: now, notAfter: new Date(now.getTime() + DAY) }), ca);
    },
  },
  "certificate-for-another-cn": {
    expect: /CERT_SUBJECT_MISMATCH/,
    sign: async (key, { ca, now }) =>
      answer(await leaf({ ca, publicKey: key, subject: HOSTILE_SUBJECT.replace("CN=hostile-runtime", "CN=somebody-else"), notBefore: now, notAfter: new Date(now.getTime() + DAY) }), ca),
  },
  "expired-certificate": {
    expect: /CERT_EXPIRED/,
    sign: async (key, { ca, now }) => answer(await leaf({ ca, publicKey: key, notBefore: new Date(now.getTime() - 2 * DAY), notAfter: new Date(now.getTime() - DAY) }), ca),
  },
  "not-yet-valid-certificate": {
    expect: /CERT_NOT_YET_VALID/,
    sign: async (key, { ca, now }) => answer(await leaf({ ca, publicKey: key, notBefore: new Date(now.getTime() + DAY), notAfter: new Date(now.getTime() + 2 * DAY) }), ca),
  },
  "chain-that-does-not-verify": {
    expect: /CERT_CHAIN_INVALID/,
    // Issued by one CA, presented with another as chain and caCertificate.
    sign: async (key, { ca, otherCa, now }) => {
      const cert = await leaf({ ca, publicKey: key, notBefore: now, notAfter: new Date(now.getTime() + DAY) });
      return { clientCertificate: b64(cert), certificateChain: b64(cert + otherCa.pem), caCertificate: b64(otherCa.pem) };
    },
  },
  "empty-subject": { expect: /CONNECTOR_BAD_RESPONSE|CERT_SUBJECT_INVALID/, subject: "" },
  "huge-subject": { expect: /CERT_SUBJECT_INVALID/, subject: `${HOSTILE_SUBJECT},OU=${"x".repeat(5_000)}` },
  "unknown-attribute-in-subject": { expect: /CERT_SUBJECT_INVALID/, subject: `${HOSTILE_SUBJECT},FOO=bar` },
  // (An escaped comma, O=Org\,Inc, is valid RFC 4514 and accepted: cert-manager's subject and CSR tests.)
  "subject-with-a-dangling-escape": { expect: /CERT_SUBJECT_INVALID/, subject: `${HOSTILE_SUBJECT}\\` },
};

export interface HostileConnector {
  url: string;
  /** A PEM bundle with this Connector's server certificate, to add to the agent's APP_COMPASS_CA_FILE. */
  serverCertPem: string;
  /** Variants asked for so far (by configuration), in order. */
  readonly requests: { variant: string; operation: string }[];
  close(): Promise<void>;
}

export async function startHostileConnector(): Promise<HostileConnector> {
  const dir = mkdtempSync(join(tmpdir(), "hostile-connector-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    { cwd: dir, stdio: "pipe" },
  );
  const serverCertPem = readFileSync(join(dir, "cert.pem"), "utf8");
  const serverKeyPem = readFileSync(join(dir, "key.pem"), "utf8");
  const validity = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 30 * DAY) };
  const ca = await createTestCa("O=Hostile,CN=hostile-ca", validity);
  const otherCa = await createTestCa("O=Hostile,CN=another-ca", validity);
  const requests: { variant: string; operation: string }[] = [];

  const server: Server = createServer({ key: serverKeyPem, cert: serverCertPem }, (req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      void (async () => {
        const token = String(req.headers["connector-token"] ?? "");
        const request = JSON.parse(body) as { query: string; variables?: { csr?: string } };
        const signing = request.query.includes("signCertificateSigningRequest");
        const variantName = signing ? token.replace(/^sign-/, "") : token;
        const variant = HOSTILE_VARIANTS[variantName];
        requests.push({ variant: variantName, operation: signing ? "signCertificateSigningRequest" : "configuration" });
        let result: unknown;
        if (!variant) {
          // As real Compass answers an unknown token: HTTP 400, empty body.
          res.writeHead(400, { "content-type": "application/json;charset=UTF-8", "content-length": "0" }).end();
          return;
        }
        if (!signing) {
          result = {
            token: { token: `sign-${variantName}` },
            certificateSigningRequestInfo: { subject: variant.subject ?? HOSTILE_SUBJECT, keyAlgorithm: "rsa2048" },
            managementPlaneInfo: { directorURL: "https://127.0.0.1:1/director/graphql", certificateSecuredConnectorURL: "https://127.0.0.1:1/connector/graphql" },
          };
        } else {
          const csr = await readCsr(request.variables?.csr ?? "");
          const spki = csr.publicKey.export({ type: "spki", format: "der" });
          const publicKey = (await webcrypto.subtle.importKey("spki", spki, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"])) as CryptoKey;
          result = await variant.sign!(publicKey, { ca, otherCa, now: new Date() });
        }
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: { result } }));
      })().catch((error: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/connector/graphql`;
  writeFileSync(join(dir, "README"), "hostile connector scratch directory\n");
  return {
    url,
    serverCertPem,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
