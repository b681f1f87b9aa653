/**
 * Certificate plumbing for the simulator: RSA keys, the two CAs (server/"ingress" CA and client/"Connector" CA),
 * the listeners' server certificate and client certificates issued from CSRs.
 *
 * Built with pkijs/asn1js on top of WebCrypto (node:crypto); PEM/DER helpers and fingerprints use node:crypto.
 */
import { createHash, randomBytes, webcrypto, X509Certificate, createPrivateKey } from "node:crypto";
import { isIP } from "node:net";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

/** A pkijs engine bound to Node's WebCrypto, passed explicitly so the global pkijs engine is left alone. */
export const cryptoEngine = new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto });

const RSA_ALGORITHM = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
} as const;

export const OID = {
  commonName: "2.5.4.3",
  country: "2.5.4.6",
  locality: "2.5.4.7",
  province: "2.5.4.8",
  organization: "2.5.4.10",
  organizationalUnit: "2.5.4.11",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  rsaEncryption: "1.2.840.113549.1.1.1",
} as const;

export interface RsaKeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** PKCS#8 PEM of the private key (what node:tls accepts). */
  privateKeyPem: string;
}

export interface CertificateAuthority {
  certificate: pkijs.Certificate;
  der: Uint8Array;
  pem: string;
  privateKey: CryptoKey;
  privateKeyPem: string;
  subjectKeyId: Uint8Array;
}

export interface IssuedCertificateMaterial {
  certificate: pkijs.Certificate;
  der: Uint8Array;
  pem: string;
  /** Lowercase hex SHA-256 of the DER encoding (what Envoy's XFCC `Hash=` and Compass revocation use). */
  fingerprint: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

/** PEM text with 64-column base64 lines and a trailing newline (Go's pem.EncodeToMemory layout). */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Truncates to whole seconds: X.509 UTCTime/GeneralizedTime as issued here carry no fractions. */
export function floorToSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function asnTime(date: Date): pkijs.Time {
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  const type = date.getUTCFullYear() < 2050 ? pkijs.TimeType.UTCTime : pkijs.TimeType.GeneralizedTime;
  return new pkijs.Time({ type, value: floorToSecond(date) });
}

/** A positive, non-zero 127-bit serial number (16 bytes, top bit clear). */
export function randomSerial(): Uint8Array {
  const bytes = new Uint8Array(randomBytes(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes;
}

export async function generateRsaKeyPair(modulusLength = 2048): Promise<RsaKeyPair> {
  const keys = (await webcrypto.subtle.generateKey({ ...RSA_ALGORITHM, modulusLength }, true, [
    "sign",
    "verify",
  ])) as unknown as CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as unknown as webcrypto.CryptoKey);
  return {
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    privateKeyPem: toPem("PRIVATE KEY", new Uint8Array(pkcs8)),
  };
}

/** Builds a Name with one RDN (SET) per attribute, in the given order. */
export function buildName(attributes: ReadonlyArray<readonly [oid: string, value: string]>): pkijs.RelativeDistinguishedNames {
  const sequence = new asn1js.Sequence({
    value: attributes.map(
      ([oid, value]) =>
        new asn1js.Set({
          value: [
            new pkijs.AttributeTypeAndValue({
              type: oid,
              value:
                oid === OID.country ? new asn1js.PrintableString({ value }) : new asn1js.Utf8String({ value }),
            }).toSchema(),
          ],
        }),
    ),
  });
  const reparsed = asn1js.fromBER(sequence.toBER(false));
  return new pkijs.RelativeDistinguishedNames({ schema: reparsed.result });
}

function extension(extnID: string, critical: boolean, value: { toSchema(): asn1js.BaseBlock }): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toSchema().toBER(false) });
}

/** KeyUsage BIT STRING. Bits: 0 digitalSignature, 5 keyCertSign, 6 cRLSign. */
function keyUsage(bits: number[]): pkijs.Extension {
  let byte = 0;
  for (const bit of bits) byte |= 0x80 >> bit;
  const highest = Math.max(...bits);
  const bitString = new asn1js.BitString({ valueHex: new Uint8Array([byte]).buffer, unusedBits: 7 - highest });
  return new pkijs.Extension({ extnID: OID.keyUsage, critical: true, extnValue: bitString.toBER(false) });
}

