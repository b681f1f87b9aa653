/**
 * Decoding and validating the `csr` argument of `signCertificateSigningRequest`, step by step like the Compass
 * Connector (compass-contract.md §3.5 / §7.5). Every failure carries the exact Compass error message.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { cryptoEngine, OID } from "./pki.js";
import { nameValues, type NameValues } from "./names.js";

/** The subject constants the Connector puts in front of CN and checks in every CSR. */
export interface SubjectConstants {
  organization: string;
  organizationalUnit: string;
  locality: string;
  province: string;
  country: string;
}

/** Compass chart values (`chart/compass/charts/connector/values.yaml`). */
export const DEFAULT_SUBJECT: SubjectConstants = Object.freeze({
  organization: "Org",
  organizationalUnit: "OrgUnit",
  locality: "locality",
  province: "province",
  country: "DE",
});

/** `O=…,OU=…,L=…,ST=…,C=…,CN=<id>`: the Connector's fixed order, no spaces, no escaping. */
export function subjectString(constants: SubjectConstants, commonName: string): string {
  return `O=${constants.organization},OU=${constants.organizationalUnit},L=${constants.locality},ST=${constants.province},C=${constants.country},CN=${commonName}`;
}

export const DECODE_PREFIX = "Error while decoding Certificate Signing Request: ";
export const SIGN_PREFIX = "Error while signing Certificate Signing Request: ";

/** A CSR rejected by the Connector; `message` is the full GraphQL error message Compass returns. */
export class CsrError extends Error {
  override readonly name = "CsrError";
  constructor(
    message: string,
    readonly step: "base64" | "pem" | "parse" | "signature" | "subject" | "key",
  ) {
    super(message);
  }
}

/**
 * Go's `base64.StdEncoding.DecodeString`: standard alphabet, padding required, `\r` and `\n` ignored anywhere.
 * Returns undefined where Go returns an error (URL-safe characters, bad length, misplaced padding, other bytes).
 */
export function decodeStdBase64(input: string): Buffer | undefined {
  const compact = input.replace(/[\r\n]/g, "");
  if (compact.length % 4 !== 0) return undefined;
  if (!/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact)) return undefined;
  return Buffer.from(compact, "base64");
}

/**
 * Go's `pem.Decode`, simplified: the first `-----BEGIN <type>-----` … `-----END <type>-----` block whose body is valid
 * base64 (optional `Key: value` headers are skipped). Block type is not checked, as in the Connector.
 */
export function decodeFirstPemBlock(data: Buffer): { type: string; der: Buffer } | undefined {
  const text = data.toString("latin1");
  const pattern = /-----BEGIN ([^\r\n-]*)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const type = match[1] ?? "";
    let body = match[2] ?? "";
    // Headers (RFC 1421) end with an empty line.
    if (/^[^\r\n:]+:/.test(body)) {
      const end = body.search(/\r?\n\r?\n/);
      if (end < 0) continue;
      body = body.slice(end).trimStart();
    }
    const compact = body.replace(/[ \t\r\n]/g, "");
    const der = decodeStdBase64(compact);
    if (der !== undefined) return { type, der };
  }
  return undefined;
}

export interface ValidatedCsr {
  request: pkijs.CertificationRequest;
  subject: NameValues;
  /** The raw PKCS#10 DER. */
  der: Buffer;
}

function parseCertificationRequest(der: Buffer): pkijs.CertificationRequest {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) {
    throw new CsrError(`${SIGN_PREFIX}Error while parsing CSR: asn1: syntax error: ${parsed.result.error || "malformed DER"}`, "parse");
  }
  if (parsed.offset !== der.byteLength) {
    throw new CsrError(`${SIGN_PREFIX}Error while parsing CSR: asn1: syntax error: trailing data`, "parse");
  }
  try {
    return new pkijs.CertificationRequest({ schema: parsed.result });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new CsrError(`${SIGN_PREFIX}Error while parsing CSR: asn1: structure error: ${detail}`, "parse");
  }
}

const RSA_SIGNATURE_OIDS = new Set([
  "1.2.840.113549.1.1.4", // md5WithRSAEncryption
  "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
  "1.2.840.113549.1.1.10", // RSASSA-PSS
  "1.2.840.113549.1.1.11", // sha256WithRSAEncryption
  "1.2.840.113549.1.1.12", // sha384WithRSAEncryption
  "1.2.840.113549.1.1.13", // sha512WithRSAEncryption
]);

async function verifySignature(request: pkijs.CertificationRequest): Promise<void> {
  const isRsa = RSA_SIGNATURE_OIDS.has(request.signatureAlgorithm.algorithmId);
  const valid = await request.verify(cryptoEngine).catch(() => false);
  if (!valid) {
    const goError = isRsa ? "crypto/rsa: verification error" : "x509: ECDSA verification failure";
    throw new CsrError(`${SIGN_PREFIX}CSR signature invalid: ${goError}`, "signature");
  }
}

function checkSubject(subject: NameValues, expectedCommonName: string, constants: SubjectConstants): void {
  const fail = (text: string): never => {
    throw new CsrError(`${SIGN_PREFIX}CSR: ${text}`, "subject");
  };
  if (subject.commonName !== expectedCommonName) fail("Invalid common name provided.");
  const checks: Array<[values: string[], expected: string, label: string]> = [
    [subject.country, constants.country, "country"],
    [subject.organization, constants.organization, "organization"],
    [subject.organizationalUnit, constants.organizationalUnit, "organizational unit"],
    [subject.locality, constants.locality, "locality"],
    [subject.province, constants.province, "province"],
  ];
  for (const [values, expected, label] of checks) {
    if (values.length === 0) fail(`No ${label} provided.`);
    if (values[0] !== expected) fail(`Invalid ${label} provided.`);
  }
}

/**
 * Runs §7.5 steps 1–4 in order and stops at the first failure:
 * std base64 → PEM block → PKCS#10 + self-signature → subject (CN, C, O, OU, L, ST) → RSA key.
 */
export async function validateCsr(
  csrArgument: string,
  expectedCommonName: string,
  constants: SubjectConstants,
): Promise<ValidatedCsr> {
  const pemBytes = decodeStdBase64(csrArgument);
  if (pemBytes === undefined) {
    throw new CsrError(`${DECODE_PREFIX}Error while parsing base64 content. Incorrect value provided.`, "base64");
  }
  const block = decodeFirstPemBlock(pemBytes);
  if (block === undefined) throw new CsrError(`${SIGN_PREFIX}Error while decoding pem block.`, "pem");
  const request = parseCertificationRequest(block.der);
  await verifySignature(request);
  const subject = nameValues(request.subject);
  checkSubject(subject, expectedCommonName, constants);
  // Compass copies the CSR's signature algorithm into the certificate template and signs with its RSA CA key, so a
  // non-RSA CSR fails in x509.CreateCertificate (an internal error in Compass).
  if (request.subjectPublicKeyInfo.algorithm.algorithmId !== OID.rsaEncryption) {
    throw new CsrError(
      `${SIGN_PREFIX}Error while creating certificate: x509: requested SignatureAlgorithm does not match private key type`,
      "key",
    );
  }
  return { request, subject, der: block.der };
}
