import { execFileSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { b64, createTestCa, issueCertificate, type TestCa } from "../test/support/test-ca.js";
import {
  certificateFacts,
  decodeCertificationResult,
  type CertificationExpectations,
  type CertificationResult,
} from "./certificate.js";
import { createCsr } from "./csr.js";
import { CertificateError } from "./errors.js";
import { generateKeyPair, type KeyPair } from "./keys.js";
import { pemEncode } from "./pem.js";
import { parseSubject } from "./subject.js";

const COMPASS = "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75";
const NOW = new Date("2026-03-01T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);
const caValidity = { notBefore: at(-DAY), notAfter: at(3650 * DAY) };

let root: TestCa;
let intermediate: TestCa;
let other: TestCa;
let impostor: TestCa; // same subject as root, different key
let key: KeyPair;
let otherKey: KeyPair;
let leaf: string; // signed by root, valid NOW-1m … NOW+90d
let expect_: CertificationExpectations;

async function leafCert(overrides: Partial<Parameters<typeof issueCertificate>[0]> = {}): Promise<string> {
  return issueCertificate({
    subject: COMPASS,
    publicKey: key.cryptoKeyPair.publicKey,
    issuer: root,
    notBefore: at(-60_000),
    notAfter: at(90 * DAY),
    ...overrides,
  });
}

function result(client: string, chain: string[], ca: string[]): CertificationResult {
  return {
    clientCertificate: b64(client),
    certificateChain: b64(chain.join("")),
    caCertificate: b64(ca.join("")),
  };
}

function rejection(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof CertificateError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a CertificateError");
}

beforeAll(async () => {
  [root, other, key, otherKey] = await Promise.all([
    createTestCa("CN=Test Root CA,O=Test", caValidity),
    createTestCa("CN=Other CA,O=Elsewhere", caValidity),
    generateKeyPair({ modulusLength: 2048 }),
    generateKeyPair({ modulusLength: 2048 }),
  ]);
  [intermediate, impostor] = await Promise.all([
    createTestCa("CN=Test Intermediate CA,O=Test", caValidity, root),
    createTestCa("CN=Test Root CA,O=Test", caValidity),
  ]);
  leaf = await leafCert();
  expect_ = { privateKeyPem: key.privateKeyPem, subject: COMPASS, now: NOW };
});

describe("certificateFacts", () => {
  it("reports subject/issuer (RFC 4514), serial, validity, fingerprint and canonical PEM", async () => {
    const pem = await leafCert({ serial: 0x0abcdef });
    const facts = certificateFacts(`explanatory text\r\n${pem.replaceAll("\n", "\r\n")}`);
    expect(facts.subject).toBe(
      "CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75,OU=OrgUnit,O=Org,L=locality,ST=province,C=DE",
    );
    expect(facts.issuer).toBe("O=Test,CN=Test Root CA");
    expect(facts.serialNumber).toBe("abcdef"); // DER 00 AB CD EF: no sign byte, as OpenSSL prints it
    expect(facts.notBefore).toEqual(at(-60_000));
    expect(facts.notAfter).toEqual(at(90 * DAY));
    const x509 = new X509Certificate(pem);
    expect(facts.fingerprintSha256).toBe(x509.fingerprint256.replaceAll(":", "").toLowerCase());
    expect(facts.fingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(facts.pem).toBe(pem);
    expect(parseSubject(facts.subject).equals(parseSubject(COMPASS))).toBe(true);
  });

  it("prints the subject as openssl -nameopt RFC2253 does", () => {
    const dir = mkdtempSync(join(tmpdir(), "cert-manager-"));
    try {
      writeFileSync(join(dir, "leaf.pem"), leaf);
      const out = execFileSync(
        "openssl",
        [
          "x509",
          "-noout",
          "-subject",
          "-issuer",
          "-serial",
          "-nameopt",
          "RFC2253",
          "-in",
          join(dir, "leaf.pem"),
        ],
        { encoding: "utf8" },
      );
      const facts = certificateFacts(leaf);
      expect(out).toContain(`subject=${facts.subject}\n`);
      expect(out).toContain(`issuer=${facts.issuer}\n`);
      expect(out.toLowerCase()).toContain(`serial=${facts.serialNumber}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the first certificate of a bundle and rejects input without one", () => {
    expect(certificateFacts(leaf + root.pem).subject).toContain("CN=a0aa0faf");
    expect(rejection(() => certificateFacts("nothing")).code).toBe("CERT_BAD_ENCODING");
    expect(
      rejection(() => certificateFacts(pemEncode("CERTIFICATE", new Uint8Array([48, 3, 1, 1, 0])))).code,
    ).toBe("CERT_BAD_ENCODING");
    expect(rejection(() => certificateFacts(undefined as unknown as string)).code).toBe("CERT_BAD_ENCODING");
  });
});

describe("decodeCertificationResult: accepted answers", () => {
  it("accepts the Connector's shape: chain = client + CA, caCertificate = CA", () => {
    const decoded = decodeCertificationResult(result(leaf, [leaf, root.pem], [root.pem]), expect_);
    expect(decoded.clientCertificatePem).toBe(leaf);
    expect(decoded.certificateChainPem).toBe(leaf + root.pem);
    expect(decoded.caCertificatePem).toBe(root.pem);
    expect(decoded.client.subject).toBe(
      "CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75,OU=OrgUnit,O=Org,L=locality,ST=province,C=DE",
    );
    expect(decoded.chain.map((c) => c.subject)).toEqual([decoded.client.subject, "O=Test,CN=Test Root CA"]);
    expect(decoded.ca).toHaveLength(1);
    expect(decoded.chain[0]).toEqual(decoded.client);
  });

  it("tolerates line-wrapped base64 and CRLF PEM", () => {
    const wrap = (s: string): string => s.replace(/(.{76})/g, "$1\r\n");
    const r = result(leaf.replaceAll("\n", "\r\n"), [leaf, root.pem], [root.pem]);
    const decoded = decodeCertificationResult(
      {
        clientCertificate: wrap(r.clientCertificate),
        certificateChain: wrap(r.certificateChain),
        caCertificate: ` ${r.caCertificate}\n`,
      },
      expect_,
    );
    expect(decoded.clientCertificatePem).toBe(leaf);
  });

  it("accepts intermediates: with the root appended, or with the chain ending below caCertificate", async () => {
    const viaIntermediate = await leafCert({ issuer: intermediate });
    const withRoot = result(
      viaIntermediate,
      [viaIntermediate, intermediate.pem, root.pem],
      [intermediate.pem, root.pem],
    );
    expect(decodeCertificationResult(withRoot, expect_).chain).toHaveLength(3);
    const belowCa = result(viaIntermediate, [viaIntermediate, intermediate.pem], [root.pem]);
    expect(decodeCertificationResult(belowCa, expect_).chain).toHaveLength(2);
    const leafOnly = result(viaIntermediate, [viaIntermediate], [intermediate.pem]);
    expect(decodeCertificationResult(leafOnly, expect_).chain).toHaveLength(1);
  });

  it("compares subjects order-insensitively (any RDN order or grouping)", async () => {
    const compassOrder = await leafCert({ keepOrder: true });
    expect(certificateFacts(compassOrder).subject).toBe(
      "CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75,C=DE,ST=province,L=locality,OU=OrgUnit,O=Org",
    );
    decodeCertificationResult(result(compassOrder, [compassOrder, root.pem], [root.pem]), expect_);
    decodeCertificationResult(result(leaf, [leaf, root.pem], [root.pem]), {
      ...expect_,
      subject: parseSubject(
        "CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75 + C=DE, ST=province,L=locality,OU=OrgUnit,O=Org",
      ),
    });
  });

  it("accepts a PKCS#8 copy of our key", () => {
    const pkcs8 = createPrivateKey(key.privateKeyPem).export({ type: "pkcs8", format: "pem" }).toString();
    expect(() =>
      decodeCertificationResult(result(leaf, [leaf, root.pem], [root.pem]), {
        ...expect_,
        privateKeyPem: pkcs8,
      }),
    ).not.toThrow();
  });

  it("allows 5 minutes of clock skew on notBefore by default, configurable", async () => {
    const early = await leafCert({ notBefore: at(4 * 60_000) });
    expect(() =>
      decodeCertificationResult(result(early, [early, root.pem], [root.pem]), expect_),
    ).not.toThrow();
    const later = await leafCert({ notBefore: at(HOUR) });
    expect(() =>
      decodeCertificationResult(result(later, [later, root.pem], [root.pem]), {
        ...expect_,
        clockSkewMs: 2 * HOUR,
      }),
    ).not.toThrow();
    expect(
      rejection(() =>
        decodeCertificationResult(result(early, [early, root.pem], [root.pem]), {
          ...expect_,
          clockSkewMs: 0,
        }),
      ).code,
    ).toBe("CERT_NOT_YET_VALID");
  });

  it("works end to end with a certificate openssl signed from our CSR", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cert-manager-"));
    try {
      const csr = await createCsr(COMPASS, key);
      writeFileSync(join(dir, "csr.pem"), csr.pem);
      writeFileSync(join(dir, "ca.pem"), root.pem);
      writeFileSync(join(dir, "ca.key"), root.keyPair.privateKeyPem);
      execFileSync(
        "openssl",
        [
          "x509",
          "-req",
          "-in",
          "csr.pem",
          "-CA",
          "ca.pem",
          "-CAkey",
          "ca.key",
          "-set_serial",
          "2",
          "-days",
          "90",
          "-sha256",
          "-out",
          "leaf.pem",
        ],
        { cwd: dir, stdio: "pipe" },
      );
      const signed = readFileSync(join(dir, "leaf.pem"), "utf8");
      const facts = certificateFacts(signed);
      expect(facts.serialNumber).toBe("02");
      const decoded = decodeCertificationResult(result(signed, [signed, root.pem], [root.pem]), {
        ...expect_,
        now: new Date(facts.notBefore.getTime() + 60_000),
      });
      expect(decoded.client.fingerprintSha256).toBe(facts.fingerprintSha256);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("decodeCertificationResult: rejections", () => {
  it("CERT_BAD_ENCODING: not base64, not PEM, no certificate, other blocks, bad DER, missing fields", () => {
    const good = result(leaf, [leaf, root.pem], [root.pem]);
    const bad: Record<string, Partial<Record<keyof CertificationResult, unknown>>> = {
      "not base64": { clientCertificate: "%%% not base64 %%%" },
      "url-safe base64": {
        certificateChain: good.certificateChain.replaceAll("+", "-").replaceAll("/", "_") + "-_",
      },
      unpadded: {
        caCertificate: [root.pem, `${root.pem}\n`, `${root.pem}\n\n`]
          .map(b64)
          .find((s) => s.endsWith("="))
          ?.replace(/=+$/, ""),
      },
      "base64 of plain text": { clientCertificate: b64("hello world") },
      empty: { caCertificate: "" },
      "whitespace only": { certificateChain: " \n " },
      "private key block": { caCertificate: b64(key.privateKeyPem) },
      "mixed blocks": { certificateChain: b64(leaf + key.privateKeyPem) },
      "bad DER": { clientCertificate: b64(pemEncode("CERTIFICATE", new Uint8Array([1, 2, 3, 4]))) },
      "PEM not base64-wrapped": { clientCertificate: leaf },
      missing: { certificateChain: undefined },
      "not a string": { caCertificate: 12 },
    };
    for (const [name, patch] of Object.entries(bad)) {
      const input = { ...good, ...patch } as unknown as CertificationResult;
      let code: string | undefined;
      try {
        decodeCertificationResult(input, expect_);
      } catch (error) {
        code = error instanceof CertificateError ? error.code : String(error);
      }
      expect(code, name).toBe("CERT_BAD_ENCODING");
    }
    expect(
      rejection(() => decodeCertificationResult(null as unknown as CertificationResult, expect_)).code,
    ).toBe("CERT_BAD_ENCODING");
  });

  it("CERT_KEY_MISMATCH: the client certificate is for another key", async () => {
    const foreign = await leafCert({ publicKey: otherKey.cryptoKeyPair.publicKey });
    const error = rejection(() =>
      decodeCertificationResult(result(foreign, [foreign, root.pem], [root.pem]), expect_),
    );
    expect(error.code).toBe("CERT_KEY_MISMATCH");
    expect(error.message).not.toContain(key.privateKeyPem.split("\n")[1]);
  });

  it("CERT_SUBJECT_MISMATCH: different CN, an extra or a missing attribute, a changed value", async () => {
    for (const subject of [
      COMPASS.replace("CN=a0aa", "CN=b0aa"),
      `${COMPASS},OU=Extra`,
      COMPASS.replace("OU=OrgUnit,", ""),
      COMPASS.replace("O=Org", "O=org"),
    ]) {
      const cert = await leafCert({ subject });
      const error = rejection(() =>
        decodeCertificationResult(result(cert, [cert, root.pem], [root.pem]), expect_),
      );
      expect(error.code, subject).toBe("CERT_SUBJECT_MISMATCH");
      expect(error.message).toContain("differs from the requested subject");
    }
  });

  it("CERT_CHAIN_INVALID: chain without the client certificate first", async () => {
    const sibling = await leafCert({ serial: 4242 });
    for (const chain of [[root.pem], [sibling, root.pem], [root.pem, leaf]]) {
      const error = rejection(() => decodeCertificationResult(result(leaf, chain, [root.pem]), expect_));
      expect(error.code).toBe("CERT_CHAIN_INVALID");
      expect(error.message).toContain("does not start with the client certificate");
    }
  });

  it("CERT_CHAIN_INVALID: a link does not verify (wrong issuer, wrong order, forged signature)", async () => {
    const viaIntermediate = await leafCert({ issuer: intermediate });
    const forged = await leafCert({ issuer: impostor }); // issuer name matches root, signature does not
    const cases: [string, CertificationResult][] = [
      ["issued by root, chain names other CA", result(leaf, [leaf, other.pem], [other.pem])],
      ["wrong order", result(viaIntermediate, [viaIntermediate, root.pem, intermediate.pem], [root.pem])],
      ["forged signature", result(forged, [forged, root.pem], [root.pem])],
    ];
    for (const [name, input] of cases) {
      expect(rejection(() => decodeCertificationResult(input, expect_)).code, name).toBe(
        "CERT_CHAIN_INVALID",
      );
    }
  });

  it("CERT_CHAIN_INVALID: the chain does not end at caCertificate", async () => {
    const viaIntermediate = await leafCert({ issuer: intermediate });
    const cases: [string, CertificationResult][] = [
      ["CA of another authority", result(leaf, [leaf, root.pem], [other.pem])],
      ["leaf only, CA unrelated", result(leaf, [leaf], [other.pem])],
      [
        "forged leaf only",
        result(await leafCert({ issuer: impostor }), [await leafCert({ issuer: impostor })], [root.pem]),
      ],
      [
        "intermediate chain, other CA",
        result(viaIntermediate, [viaIntermediate, intermediate.pem], [other.pem]),
      ],
    ];
    for (const [name, input] of cases) {
      const error = rejection(() => decodeCertificationResult(input, expect_));
      expect(error.code, name).toBe("CERT_CHAIN_INVALID");
    }
  });

  it("CERT_CHAIN_INVALID: clientCertificate is not a prefix of the chain, or the CA bundle holds the client", async () => {
    expect(
      rejection(() =>
        decodeCertificationResult(result(leaf + other.pem, [leaf, root.pem], [root.pem]), expect_),
      ).code,
    ).toBe("CERT_CHAIN_INVALID");
    expect(
      rejection(() => decodeCertificationResult(result(leaf, [leaf, root.pem], [root.pem, leaf]), expect_))
        .code,
    ).toBe("CERT_CHAIN_INVALID");
    // a prefix is fine
    expect(() =>
      decodeCertificationResult(result(leaf + root.pem, [leaf, root.pem], [root.pem]), expect_),
    ).not.toThrow();
  });

  it("CERT_NOT_YET_VALID and CERT_EXPIRED", async () => {
    const future = await leafCert({ notBefore: at(HOUR), notAfter: at(90 * DAY) });
    const expired = await leafCert({ notBefore: at(-90 * DAY), notAfter: at(-1000) });
    const e1 = rejection(() =>
      decodeCertificationResult(result(future, [future, root.pem], [root.pem]), expect_),
    );
    expect(e1.code).toBe("CERT_NOT_YET_VALID");
    expect(e1.message).toContain(at(HOUR).toISOString());
    expect(
      rejection(() => decodeCertificationResult(result(expired, [expired, root.pem], [root.pem]), expect_))
        .code,
    ).toBe("CERT_EXPIRED");
    // notAfter itself is still valid (inclusive)
    expect(() =>
      decodeCertificationResult(result(expired, [expired, root.pem], [root.pem]), {
        ...expect_,
        now: at(-1000),
      }),
    ).not.toThrow();
  });

  it("CERT_KEY_INVALID, CERT_SUBJECT_INVALID and CERT_INVALID_ARGUMENT for bad expectations", () => {
    const good = result(leaf, [leaf, root.pem], [root.pem]);
    expect(rejection(() => decodeCertificationResult(good, { ...expect_, privateKeyPem: "nope" })).code).toBe(
      "CERT_KEY_INVALID",
    );
    expect(rejection(() => decodeCertificationResult(good, { ...expect_, subject: "garbage" })).code).toBe(
      "CERT_SUBJECT_INVALID",
    );
    expect(rejection(() => decodeCertificationResult(good, { ...expect_, now: new Date("nope") })).code).toBe(
      "CERT_INVALID_ARGUMENT",
    );
    expect(rejection(() => decodeCertificationResult(good, { ...expect_, clockSkewMs: -1 })).code).toBe(
      "CERT_INVALID_ARGUMENT",
    );
  });
});