function keyIdentifier(spki: pkijs.PublicKeyInfo): Uint8Array {
  // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value.
  return new Uint8Array(createHash("sha1").update(spki.subjectPublicKey.valueBlock.valueHexView).digest());
}

function subjectKeyIdExtension(id: Uint8Array): pkijs.Extension {
  return new pkijs.Extension({
    extnID: OID.subjectKeyIdentifier,
    critical: false,
    extnValue: new asn1js.OctetString({ valueHex: id }).toBER(false),
  });
}

function authorityKeyIdExtension(id: Uint8Array): pkijs.Extension {
  return extension(
    OID.authorityKeyIdentifier,
    false,
    new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: id }) }),
  );
}

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return new Uint8Array(ip.split(".").map((part) => Number(part)));
  // IPv6: expand "::" and write 8 groups of 16 bits.
  const [head = "", tail = ""] = ip.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = ip.includes("::") ? (tail ? tail.split(":") : []) : [];
  const groups = ip.includes("::")
    ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups]
    : headGroups;
  const out = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = parseInt(group, 16);
    out[i * 2] = value >> 8;
    out[i * 2 + 1] = value & 0xff;
  });
  return out;
}

async function finish(certificate: pkijs.Certificate, signingKey: CryptoKey): Promise<IssuedCertificateMaterial> {
  await certificate.sign(signingKey, "SHA-256", cryptoEngine);
  const der = new Uint8Array(certificate.toSchema(true).toBER(false));
  return {
    certificate,
    der,
    pem: toPem("CERTIFICATE", der),
    fingerprint: sha256Hex(der),
    serialHex: Buffer.from(certificate.serialNumber.valueBlock.valueHexView).toString("hex"),
    notBefore: certificate.notBefore.value,
    notAfter: certificate.notAfter.value,
  };
}

export interface CreateCaOptions {
  commonName: string;
  organization?: string;
  notBefore: Date;
  notAfter: Date;
  keyBits?: number;
}

/** A self-signed RSA CA (basicConstraints CA:true, keyCertSign|cRLSign). */
export async function createSelfSignedCa(options: CreateCaOptions): Promise<CertificateAuthority> {
  const keys = await generateRsaKeyPair(options.keyBits ?? 2048);
  const name = buildName([
    ...(options.organization ? [[OID.organization, options.organization] as const] : []),
    [OID.commonName, options.commonName],
  ]);
  const certificate = new pkijs.Certificate();
  certificate.version = 2;
  certificate.serialNumber = new asn1js.Integer({ valueHex: randomSerial() });
  certificate.issuer = name;
  certificate.subject = name;
  certificate.notBefore = asnTime(options.notBefore);
  certificate.notAfter = asnTime(options.notAfter);
  await certificate.subjectPublicKeyInfo.importKey(keys.publicKey, cryptoEngine);
  const ski = keyIdentifier(certificate.subjectPublicKeyInfo);
  certificate.extensions = [
    extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: true })),
    keyUsage([0, 5, 6]),
    subjectKeyIdExtension(ski),
  ];
  const issued = await finish(certificate, keys.privateKey);
  return {
    certificate,
    der: issued.der,
    pem: issued.pem,
    privateKey: keys.privateKey,
    privateKeyPem: keys.privateKeyPem,
    subjectKeyId: ski,
  };
}

