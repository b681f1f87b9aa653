import { createHash, X509Certificate, type KeyObject } from "node:crypto";
import { CertificateError, CertificateErrorCode } from "./errors.js";
import { readPrivateKey } from "./keys.js";
import { children, parse, Tag } from "./der.js";
import { decodeRdnSequence } from "./name-der.js";
import { decodeStandardBase64, parsePemBlocks, pemEncode } from "./pem.js";
import { DistinguishedName, formatSubject, toDistinguishedName } from "./subject.js";

/** What the agent records about a certificate (plain data; JSON-friendly apart from the Dates). */
export interface CertificateFacts {
  /** RFC 4514 string, last RDN first (as Go's `pkix.Name.String()` and `openssl -nameopt RFC2253` print it). */
  readonly subject: string;
  readonly issuer: string;
  /** Lowercase hex as OpenSSL prints it (even number of digits, no sign byte): serial 2 is `"02"`. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the DER, lowercase hex without colons (the Connector's `Client-Certificate-Hash`). */
  readonly fingerprintSha256: string;
  /** Canonical PEM of this one certificate (64-column lines, trailing newline). */
  readonly pem: string;
}

/** A parsed certificate with the pieces we need. */
interface ParsedCertificate {
  readonly x509: X509Certificate;
  readonly der: Uint8Array<ArrayBuffer>;
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  readonly facts: CertificateFacts;
}

function badEncoding(message: string, cause?: unknown): CertificateError {
  return new CertificateError(
    CertificateErrorCode.BadEncoding,
    message,
    cause === undefined ? {} : { cause },
  );
}

/** RFC 4514 output order: the last RDN of the sequence comes first. */
function rfc4514(dn: DistinguishedName): string {
  return formatSubject(new DistinguishedName([...dn.rdns].reverse()));
}

function parseDer(der: Uint8Array<ArrayBuffer>, what: string): ParsedCertificate {
  let x509: X509Certificate;
  let subject: DistinguishedName;
  let issuer: DistinguishedName;
  try {
    x509 = new X509Certificate(der);
    // TBSCertificate: [0] version (absent in v1), serialNumber, signature, issuer, validity, subject, ...
    const [tbs] = children(parse(der, Tag.SEQUENCE));
    const fields = tbs?.tag === Tag.SEQUENCE ? children(tbs) : [];
    const [, , issuerName, , subjectName] = fields[0]?.tag === Tag.CONTEXT_0 ? fields.slice(1) : fields;
    if (issuerName?.tag !== Tag.SEQUENCE || subjectName?.tag !== Tag.SEQUENCE) throw new Error("no issuer and subject");
    subject = decodeRdnSequence(subjectName.der, `${what} subject`);
    issuer = decodeRdnSequence(issuerName.der, `${what} issuer`);
  } catch (cause) {
    if (cause instanceof CertificateError) throw cause;
    throw badEncoding(`${what} is not a valid X.509 certificate.`, cause);
  }
  const facts: CertificateFacts = {
    subject: rfc4514(subject),
    issuer: rfc4514(issuer),
    serialNumber: x509.serialNumber.toLowerCase(),
    notBefore: x509.validFromDate,
    notAfter: x509.validToDate,
    fingerprintSha256: createHash("sha256").update(der).digest("hex"),
    pem: pemEncode("CERTIFICATE", der),
  };
  return { x509, der, subject, issuer, facts };
}

/** Parses every block of a PEM bundle; each must be a CERTIFICATE. */
function parseBundle(text: string, what: string): ParsedCertificate[] {
  const blocks = parsePemBlocks(text);
  const other = blocks.find((b) => b.label !== "CERTIFICATE");
  if (other !== undefined)
    throw badEncoding(`${what} contains a "${other.label}" PEM block; only certificates allowed.`);
  if (blocks.length === 0) throw badEncoding(`${what} contains no PEM certificate.`);
  return blocks.map((b, i) => parseDer(b.der, blocks.length === 1 ? what : `${what} #${i + 1}`));
}

