import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { beforeAll, describe, expect, it } from "vitest";
import { createCsr, readCsr, type Csr } from "./csr.js";
import { CertificateError } from "./errors.js";
import { generateKeyPair, importKeyPair, type KeyPair } from "./keys.js";
import { DistinguishedName, parseSubject } from "./subject.js";

const COMPASS = "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75";
const fixtures = new URL("../test/fixtures/go-csr/", import.meta.url);

let pair: KeyPair;
beforeAll(async () => {
  pair = await generateKeyPair({ modulusLength: 2048 });
});

/** The ASN.1 universal tag numbers of the subject values, in DER order: 19 PrintableString, 12 UTF8String, 22 IA5String. */
function subjectValueTags(csr: Csr): { oid: string; tag: number }[] {
  const root = asn1js.fromBER(csr.der).result as asn1js.Sequence;
  const info = root.valueBlock.value[0] as asn1js.Sequence;
  const subject = info.valueBlock.value[1] as asn1js.Sequence;
  return subject.valueBlock.value.map((set) => {
    expect((set as asn1js.Set).valueBlock.value).toHaveLength(1);
    const atv = (set as asn1js.Set).valueBlock.value[0] as asn1js.Sequence;
    const [oid, value] = atv.valueBlock.value as [asn1js.ObjectIdentifier, asn1js.BaseBlock];
    return { oid: oid.getValue(), tag: value.idBlock.tagNumber };
  });
}

function withTempFile<T>(name: string, content: string, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "cert-manager-"));
  try {
    const path = join(dir, name);
    writeFileSync(path, content);
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("createCsr", () => {
  it("is byte-identical to the Go agent's CSR for the same key and subject", async () => {
    const key = await importKeyPair(readFileSync(new URL("test-key.pem", fixtures), "utf8"));
    const golden = JSON.parse(readFileSync(new URL("go-agent-csrs.json", fixtures), "utf8")) as {
      subject: string;
      csr: string;
    }[];
    expect(golden.length).toBeGreaterThanOrEqual(3);
    for (const { subject, csr } of golden) {
      expect((await createCsr(subject, key)).pem, subject).toBe(csr);
    }
  });

  it("passes `openssl req -verify` with a normal one-RDN-per-attribute subject", async () => {
    const csr = await createCsr(COMPASS, pair);
    const result = withTempFile("csr.pem", csr.pem, (path) =>
      spawnSync("openssl", ["req", "-verify", "-noout", "-text", "-in", path], { encoding: "utf8" }),
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      "Subject: C = DE, ST = province, L = locality, O = Org, OU = OrgUnit, CN = a0aa0faf-4ac5-44c3-8e79-9a551eeaac75",
    );
    expect(result.stdout).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(result.stdout).toContain("Public-Key: (2048 bit)");
    expect(`${result.stdout}\n${result.stderr}`).toMatch(/(Certificate request self-signature )?verify OK/);
    expect(result.stdout).not.toContain(" + ");
  });

  it("orders attributes as Go's pkix.Name (C, ST, L, O, OU, CN, then the rest) and keeps repeats", async () => {
    const csr = await createCsr("UID=u,CN=id,OU=b,O=Org,OU=a,C=DE,DC=example,L=loc,ST=st", pair);
    expect(csr.subject.attributes.map((a) => `${a.type}=${a.value}`)).toEqual([
      "C=DE",
      "ST=st",
      "L=loc",
      "O=Org",
      "OU=b",
      "OU=a",
      "CN=id",
      "UID=u",
      "DC=example",
    ]);
    const text = withTempFile("csr.pem", csr.pem, (path) =>
      execFileSync("openssl", ["req", "-noout", "-subject", "-nameopt", "RFC2253", "-in", path], {
        encoding: "utf8",
      }),
    );
    expect(text.trim()).toBe("subject=DC=example,UID=u,CN=id,OU=a,OU=b,O=Org,L=loc,ST=st,C=DE");
    expect((await readCsr(csr.pem)).subject.rdns).toEqual(csr.subject.rdns);
  });

  it("encodes values like Go: PrintableString when possible, else UTF8String; DC/email as IA5String", async () => {
    const csr = await createCsr("C=DE,O=Acme & Co,OU=plain,CN=Zürich,DC=dc,emailAddress=a@b.c", pair);
    expect(subjectValueTags(csr).map((t) => t.tag)).toEqual([19, 12, 19, 12, 22, 22]);
  });

  it('offers "utf8" encoding: C PrintableString, everything else UTF8String', async () => {
    const csr = await createCsr(COMPASS, pair, { stringEncoding: "utf8" });
    expect(subjectValueTags(csr).map((t) => t.tag)).toEqual([19, 12, 12, 12, 12, 12]);
    expect((await readCsr(csr.pem)).subject.equals(parseSubject(COMPASS))).toBe(true);
  });

  it("round-trips escaped and unicode values through the DER", async () => {
    const subject = String.raw`CN=a\,b\+c "q" \\ ;<>=,O=Straße 😀,OU=\ lead,C=DE`;
    const csr = await createCsr(subject, pair);
    const info = await readCsr(csr.base64Pem);
    expect(info.subject.equals(parseSubject(subject))).toBe(true);
    expect(info.subject.commonName).toBe('a,b+c "q" \\ ;<>=');
  });

  it("base64Pem is standard base64 of the PEM text, as Compass expects", async () => {
    const csr = await createCsr(parseSubject(COMPASS), pair.cryptoKeyPair);
    expect(csr.base64Pem).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(csr.base64Pem, "base64").toString("utf8")).toBe(csr.pem);
    expect(csr.pem.startsWith("-----BEGIN CERTIFICATE REQUEST-----\n")).toBe(true);
  });

  it("rejects non-RSA keys, empty subjects, bad subjects and unknown encodings", async () => {
    const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    await expect(createCsr(COMPASS, ec)).rejects.toMatchObject({ code: "CERT_KEY_INVALID" });
    await expect(createCsr(DistinguishedName.from([]), pair)).rejects.toMatchObject({
      code: "CERT_CSR_INVALID",
    });
    await expect(createCsr("O=Org,broken", pair)).rejects.toMatchObject({ code: "CERT_SUBJECT_INVALID" });
    await expect(createCsr(COMPASS, pair, { stringEncoding: "latin1" as "go" })).rejects.toMatchObject({
      code: "CERT_INVALID_ARGUMENT",
    });
  });
});

