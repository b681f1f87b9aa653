import { createPublicKey, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CertificateError, CertificateErrorCode } from "./errors.js";
import type { KeyPair } from "./keys.js";
import { decodeRdnSequence, encodeRdnSequence, sortForCsr, type SubjectStringEncoding } from "./name-der.js";
import { decodeStandardBase64, parsePemBlocks, pemEncode } from "./pem.js";
import { DistinguishedName, toDistinguishedName } from "./subject.js";

/** pkijs engine bound to Node's WebCrypto; passed explicitly so we never touch pkijs' global engine. */
const engine = new pkijs.CryptoEngine({ name: "node-webcrypto", crypto: globalThis.crypto });

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
    const subjectSchema = asn1js.fromBER(encodeRdnSequence(ordered, mode)).result;
    const csr = new pkijs.CertificationRequest({ attributes: [] });
    csr.version = 0;
    csr.subject = new pkijs.RelativeDistinguishedNames({ schema: subjectSchema });
    await csr.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
    await csr.sign(keys.privateKey, "SHA-256", engine);
    // pkijs leaves the parameters of sha256WithRSAEncryption absent; RFC 4055 says they MUST be NULL, and Go writes
    // NULL. The AlgorithmIdentifier sits outside the signed part, so this does not touch the signature.
    if (
      csr.signatureAlgorithm.algorithmId === SHA256_WITH_RSA &&
      csr.signatureAlgorithm.algorithmParams === undefined
    ) {
      csr.signatureAlgorithm = new pkijs.AlgorithmIdentifier({
        algorithmId: SHA256_WITH_RSA,
        algorithmParams: new asn1js.Null(),
      });
    }
    const der = new Uint8Array(csr.toSchema(false).toBER(false));
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

const RSASSA = "RSASSA-PKCS1-v1_5";
const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";

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
    const request = pkijs.CertificationRequest.fromBER(block.der);
    const subject = decodeRdnSequence(request.subject.toSchema().toBER(false), "CSR subject");
    const spki = new Uint8Array(request.subjectPublicKeyInfo.toSchema().toBER(false));
    const publicKey = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    let signatureValid: boolean;
    try {
      signatureValid = await request.verify(engine);
    } catch {
      signatureValid = false; // unsupported algorithm or malformed signature: not valid
    }
    return {
      subject,
      publicKey,
      signatureValid,
      signatureAlgorithmOid: request.signatureAlgorithm.algorithmId,
      der: block.der,
    };
  } catch (cause) {
    if (cause instanceof CertificateError)
      throw csrFailed(`CSR subject is malformed: ${cause.message}`, cause);
    throw csrFailed("CSR does not parse as PKCS#10.", cause);
  }
}