/**
 * Facts about the first certificate in `pem`: subject and issuer (RFC 4514), serial, validity, SHA-256 fingerprint.
 * Throws `CERT_BAD_ENCODING` when there is no certificate or it does not parse.
 */
export function certificateFacts(pem: string): CertificateFacts {
  if (typeof pem !== "string") throw badEncoding("Certificate must be a PEM string.");
  const block = parsePemBlocks(pem).find((b) => b.label === "CERTIFICATE");
  if (block === undefined) throw badEncoding("No PEM certificate found.");
  return parseDer(block.der, "Certificate").facts;
}

/** The Connector's `CertificationResult`: three fields, each standard base64 of PEM text. */
export interface CertificationResult {
  readonly certificateChain: string;
  readonly caCertificate: string;
  readonly clientCertificate: string;
}

export interface CertificationExpectations {
  /** The private key whose CSR was signed (PKCS#1 or PKCS#8 PEM). */
  readonly privateKeyPem: string;
  /** The subject we requested (the Connector's subject string or a parsed name). */
  readonly subject: string | DistinguishedName;
  /** The current time (injected: this package never reads the clock). */
  readonly now: Date;
  /**
   * How far the issuer's clock may run ahead of ours. Compass sets notBefore to its own "now" without
   * back-dating, so a strict check would reject fresh certificates on a cluster whose clock is a second behind.
   * Default 5 minutes. Does not apply to expiry.
   */
  readonly clockSkewMs?: number;
}

export const DEFAULT_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** A checked certification result, ready to be stored. PEM texts are canonical re-encodings. */
export interface DecodedCertificationResult {
  /** The client certificate (Secret key `crt`). */
  readonly clientCertificatePem: string;
  /** Client certificate then intermediates/CA, as returned (Secret key `crtChain`). */
  readonly certificateChainPem: string;
  /** The CA bundle (Secret key `cacert`). */
  readonly caCertificatePem: string;
  readonly client: CertificateFacts;
  readonly chain: CertificateFacts[];
  readonly ca: CertificateFacts[];
}

function decodeField(result: CertificationResult, field: keyof CertificationResult): ParsedCertificate[] {
  const value: unknown = (result as unknown as Record<string, unknown> | null)?.[field];
  if (typeof value !== "string") throw badEncoding(`${field} is missing or not a string.`);
  const text = Buffer.from(decodeStandardBase64(value, field)).toString("utf8");
  return parseBundle(text, field);
}

function sameDer(a: ParsedCertificate, b: ParsedCertificate): boolean {
  return Buffer.from(a.der).equals(Buffer.from(b.der));
}

function signedBy(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  try {
    return child.x509.checkIssued(parent.x509) && child.x509.verify(parent.x509.publicKey);
  } catch {
    return false;
  }
}

function chainInvalid(message: string): CertificateError {
  return new CertificateError(CertificateErrorCode.ChainInvalid, message);
}

/**
 * Decodes and checks the Connector's answer to `signCertificateSigningRequest`. In order:
 *
 * 1. every field is standard base64 of PEM holding only certificates, at least one (`CERT_BAD_ENCODING`);
 * 2. `certificateChain` starts with the client certificate (`CERT_CHAIN_INVALID`);
 * 3. the client certificate's public key matches `privateKeyPem` (`CERT_KEY_MISMATCH`);
 * 4. its subject equals the requested one as a multiset of attributes, order-insensitive (`CERT_SUBJECT_MISMATCH`);
 * 5. each chain link is issued and signed by the next, and the last is, or is signed by, a certificate in
 *    `caCertificate` (`CERT_CHAIN_INVALID`);
 * 6. the client certificate is valid at `now` (`CERT_NOT_YET_VALID` beyond `clockSkewMs`, `CERT_EXPIRED`).
 *
 * Also throws `CERT_KEY_INVALID` for an unreadable key, `CERT_SUBJECT_INVALID` for an unparsable subject and
 * `CERT_INVALID_ARGUMENT` for an invalid `now`.
 */