/** Loads an existing CA (PEM certificate + RSA private key in PKCS#1 or PKCS#8 PEM). */
export async function loadCa(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const x509 = new X509Certificate(certPem);
  const der = new Uint8Array(x509.raw);
  const certificate = pkijs.Certificate.fromBER(der);
  const keyObject = createPrivateKey(keyPem);
  if (keyObject.asymmetricKeyType !== "rsa") throw new Error("CA private key must be RSA");
  const pkcs8 = keyObject.export({ type: "pkcs8", format: "der" });
  const privateKey = (await webcrypto.subtle.importKey("pkcs8", pkcs8, { name: RSA_ALGORITHM.name, hash: "SHA-256" }, true, [
    "sign",
  ])) as unknown as CryptoKey;
  if (!x509.checkPrivateKey(keyObject)) throw new Error("CA private key does not match the CA certificate");
  const skiExtension = certificate.extensions?.find((ext) => ext.extnID === OID.subjectKeyIdentifier);
  const subjectKeyId = skiExtension
    ? new Uint8Array((asn1js.fromBER(skiExtension.extnValue.valueBlock.valueHexView).result as asn1js.OctetString).valueBlock.valueHexView)
    : keyIdentifier(certificate.subjectPublicKeyInfo);
  return {
    certificate,
    der,
    pem: toPem("CERTIFICATE", der),
    privateKey,
    privateKeyPem: keyObject.export({ type: "pkcs8", format: "pem" }).toString(),
    subjectKeyId,
  };
}

/** Server certificate for the listeners: serverAuth, SANs for the given hosts (DNS names and IP addresses). */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  hosts: readonly string[],
  validity: { notBefore: Date; notAfter: Date },
): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateRsaKeyPair(2048);
  const certificate = new pkijs.Certificate();
  certificate.version = 2;
  certificate.serialNumber = new asn1js.Integer({ valueHex: randomSerial() });
  certificate.issuer = ca.certificate.subject;
  certificate.subject = buildName([
    [OID.organization, "compass-sim"],
    [OID.commonName, hosts[0] ?? "localhost"],
  ]);
  certificate.notBefore = asnTime(validity.notBefore);
  certificate.notAfter = asnTime(validity.notAfter);
  await certificate.subjectPublicKeyInfo.importKey(keys.publicKey, cryptoEngine);
  const altNames = [...new Set(hosts)].map((host) =>
    isIP(host)
      ? new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipBytes(host) }) })
      : new pkijs.GeneralName({ type: 2, value: host }),
  );
  certificate.extensions = [
    keyUsage([0, 2]),
    extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [OID.serverAuth] })),
    extension(OID.subjectAltName, false, new pkijs.AltName({ altNames })),
    authorityKeyIdExtension(ca.subjectKeyId),
  ];
  const issued = await finish(certificate, ca.privateKey);
  return { certPem: issued.pem, keyPem: keys.privateKeyPem };
}

export interface ClientCertificateRequest {
  /** Copied verbatim (same DER) into the certificate. */
  subject: pkijs.RelativeDistinguishedNames;
  publicKey: pkijs.PublicKeyInfo;
  notBefore: Date;
  notAfter: Date;
  /** Serial number bytes (big-endian, positive). */
  serial: Uint8Array;
}

/**
 * A Connector-style client certificate: KU digitalSignature (critical), EKU clientAuth, no basicConstraints,
 * SHA-256 with RSA, authorityKeyIdentifier of the CA.
 */
export async function issueClientCertificate(
  ca: CertificateAuthority,
  request: ClientCertificateRequest,
): Promise<IssuedCertificateMaterial> {
  const certificate = new pkijs.Certificate();
  certificate.version = 2;
  certificate.serialNumber = new asn1js.Integer({ valueHex: request.serial });
  certificate.issuer = ca.certificate.subject;
  certificate.subject = request.subject;
  certificate.notBefore = asnTime(request.notBefore);
  certificate.notAfter = asnTime(request.notAfter);
  certificate.subjectPublicKeyInfo = request.publicKey;
  certificate.extensions = [
    keyUsage([0]),
    extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [OID.clientAuth] })),
    authorityKeyIdExtension(ca.subjectKeyId),
  ];
  return finish(certificate, ca.privateKey);
}

/** The serial used by real Compass for every certificate (`big.NewInt(2)`). */
export const COMPASS_CONSTANT_SERIAL = new Uint8Array([2]);
