import * as asn1js from "asn1js";
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

function encodeValue(attribute: SubjectAttribute, mode: SubjectStringEncoding): asn1js.BaseBlock {
  const value = attribute.value;
  if (attribute.type === "DC" || attribute.type === "emailAddress") {
    return ASCII.test(value) ? new asn1js.IA5String({ value }) : new asn1js.Utf8String({ value });
  }
  const printable = GO_PRINTABLE.test(value);
  if (mode === "go") {
    return printable ? new asn1js.PrintableString({ value }) : new asn1js.Utf8String({ value });
  }
  return printable && (attribute.type === "C" || attribute.type === "SERIALNUMBER")
    ? new asn1js.PrintableString({ value })
    : new asn1js.Utf8String({ value });
}

/** DER of an RDNSequence with one single-valued RDN (one SET) per attribute, in the given order. */
export function encodeRdnSequence(
  attributes: readonly SubjectAttribute[],
  mode: SubjectStringEncoding,
): ArrayBuffer {
  const sequence = new asn1js.Sequence({
    value: attributes.map(
      (a) =>
        new asn1js.Set({
          value: [
            new asn1js.Sequence({
              value: [new asn1js.ObjectIdentifier({ value: a.oid }), encodeValue(a, mode)],
            }),
          ],
        }),
    ),
  });
  return sequence.toBER(false);
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
export function decodeRdnSequence(der: ArrayBuffer | Uint8Array, what = "name"): DistinguishedName {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence))
    throw badName(what, "not a SEQUENCE");
  const rdns: SubjectAttribute[][] = [];
  for (const set of parsed.result.valueBlock.value) {
    if (!(set instanceof asn1js.Set)) throw badName(what, "RDN is not a SET");
    const rdn: SubjectAttribute[] = [];
    for (const atv of set.valueBlock.value) {
      const [type, value] = atv instanceof asn1js.Sequence ? atv.valueBlock.value : [];
      if (!(type instanceof asn1js.ObjectIdentifier) || value === undefined) {
        throw badName(what, "attribute is not (OID, value)");
      }
      const oid = type.getValue();
      const text =
        value instanceof asn1js.BaseStringBlock
          ? value.getValue()
          : `#${Buffer.from(value.toBER(false)).toString("hex")}`;
      rdn.push({ type: oid, oid, value: text });
    }
    rdns.push(rdn);
  }
  try {
    return new DistinguishedName(rdns);
  } catch (cause) {
    throw new CertificateError(CertificateErrorCode.BadEncoding, `${what}: unusable distinguished name.`, {
      cause,
    });
  }
}
