import { createPublicKey, KeyObject, sign, verify } from "node:crypto";
import { children, decodeOid, encode, encodeOid, expectTag, parse, Tag } from "./der.js";
import { CertificateError, CertificateErrorCode } from "./errors.js";
import type { KeyPair } from "./keys.js";
import { decodeRdnSequence, encodeRdnSequence, sortForCsr, type SubjectStringEncoding } from "./name-der.js";
import { decodeStandardBase64, parsePemBlocks, pemEncode } from "./pem.js";
import { DistinguishedName, toDistinguishedName } from "./subject.js";

export interface CreateCsrOptions {
  /** See {@link SubjectStringEncoding}. Default `"go"` (byte-identical subject to the Go agent's). */
  readonly stringEncoding?: SubjectStringEncoding;
}

/** A PKCS#10 certificate signing request. */
export interface Csr {
  /** `-----BEGIN CERTIFICATE REQUEST-----` PEM text. */
  readonly pem: string;
  /** Standard base64 of `pem`: the value of `signCertificateSigningRequest(csr:)`. */
  readonly base64Pem: string;
  readonly der: Uint8Array;
  /** The subject as encoded, in CSR order (C, ST, L, O, OU, CN, then the rest). */
  readonly subject: DistinguishedName;
}

function isKeyPair(key: KeyPair | CryptoKeyPair): key is KeyPair {
  return "cryptoKeyPair" in key;
}

function csrFailed(message: string, cause?: unknown): CertificateError {
  return new CertificateError(CertificateErrorCode.CsrInvalid, message, cause === undefined ? {} : { cause });
}

/**
 * Builds and signs (SHA256withRSA) a PKCS#10 CSR for `subject`: one RDN per attribute, in Go `pkix.Name` order
 * (C, ST, L, O, OU, CN, others after), no extensions, an empty attribute set — the same bytes Go's
 * `x509.CreateCertificateRequest` produces for the Go agent's subject and the same key.
 *
 * `subject` is the Connector's subject string or a parsed name. `key` is a {@link KeyPair} or a WebCrypto
 * RSASSA-PKCS1-v1_5 key pair.
 */
export async function createCsr(
  subject: string | DistinguishedName,
  key: KeyPair | CryptoKeyPair,
  options: CreateCsrOptions = {},
): Promise<Csr> {
  const dn = toDistinguishedName(subject);
  if (dn.attributes.length === 0) throw csrFailed("A CSR needs a non-empty subject.");
  const keys = isKeyPair(key) ? key.cryptoKeyPair : key;
  for (const k of [keys.privateKey, keys.publicKey]) {
    if (k.algorithm.name !== RSASSA) {
      throw new CertificateError(
        CertificateErrorCode.KeyInvalid,
        `CSR keys must be ${RSASSA} (RSA), got ${k.algorithm.name}.`,
      );
    }
  }
  const ordered = sortForCsr(dn);
  const mode = options.stringEncoding ?? "go";
  if (mode !== "go" && mode !== "utf8") {
    throw new CertificateError(
      CertificateErrorCode.InvalidArgument,
      `Unknown stringEncoding ${String(mode)}.`,
    );
  }
  try {
    const spki = KeyObject.from(keys.publicKey).export({ type: "spki", format: "der" });
    // CertificationRequestInfo: version 0, subject, the public key, no attributes (an empty [0] set, as Go writes).
    const info = encode(Tag.SEQUENCE, VERSION_0, encodeRdnSequence(ordered, mode), spki, encode(Tag.CONTEXT_0));
    const signature = sign("sha256", info, KeyObject.from(keys.privateKey));
    // sha256WithRSAEncryption with NULL parameters (RFC 4055 says they MUST be NULL; Go writes NULL).
    const algorithm = encode(Tag.SEQUENCE, encodeOid(SHA256_WITH_RSA), encode(Tag.NULL));
    const der = encode(Tag.SEQUENCE, info, algorithm, encode(Tag.BIT_STRING, Uint8Array.of(0), signature));
    const pem = pemEncode("CERTIFICATE REQUEST", der);
    return {
      pem,
      base64Pem: Buffer.from(pem, "utf8").toString("base64"),
      der,
      subject: new DistinguishedName(ordered.map((a) => [a])),
    };
  } catch (cause) {
    throw csrFailed("Could not build or sign the CSR.", cause);
  }
}

const VERSION_0 = encode(Tag.INTEGER, Uint8Array.of(0));
const RSASSA = "RSASSA-PKCS1-v1_5";
const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
/** Signature algorithms readCsr verifies (RSA PKCS#1 v1.5 and ECDSA), by OID; others count as not valid. */
const SIGNATURE_HASHES: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.5": "sha1",
  [SHA256_WITH_RSA]: "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
};

/** What {@link readCsr} finds in a CSR. */
export interface CsrInfo {
  readonly subject: DistinguishedName;
  /** The requested public key. */
  readonly publicKey: KeyObject;
  /** True when the CSR's self-signature verifies with its public key. */
  readonly signatureValid: boolean;
  /** Signature algorithm OID (1.2.840.113549.1.1.11 for SHA256withRSA). */
  readonly signatureAlgorithmOid: string;
  readonly der: Uint8Array;
}

/**
 * Parses a CSR given as PEM text or as standard base64 of the PEM (what the Connector receives) and checks its
 * self-signature. Throws `CERT_CSR_INVALID` when it does not parse. Useful for simulators and tests.
 */
export async function readCsr(csr: string): Promise<CsrInfo> {
  let text = csr;
  if (!csr.trimStart().startsWith("-----BEGIN")) {
    try {
      text = Buffer.from(decodeStandardBase64(csr, "CSR")).toString("utf8");
    } catch (cause) {
      throw csrFailed("CSR is neither PEM nor standard base64 of PEM.", cause);
    }
  }
  let blocks;
  try {
    blocks = parsePemBlocks(text);
  } catch (cause) {
    throw csrFailed("CSR PEM is malformed.", cause);
  }
  const block = blocks.find(
    (b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST",
  );
  if (block === undefined) throw csrFailed("No CERTIFICATE REQUEST PEM block found.");
  try {
    const [info, algorithm, signature] = children(parse(block.der, Tag.SEQUENCE));
    const signed = expectTag(info, Tag.SEQUENCE);
    const [version, subjectName, spki] = children(signed);
    expectTag(version, Tag.INTEGER);
    const subject = decodeRdnSequence(expectTag(subjectName, Tag.SEQUENCE).der, "CSR subject");
    const publicKey = createPublicKey({ key: Buffer.from(expectTag(spki, Tag.SEQUENCE).der), format: "der", type: "spki" });
    const [algorithmOid] = children(expectTag(algorithm, Tag.SEQUENCE));
    const signatureAlgorithmOid = decodeOid(expectTag(algorithmOid, Tag.OBJECT_IDENTIFIER));
    const signatureBits = expectTag(signature, Tag.BIT_STRING).content;
    const hash = SIGNATURE_HASHES[signatureAlgorithmOid];
    let signatureValid = false; // unsupported algorithm or malformed signature: not valid
    if (hash !== undefined && signatureBits[0] === 0) {
      try {
        signatureValid = verify(hash, signed.der, publicKey, signatureBits.subarray(1));
      } catch {
        signatureValid = false;
      }
    }
    return { subject, publicKey, signatureValid, signatureAlgorithmOid, der: block.der };
  } catch (cause) {
    if (cause instanceof CertificateError)
      throw csrFailed(`CSR subject is malformed: ${cause.message}`, cause);
    throw csrFailed("CSR does not parse as PKCS#10.", cause);
  }
}
