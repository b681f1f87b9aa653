import { children, decodeOid, decodeString, DerError, encode, encodeOid, expectTag, parse, Tag } from "./der.js";
import { CertificateError, CertificateErrorCode } from "./errors.js";
import { DistinguishedName, type SubjectAttribute } from "./subject.js";

/**
 * How attribute values are encoded in a CSR subject.
 * - `"go"` (default): PrintableString when the value fits its character set, UTF8String otherwise. This is what
 *   Go's `encoding/asn1` does for a `pkix.Name`, so the subject bytes equal the Go agent's.
 * - `"utf8"`: C and SERIALNUMBER as PrintableString (when they fit), everything else UTF8String.
 * In both modes DC and emailAddress are IA5String when ASCII (RFC 4519 / PKCS#9).
 */
export type SubjectStringEncoding = "go" | "utf8";

/** Order of Go's `pkix.Name.ToRDNSequence` for the attributes the agent uses; everything else follows. */
const GO_ORDER: Readonly<Record<string, number>> = { C: 0, ST: 1, L: 2, O: 3, OU: 4, CN: 5 };

/** Go's `isPrintable` without `*` and `&` (encoding/asn1, marshalling a plain string). */
const GO_PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const ASCII = /^[\x00-\x7f]*$/;

/** Attributes sorted into Go `pkix.Name` order (C, ST, L, O, OU, CN, then the rest), stable within a type. */
export function sortForCsr(dn: DistinguishedName): SubjectAttribute[] {
  return [...dn.attributes].sort((a, b) => (GO_ORDER[a.type] ?? 6) - (GO_ORDER[b.type] ?? 6));
}

function encodeValue(attribute: SubjectAttribute, mode: SubjectStringEncoding): Uint8Array {
  const value = attribute.value;
  const as = (tag: number) => encode(tag, Buffer.from(value, tag === Tag.UTF8_STRING ? "utf8" : "latin1"));
  if (attribute.type === "DC" || attribute.type === "emailAddress") {
    return ASCII.test(value) ? as(Tag.IA5_STRING) : as(Tag.UTF8_STRING);
  }
  const printable = GO_PRINTABLE.test(value);
  if (mode === "go") {
    return printable ? as(Tag.PRINTABLE_STRING) : as(Tag.UTF8_STRING);
  }
  return printable && (attribute.type === "C" || attribute.type === "SERIALNUMBER")
    ? as(Tag.PRINTABLE_STRING)
    : as(Tag.UTF8_STRING);
}

/** DER of an RDNSequence with one single-valued RDN (one SET) per attribute, in the given order. */
export function encodeRdnSequence(
  attributes: readonly SubjectAttribute[],
  mode: SubjectStringEncoding,
): Uint8Array {
  return encode(
    Tag.SEQUENCE,
    ...attributes.map((a) => encode(Tag.SET, encode(Tag.SEQUENCE, encodeOid(a.oid), encodeValue(a, mode)))),
  );
}

function badName(what: string, detail: string): CertificateError {
  return new CertificateError(
    CertificateErrorCode.BadEncoding,
    `${what}: malformed distinguished name (${detail}).`,
  );
}

/**
 * Decodes a DER RDNSequence (a certificate's or CSR's subject or issuer) into a {@link DistinguishedName}, keeping
 * RDN grouping and order. String values are decoded; a value of another ASN.1 type becomes `#` + hex of its DER.
 */
export function decodeRdnSequence(der: Uint8Array, what = "name"): DistinguishedName {
  const rdns: SubjectAttribute[][] = [];
  try {
    for (const set of children(parse(der, Tag.SEQUENCE))) {
      if (set.tag !== Tag.SET) throw badName(what, "RDN is not a SET");
      const rdn: SubjectAttribute[] = [];
      for (const atv of children(set)) {
        const [type, value, ...more] = atv.tag === Tag.SEQUENCE ? children(atv) : [];
        if (type?.tag !== Tag.OBJECT_IDENTIFIER || value === undefined || more.length > 0) {
          throw badName(what, "attribute is not (OID, value)");
        }
        const oid = decodeOid(expectTag(type, Tag.OBJECT_IDENTIFIER));
        rdn.push({ type: oid, oid, value: decodeString(value) ?? `#${Buffer.from(value.der).toString("hex")}` });
      }
      rdns.push(rdn);
    }
  } catch (cause) {
    if (cause instanceof DerError) throw badName(what, cause.message);
    throw cause;
  }
  try {
    return new DistinguishedName(rdns);
  } catch (cause) {
    throw new CertificateError(CertificateErrorCode.BadEncoding, `${what}: unusable distinguished name.`, {
      cause,
    });
  }
}
