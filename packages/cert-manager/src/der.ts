/**
 * The little DER this package needs: building a PKCS#10 request and reading names out of certificates and requests.
 * Definite lengths and single-byte tags only (all that DER certificates and requests use); anything else is
 * malformed. Kept in-house rather than an ASN.1 library: the agent loads it in every process, and a general ASN.1
 * and PKI library costs several megabytes of memory for the three structures read here.
 */

export const Tag = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [0] IMPLICIT, constructed (a request's attributes). */
  CONTEXT_0: 0xa0,
} as const;

/** One TLV: its tag, the whole encoding and the contents. */
export interface DerElement {
  readonly tag: number;
  readonly der: Uint8Array;
  readonly content: Uint8Array;
}

export class DerError extends Error {}

/** The TLV of `tag` around `content`. */
export function encode(tag: number, ...content: Uint8Array[]): Uint8Array {
  const length = content.reduce((sum, c) => sum + c.length, 0);
  const lengthBytes: number[] = [];
  if (length < 0x80) lengthBytes.push(length);
  else {
    for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n % 256);
    lengthBytes.unshift(0x80 | lengthBytes.length);
  }
  const out = new Uint8Array(1 + lengthBytes.length + length);
  out[0] = tag;
  out.set(lengthBytes, 1);
  let offset = 1 + lengthBytes.length;
  for (const c of content) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split(".").map((arc) => {
    if (!/^\d+$/.test(arc)) throw new DerError(`${oid} is not an object identifier`);
    return BigInt(arc);
  });
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2n || (first < 2n && second > 39n)) {
    throw new DerError(`${oid} is not an object identifier`);
  }
  const bytes: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const group = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) group.unshift(Number(n & 0x7fn) | 0x80);
    bytes.push(...group);
  }
  return encode(Tag.OBJECT_IDENTIFIER, Uint8Array.from(bytes));
}

/** The dotted form of an OBJECT IDENTIFIER element. */
export function decodeOid(element: DerElement): string {
  if (element.tag !== Tag.OBJECT_IDENTIFIER || element.content.length === 0) throw new DerError("not an object identifier");
  const arcs: bigint[] = [];
  let value = 0n;
  for (const [i, byte] of element.content.entries()) {
    value = (value << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    } else if (i === element.content.length - 1) throw new DerError("object identifier ends inside an arc");
  }
  const [head = 0n, ...rest] = arcs;
  const first = head < 80n ? head / 40n : 2n;
  return [first, head - first * 40n, ...rest].join(".");
}

/** The element starting at `offset` of `bytes`. */
function readAt(bytes: Uint8Array, offset: number): DerElement {
  const tag = bytes[offset];
  let lengthByte = bytes[offset + 1];
  if (tag === undefined || lengthByte === undefined) throw new DerError("truncated element");
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not used in DER certificates");
  let headerLength = 2;
  let length = lengthByte;
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 4) throw new DerError(count === 0 ? "indefinite length is not DER" : "element too long");
    length = 0;
    for (let i = 0; i < count; i++) {
      lengthByte = bytes[offset + 2 + i];
      if (lengthByte === undefined) throw new DerError("truncated length");
      length = length * 256 + lengthByte;
    }
    headerLength += count;
  }
  const end = offset + headerLength + length;
  if (end > bytes.length) throw new DerError("element runs past its container");
  return { tag, der: bytes.subarray(offset, end), content: bytes.subarray(offset + headerLength, end) };
}

/** `bytes` as exactly one element of the given tag. */
export function parse(bytes: Uint8Array, tag: number): DerElement {
  const element = readAt(bytes, 0);
  if (element.der.length !== bytes.length) throw new DerError("trailing bytes after the element");
  return expectTag(element, tag);
}

/** The elements inside a constructed element (a SEQUENCE, a SET, ...). */
export function children(element: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let offset = 0; offset < element.content.length; ) {
    const child = readAt(element.content, offset);
    out.push(child);
    offset += child.der.length;
  }
  return out;
}

export function expectTag(element: DerElement | undefined, tag: number): DerElement {
  if (element === undefined) throw new DerError(`missing element (expected tag 0x${tag.toString(16)})`);
  if (element.tag !== tag) throw new DerError(`tag 0x${element.tag.toString(16)} where 0x${tag.toString(16)} was expected`);
  return element;
}

/**
 * The text of an ASN.1 string element, or undefined when the element is no string type: UTF8String as UTF-8,
 * BMPString as UTF-16BE, UniversalString as UTF-32BE, the 8-bit types (Printable, IA5, Teletex, ...) byte by byte.
 */
export function decodeString(element: DerElement): string | undefined {
  const { tag, content } = element;
  if (tag === Tag.UTF8_STRING) return Buffer.from(content).toString("utf8");
  if (tag === Tag.BMP_STRING) {
    let text = "";
    for (let i = 0; i + 1 < content.length; i += 2) text += String.fromCharCode(content[i]! * 256 + content[i + 1]!);
    return text;
  }
  if (tag === Tag.UNIVERSAL_STRING) {
    let text = "";
    for (let i = 0; i + 3 < content.length; i += 4) {
      const codePoint = ((content[i]! << 24) | (content[i + 1]! << 16) | (content[i + 2]! << 8) | content[i + 3]!) >>> 0;
      if (codePoint > 0x10ffff) throw new DerError("UniversalString holds no Unicode character");
      text += String.fromCodePoint(codePoint);
    }
    return text;
  }
  // NumericString, PrintableString, TeletexString, VideotexString, IA5String, GraphicString, VisibleString,
  // GeneralString, CHARACTER STRING.
  if ([0x12, 0x13, 0x14, 0x15, 0x16, 0x19, 0x1a, 0x1b, 0x1d].includes(tag)) return Buffer.from(content).toString("latin1");
  return undefined;
}
