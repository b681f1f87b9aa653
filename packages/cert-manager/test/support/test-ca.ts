// A tiny certificate authority for tests, built on pkijs: issues certificates with any subject, key, validity,
// issuer and serial, so every branch of decodeCertificationResult can be reached.
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { generateKeyPair, type KeyPair } from "../../src/keys.js";
import { encodeRdnSequence, sortForCsr } from "../../src/name-der.js";
import { pemEncode } from "../../src/pem.js";
import { toDistinguishedName, type DistinguishedName } from "../../src/subject.js";

const engine = new pkijs.CryptoEngine({ name: "test-ca", crypto: globalThis.crypto });

let serialCounter = 1000;

export interface IssueOptions {
  readonly subject: string | DistinguishedName;
  /** Keep the subject's attribute order as given instead of sorting into CSR order. */
  readonly keepOrder?: boolean;
  readonly publicKey: CryptoKey;
  /** The issuing CA; omit for a self-signed certificate (then `signingKey` must be given). */
  readonly issuer?: TestCa;
  readonly signingKey?: CryptoKey;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCa?: boolean;
  readonly serial?: number;
}

export interface TestCa {
  readonly keyPair: KeyPair;
  readonly subject: DistinguishedName;
  readonly pem: string;
}

function nameOf(subject: string | DistinguishedName, keepOrder: boolean): pkijs.RelativeDistinguishedNames {
  const dn = toDistinguishedName(subject);
  const attributes = keepOrder ? [...dn.attributes] : sortForCsr(dn);
  return new pkijs.RelativeDistinguishedNames({
    schema: asn1js.fromBER(encodeRdnSequence(attributes, "go")).result,
  });
}

export async function issueCertificate(options: IssueOptions): Promise<string> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: options.serial ?? serialCounter++ });
  cert.subject = nameOf(options.subject, options.keepOrder ?? false);
  cert.issuer = options.issuer === undefined ? cert.subject : nameOf(options.issuer.subject, true);
  cert.notBefore.value = options.notBefore;
  cert.notAfter.value = options.notAfter;
  await cert.subjectPublicKeyInfo.importKey(options.publicKey, engine);
  const isCa = options.isCa ?? false;
  cert.extensions = [
    new pkijs.Extension({
      extnID: "2.5.29.19",
      critical: true,
      extnValue: new pkijs.BasicConstraints({ cA: isCa }).toSchema().toBER(false),
    }),
  ];
  const signingKey = options.issuer?.keyPair.cryptoKeyPair.privateKey ?? options.signingKey;
  if (signingKey === undefined) throw new Error("self-signed certificates need signingKey");
  await cert.sign(signingKey, "SHA-256", engine);
  return pemEncode("CERTIFICATE", cert.toSchema(true).toBER(false));
}

/** A CA (self-signed, or signed by `parent`) with a fresh 2048-bit key. */
export async function createTestCa(
  subject: string,
  validity: { notBefore: Date; notAfter: Date },
  parent?: TestCa,
): Promise<TestCa> {
  const keyPair = await generateKeyPair({ modulusLength: 2048 });
  const dn = toDistinguishedName(subject);
  const pem = await issueCertificate({
    subject: dn,
    keepOrder: true,
    publicKey: keyPair.cryptoKeyPair.publicKey,
    ...(parent === undefined ? { signingKey: keyPair.cryptoKeyPair.privateKey } : { issuer: parent }),
    ...validity,
    isCa: true,
  });
  return { keyPair, subject: dn, pem };
}

/** Standard base64 of a text, as the Connector encodes each CertificationResult field. */
export function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}