describe("readCsr", () => {
  it("reads subject, public key and signature validity from PEM or base64(PEM)", async () => {
    const csr = await createCsr(COMPASS, pair);
    for (const input of [csr.pem, csr.base64Pem, `\n${csr.base64Pem.replace(/(.{76})/g, "$1\r\n")}`]) {
      const info = await readCsr(input);
      expect(info.signatureValid).toBe(true);
      expect(info.signatureAlgorithmOid).toBe("1.2.840.113549.1.1.11");
      expect(info.publicKey.export({ type: "spki", format: "pem" })).toBe(pair.publicKeyPem);
      expect(info.subject.toString()).toBe(
        "C=DE,ST=province,L=locality,O=Org,OU=OrgUnit,CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75",
      );
      expect(Buffer.from(info.der).equals(Buffer.from(csr.der))).toBe(true);
    }
  });

  it("reports a tampered signature as invalid", async () => {
    const csr = await createCsr(COMPASS, pair);
    const der = Buffer.from(csr.der);
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0xff;
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    expect((await readCsr(pem)).signatureValid).toBe(false);
  });

  it("throws CERT_CSR_INVALID on garbage", async () => {
    const cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    for (const input of [
      "",
      "%%%",
      Buffer.from("hello").toString("base64"),
      cert,
      cert.replaceAll("CERTIFICATE", "CERTIFICATE REQUEST"),
    ]) {
      const error = await readCsr(input).catch((e: unknown) => e);
      expect(error, input).toBeInstanceOf(CertificateError);
      expect((error as CertificateError).code, input).toBe("CERT_CSR_INVALID");
    }
  });
});
