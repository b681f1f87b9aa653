import { createPrivateKey, generateKeyPairSync, createSign, createVerify } from "node:crypto";
import { inspect } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { CertificateError } from "./errors.js";
import { generateKeyPair, importKeyPair, modulusLengthFor, readPrivateKey, toPkcs1Pem, type KeyPair } from "./keys.js";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof CertificateError ? error.code : "not a CertificateError";
  }
  return undefined;
}

let pair: KeyPair;
beforeAll(async () => {
  pair = await generateKeyPair({ modulusLength: 2048 });
});

describe("generateKeyPair", () => {
  it("returns WebCrypto keys and a PKCS#1 PEM that node:crypto reads as the same key", async () => {
    expect(pair.modulusLength).toBe(2048);
    expect(pair.cryptoKeyPair.privateKey.algorithm).toMatchObject({
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      hash: { name: "SHA-256" },
    });
    expect(pair.privateKeyPem).toMatch(
      /^-----BEGIN RSA PRIVATE KEY-----\n[\s\S]+\n-----END RSA PRIVATE KEY-----\n$/,
    );
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    // sign with WebCrypto, verify with the PEM public key; sign with the PEM private key, verify with WebCrypto
    const data = Buffer.from("hello");
    const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", pair.cryptoKeyPair.privateKey, data);
    expect(createVerify("sha256").update(data).verify(pair.publicKeyPem, Buffer.from(sig))).toBe(true);
    const sig2 = createSign("sha256").update(data).sign(pair.privateKeyPem);
    expect(await crypto.subtle.verify("RSASSA-PKCS1-v1_5", pair.cryptoKeyPair.publicKey, sig2, data)).toBe(
      true,
    );
  });

  it("defaults to 4096 bits (as the Go agent)", { timeout: 60_000 }, async () => {
    const big = await generateKeyPair();
    expect(big.modulusLength).toBe(4096);
    expect(readPrivateKey(big.privateKeyPem).asymmetricKeyDetails?.modulusLength).toBe(4096);
  });

  it("rejects out-of-range sizes", async () => {
    for (const modulusLength of [1024, 2047.5, 32768, Number.NaN]) {
      await expect(generateKeyPair({ modulusLength })).rejects.toMatchObject({
        code: "CERT_INVALID_ARGUMENT",
      });
    }
  });

  it("keeps the private key out of JSON and inspect output", () => {
    const body = pair.privateKeyPem.split("\n")[1] ?? "";
    expect(JSON.stringify(pair)).not.toContain(body);
    expect(JSON.stringify(pair)).toContain("[REDACTED]");
    expect(inspect(pair, { depth: 5 })).not.toContain(body);
    expect(Object.keys(pair)).not.toContain("privateKeyPem");
  });
});

describe("modulusLengthFor (the Connector's advisory keyAlgorithm)", () => {
  it.each([
    ["rsa2048", 2048],
    ["RSA3072", 3072],
    [" rsa-4096 ", 4096],
    ["rsa_8192", 8192],
    // Below the floor: stronger than asked, still RSA (Compass signs any RSA key).
    ["rsa1024", 2048],
    // Above the ceiling: capped, so a hostile or mistaken value cannot stall pairing for minutes.
    ["rsa65536", 8192],
    // Names no RSA size: the default.
    ["", 4096],
    ["ecdsa256", 4096],
    ["rsa", 4096],
    ["rsa2048x", 4096],
  ])("%j -> %i bits", (keyAlgorithm, bits) => {
    expect(modulusLengthFor(keyAlgorithm)).toBe(bits);
  });
});

describe("readPrivateKey / toPkcs1Pem", () => {
  it("reads PKCS#1 and PKCS#8, and converts to PKCS#1", () => {
    const pkcs8 = readPrivateKey(pair.privateKeyPem).export({ type: "pkcs8", format: "pem" }).toString();
    expect(pkcs8).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readPrivateKey(pkcs8).asymmetricKeyType).toBe("rsa");
    expect(toPkcs1Pem(pkcs8)).toBe(pair.privateKeyPem);
    expect(toPkcs1Pem(readPrivateKey(pkcs8))).toBe(pair.privateKeyPem);
    expect(readPrivateKey(`# stored by the agent\n${pair.privateKeyPem.replaceAll("\n", "\r\n")}`).type).toBe(
      "private",
    );
  });

  it("rejects everything else with CERT_KEY_INVALID, without echoing the input", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    const encrypted = createPrivateKey(pair.privateKeyPem)
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" })
      .toString();
    const cases: Record<string, unknown> = {
      garbage: "not a key",
      empty: "",
      publicKey: pair.publicKeyPem,
      ec: ec.toString(),
      encrypted,
      twoKeys: pair.privateKeyPem + pair.privateKeyPem,
      corrupt: pair.privateKeyPem.replace(/\n[A-Za-z0-9+/]{8}/, "\nAAAAAAAA"),
      truncated: `-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK==\n-----END RSA PRIVATE KEY-----\n`,
      notAString: 42,
    };
    for (const [name, input] of Object.entries(cases)) {
      let caught: unknown;
      try {
        readPrivateKey(input as string);
      } catch (error) {
        caught = error;
      }
      expect(caught, name).toBeInstanceOf(CertificateError);
      expect((caught as CertificateError).code, name).toBe("CERT_KEY_INVALID");
      const line = pair.privateKeyPem.split("\n")[2] ?? "";
      expect((caught as CertificateError).message).not.toContain(line);
    }
  });

  it("toPkcs1Pem refuses public and non-RSA keys", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    expect(code(() => toPkcs1Pem(publicKey))).toBe("CERT_KEY_INVALID");
    expect(code(() => toPkcs1Pem(privateKey))).toBe("CERT_KEY_INVALID");
  });
});

describe("importKeyPair", () => {
  it("imports a stored key for signing", async () => {
    const imported = await importKeyPair(pair.privateKeyPem);
    expect(imported.modulusLength).toBe(2048);
    expect(imported.privateKeyPem).toBe(pair.privateKeyPem);
    expect(imported.publicKeyPem).toBe(pair.publicKeyPem);
    const data = Buffer.from("x");
    const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", imported.cryptoKeyPair.privateKey, data);
    expect(await crypto.subtle.verify("RSASSA-PKCS1-v1_5", pair.cryptoKeyPair.publicKey, sig, data)).toBe(
      true,
    );
  });

  it("rejects small keys", async () => {
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
      type: "pkcs1",
      format: "pem",
    });
    await expect(importKeyPair(small.toString())).rejects.toMatchObject({ code: "CERT_KEY_INVALID" });
  });
});