export function decodeCertificationResult(
  result: CertificationResult,
  expect: CertificationExpectations,
): DecodedCertificationResult {
  const now = expect.now;
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new CertificateError(CertificateErrorCode.InvalidArgument, "expect.now must be a valid Date.");
  }
  const skew = expect.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (!Number.isFinite(skew) || skew < 0) {
    throw new CertificateError(CertificateErrorCode.InvalidArgument, "expect.clockSkewMs must be >= 0.");
  }
  const privateKey: KeyObject = readPrivateKey(expect.privateKeyPem);
  const expectedSubject = toDistinguishedName(expect.subject);

  const clientCerts = decodeField(result, "clientCertificate");
  const chain = decodeField(result, "certificateChain");
  const ca = decodeField(result, "caCertificate");
  const client = clientCerts[0] as ParsedCertificate;

  // 2. structure
  if (!sameDer(chain[0] as ParsedCertificate, client)) {
    throw chainInvalid(
      `certificateChain does not start with the client certificate (chain starts with "${chain[0]?.facts.subject}", ` +
        `client is "${client.facts.subject}").`,
    );
  }
  clientCerts.forEach((c, i) => {
    const inChain = chain[i];
    if (inChain === undefined || !sameDer(c, inChain)) {
      throw chainInvalid(
        `clientCertificate holds ${clientCerts.length} certificates that are not a prefix of certificateChain.`,
      );
    }
  });
  if (ca.some((c) => sameDer(c, client))) {
    throw chainInvalid("caCertificate contains the client certificate itself.");
  }

  // 3. key
  let keyMatches: boolean;
  try {
    keyMatches = client.x509.checkPrivateKey(privateKey);
  } catch {
    keyMatches = false; // e.g. an EC certificate: certainly not our RSA key
  }
  if (!keyMatches) {
    throw new CertificateError(
      CertificateErrorCode.KeyMismatch,
      `The client certificate (serial ${client.facts.serialNumber}) does not belong to our private key; ` +
        "the Connector signed a different CSR. Request a new certificate.",
    );
  }

  // 4. subject
  if (!client.subject.equals(expectedSubject)) {
    throw new CertificateError(
      CertificateErrorCode.SubjectMismatch,
      `The client certificate subject "${client.facts.subject}" differs from the requested subject ` +
        `"${formatSubject(expectedSubject)}".`,
    );
  }

  // 5. chain
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as ParsedCertificate;
    const parent = chain[i + 1] as ParsedCertificate;
    if (!signedBy(child, parent)) {
      throw chainInvalid(
        `certificateChain #${i + 1} ("${child.facts.subject}") is not issued and signed by #${i + 2} ` +
          `("${parent.facts.subject}").`,
      );
    }
  }
  const last = chain[chain.length - 1] as ParsedCertificate;
  if (!ca.some((anchor) => sameDer(anchor, last) || signedBy(last, anchor))) {
    throw chainInvalid(
      `certificateChain ends at "${last.facts.subject}" (issuer "${last.facts.issuer}"), which is neither in nor ` +
        "signed by a certificate of caCertificate.",
    );
  }

  // 6. time
  const { notBefore, notAfter } = client.facts;
  if (now.getTime() + skew < notBefore.getTime()) {
    throw new CertificateError(
      CertificateErrorCode.NotYetValid,
      `The client certificate is not valid before ${notBefore.toISOString()} (now ${now.toISOString()}); ` +
        "check the cluster clock.",
    );
  }
  if (now.getTime() > notAfter.getTime()) {
    throw new CertificateError(
      CertificateErrorCode.Expired,
      `The client certificate expired at ${notAfter.toISOString()} (now ${now.toISOString()}).`,
    );
  }

  return {
    clientCertificatePem: client.facts.pem,
    certificateChainPem: chain.map((c) => c.facts.pem).join(""),
    caCertificatePem: ca.map((c) => c.facts.pem).join(""),
    client: client.facts,
    chain: chain.map((c) => c.facts),
    ca: ca.map((c) => c.facts),
  };
}
