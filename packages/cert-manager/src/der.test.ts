import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { children, decodeOid, decodeString, DerError, encode, encodeOid, parse, Tag } from "./der.js";

// asn1js (a test-only dependency) is the independent reader the encoder is checked against.
const OCTET_STRING = 0x04;

describe("der", () => {
  it("encodes short and long lengths as asn1js reads them", () => {
    for (const size of [0, 1, 127, 128, 255, 256, 70_000]) {
      const der = encode(Tag.SEQUENCE, encode(OCTET_STRING, new Uint8Array(size).fill(7)));
      const read = asn1js.fromBER(der);
      expect(read.offset).toBe(der.length);
      const [octets] = (read.result as asn1js.Sequence).valueBlock.value;
      expect((octets as asn1js.OctetString).valueBlock.valueHexView).toEqual(new Uint8Array(size).fill(7));
      const [child] = children(parse(der, Tag.SEQUENCE));
      expect(child?.content).toEqual(new Uint8Array(size).fill(7));
    }
  });

  it("round-trips object identifiers, with large arcs and a first arc of 2", () => {
    for (const oid of ["2.5.4.3", "1.2.840.113549.1.1.11", "0.9.2342.19200300.100.1.25", "2.999.1", "1.3.6.1.4.1.311.60.2.1.3"]) {
      const der = encodeOid(oid);
      expect((asn1js.fromBER(der).result as asn1js.ObjectIdentifier).getValue()).toBe(oid);
      expect(decodeOid(parse(der, Tag.OBJECT_IDENTIFIER))).toBe(oid);
    }
    // An arc beyond 2^64 (asn1js cannot hold it): 2^64 + 1 = 2·128^9 + 1, in base 128 0x82, eight 0x80, 0x01.
    const big = encodeOid("1.2.18446744073709551617");
    expect(Buffer.from(big).toString("hex")).toBe("060b2a82808080808080808001");
    expect(decodeOid(parse(big, Tag.OBJECT_IDENTIFIER))).toBe("1.2.18446744073709551617");
    for (const bad of ["", "1", "3.1", "1.40", "1.a.2"]) expect(() => encodeOid(bad), bad).toThrow(DerError);
  });

  it("rejects what is not DER: indefinite and oversized lengths, truncation, trailing bytes, multi-byte tags, a wrong tag", () => {
    const bad: [string, number[]][] = [
      ["indefinite length", [0x30, 0x80, 0x00, 0x00]],
      ["five length bytes", [0x30, 0x85, 0, 0, 0, 0, 1, 0]],
      ["content shorter than the length", [0x30, 0x03, 0x02, 0x01]],
      ["no length", [0x30]],
      ["trailing bytes", [0x05, 0x00, 0x00]],
      ["multi-byte tag", [0x1f, 0x81, 0x00, 0x00]],
      ["child runs past its parent", [0x30, 0x02, 0x04, 0x05]],
    ];
    for (const [what, bytes] of bad) expect(() => children(parse(Uint8Array.from(bytes), bytes[0]!)), what).toThrow(DerError);
    expect(() => parse(Uint8Array.of(0x05, 0x00), Tag.SEQUENCE)).toThrow(/tag 0x5 where 0x30/);
    expect(() => decodeOid(parse(Uint8Array.of(0x06, 0x02, 0x2a, 0x86), Tag.OBJECT_IDENTIFIER))).toThrow(/ends inside an arc/);
  });

  it("decodes the string types of names as asn1js does, and nothing else", () => {
    const strings: asn1js.BaseStringBlock[] = [
      new asn1js.Utf8String({ value: "Zürich 東京 🚀" }),
      new asn1js.BmpString({ value: "Zürich 東京" }),
      new asn1js.UniversalString({ value: "Zürich 🚀" }),
      new asn1js.PrintableString({ value: "Kyma (1)" }),
      new asn1js.IA5String({ value: "ops@example.com" }),
      new asn1js.TeletexString({ value: "T\u00e9l\u00e9tex" }),
      new asn1js.VisibleString({ value: "visible" }),
      new asn1js.NumericString({ value: "0123" }),
    ];
    for (const s of strings) {
      const der = new Uint8Array(s.toBER(false));
      expect(decodeString(parse(der, der[0]!)), s.constructor.name).toBe(s.getValue());
    }
    expect(decodeString(parse(encode(Tag.INTEGER, Uint8Array.of(1)), Tag.INTEGER))).toBeUndefined();
    expect(() => decodeString(parse(encode(Tag.UNIVERSAL_STRING, Uint8Array.of(0x7f, 0, 0, 0)), Tag.UNIVERSAL_STRING))).toThrow(DerError);
  });
});
