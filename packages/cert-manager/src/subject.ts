import { CertificateError, CertificateErrorCode } from "./errors.js";

/** One attribute of a distinguished name, e.g. `{ type: "OU", oid: "2.5.4.11", value: "OrgUnit" }`. */
export interface SubjectAttribute {
  /** Canonical keyword (`CN`, `C`, `O`, `OU`, `L`, `ST`, `STREET`, `SERIALNUMBER`, `DC`, `UID`, `emailAddress`) or the dotted OID. */
  readonly type: string;
  /** Dotted object identifier of the attribute type. */
  readonly oid: string;
  /** The value, unescaped. */
  readonly value: string;
}

/** Input for {@link DistinguishedName.from}: a keyword (any case) or a dotted OID, and a value. */
export interface SubjectAttributeInput {
  readonly type: string;
  readonly value: string;
}

/** Attribute keywords we accept, in their canonical spelling, with their OIDs. */
export const SubjectAttributeOids = {
  CN: "2.5.4.3",
  SERIALNUMBER: "2.5.4.5",
  C: "2.5.4.6",
  L: "2.5.4.7",
  ST: "2.5.4.8",
  STREET: "2.5.4.9",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  UID: "0.9.2342.19200300.100.1.1",
  DC: "0.9.2342.19200300.100.1.25",
  emailAddress: "1.2.840.113549.1.9.1",
} as const;

/** Longest subject string `parseSubject` accepts, in UTF-8 bytes. */
export const MAX_SUBJECT_BYTES = 4096;

const keywordByLowerCase = new Map<string, string>(
  Object.keys(SubjectAttributeOids).map((keyword) => [keyword.toLowerCase(), keyword]),
);
const keywordByOid = new Map<string, string>(
  Object.entries(SubjectAttributeOids).map(([k, oid]) => [oid, k]),
);

const KEYWORD = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERIC_OID = /^(?:0|[1-9][0-9]{0,14})(?:\.(?:0|[1-9][0-9]{0,14}))+$/;

const LONE_SURROGATE = /\p{Cs}/u;
function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

function invalid(message: string): CertificateError {
  return new CertificateError(CertificateErrorCode.SubjectInvalid, message);
}

/**
 * Resolves an attribute type (keyword in any case, or dotted OID) to its canonical keyword and OID.
 * Throws `CERT_SUBJECT_INVALID` for an unknown keyword or a malformed OID.
 */
export function resolveAttributeType(type: string): { readonly type: string; readonly oid: string } {
  if (type.length === 0) throw invalid("Invalid subject: empty attribute type.");
  if (KEYWORD.test(type)) {
    const keyword = keywordByLowerCase.get(type.toLowerCase());
    if (keyword === undefined) {
      throw invalid(
        `Invalid subject: unknown attribute type ${JSON.stringify(type)}. ` +
          `Use one of ${Object.keys(SubjectAttributeOids).join(", ")} or a dotted OID.`,
      );
    }
    return { type: keyword, oid: SubjectAttributeOids[keyword as keyof typeof SubjectAttributeOids] };
  }
  if (NUMERIC_OID.test(type)) {
    const arcs = type.split(".").map(Number);
    const [first = 0, second = 0] = arcs;
    if (first > 2 || (first < 2 && second >= 40)) {
      throw invalid(`Invalid subject: ${JSON.stringify(type)} is not a valid object identifier.`);
    }
    return { type: keywordByOid.get(type) ?? type, oid: type };
  }
  throw invalid(
    `Invalid subject: attribute type ${JSON.stringify(clip(type))} is neither a keyword nor a dotted OID.`,
  );
}

function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * A parsed distinguished name. `rdns` keeps the grouping of multi-valued RDNs (`a=1+b=2`); `attributes` is the
 * flat list in the order written. Immutable. May be empty (a certificate without subject), although
 * {@link parseSubject} never returns an empty name.
 */
export class DistinguishedName implements Iterable<SubjectAttribute> {
  readonly rdns: readonly (readonly SubjectAttribute[])[];
  readonly attributes: readonly SubjectAttribute[];

  constructor(rdns: readonly (readonly SubjectAttribute[])[]) {
    for (const rdn of rdns) {
      if (rdn.length === 0) throw invalid("Invalid subject: empty relative distinguished name.");
    }
    this.rdns = Object.freeze(
      rdns.map((rdn) =>
        Object.freeze(
          rdn.map((a) => {
            if (typeof a.value !== "string" || !isWellFormed(a.value)) {
              throw invalid("Invalid subject: attribute value is not well-formed Unicode.");
            }
            // Normalise type and OID so that every attribute is consistent, whoever built it.
            return Object.freeze({ ...resolveAttributeType(a.oid), value: a.value });
          }),
        ),
      ),
    );
    this.attributes = Object.freeze(this.rdns.flat());
  }

  /** Builds a name with one RDN per attribute, in the given order. Types are keywords (any case) or dotted OIDs. */
  static from(attributes: readonly SubjectAttributeInput[]): DistinguishedName {
    return new DistinguishedName(
      attributes.map((a) => [{ ...resolveAttributeType(a.type), value: a.value }]),
    );
  }

  /** The CN value. With several CNs, the last one (as Go's `pkix.Name.CommonName`). */
  get commonName(): string | undefined {
    return this.values("CN").at(-1);
  }

  /** All values of one attribute type (keyword in any case, or dotted OID), in order. */
  values(type: string): string[] {
    const { oid } = resolveAttributeType(type);
    return this.attributes.filter((a) => a.oid === oid).map((a) => a.value);
  }

  /**
   * True when both names hold the same (OID, value) pairs with the same multiplicities, ignoring order and RDN
   * grouping. Values are compared exactly (no case folding).
   */
  equals(other: DistinguishedName): boolean {
    if (this.attributes.length !== other.attributes.length) return false;
    const key = (a: SubjectAttribute): string => `${a.oid}\u0000${a.value}`;
    const counts = new Map<string, number>();
    for (const a of this.attributes) counts.set(key(a), (counts.get(key(a)) ?? 0) + 1);
    for (const a of other.attributes) {
      const n = counts.get(key(a));
      if (n === undefined || n === 0) return false;
      counts.set(key(a), n - 1);
    }
    return true;
  }

  [Symbol.iterator](): Iterator<SubjectAttribute> {
    return this.attributes[Symbol.iterator]();
  }

  /** The RFC 4514 string, in the order of `rdns` (see {@link formatSubject}). */
  toString(): string {
    return formatSubject(this);
  }

  toJSON(): string {
    return this.toString();
  }
}

const HEX = /^[0-9A-Fa-f]$/;
/** Characters that may follow a backslash literally (RFC 4514 `special`). */
const ESCAPABLE = new Set(['"', "+", ",", ";", "<", ">", "\\", " ", "#", "="]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a subject string as the Connector hands it out (`O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=…`).
 *
 * Accepts any attribute order, RFC 4514 escapes (`\,` `\+` `\"` `\\` `\<hex><hex>`, …), spaces around `,` `+` `=`,
 * repeated attributes (kept in order) and multi-valued RDNs joined with `+`. Attribute types: CN, C, O, OU, L, ST,
 * STREET, SERIALNUMBER, DC, UID, emailAddress (any case) or dotted OIDs. Hex-encoded values (`CN=#04…`) are not
 * supported. Anything malformed throws a {@link CertificateError} with code `CERT_SUBJECT_INVALID`.
 */
export function parseSubject(subject: string): DistinguishedName {
  if (typeof subject !== "string") throw invalid("Invalid subject: expected a string.");
  if (subject.length > MAX_SUBJECT_BYTES || Buffer.byteLength(subject, "utf8") > MAX_SUBJECT_BYTES) {
    throw invalid(`Invalid subject: longer than ${MAX_SUBJECT_BYTES} bytes.`);
  }
  if (!isWellFormed(subject)) throw invalid("Invalid subject: not well-formed Unicode (lone surrogate).");
  if (subject.trim().length === 0) throw invalid("Invalid subject: the subject is empty.");

  const at = (pos: number): string => `at position ${pos}`;
  const rdns: SubjectAttribute[][] = [];
  let rdn: SubjectAttribute[] = [];
  let i = 0;
  const n = subject.length;

  for (;;) {
    // --- attribute type
    while (i < n && subject[i] === " ") i++;
    const typeStart = i;
    while (i < n && subject[i] !== "=" && subject[i] !== "," && subject[i] !== "+") i++;
    if (i >= n || subject[i] !== "=") {
      const segment = subject.slice(typeStart, i).trim();
      throw invalid(
        segment.length === 0
          ? `Invalid subject: empty attribute ${at(typeStart)} (stray separator?).`
          : `Invalid subject: ${JSON.stringify(clip(segment))} ${at(typeStart)} has no "=".`,
      );
    }
    const rawType = subject.slice(typeStart, i).trim();
    if (rawType.length === 0) throw invalid(`Invalid subject: empty attribute type ${at(typeStart)}.`);
    const resolved = resolveAttributeType(rawType);
    i++; // "="

    // --- attribute value
    while (i < n && subject[i] === " ") i++;
    if (subject[i] === "#") {
      throw invalid(
        `Invalid subject: hex-encoded value (#…) ${at(i)} is not supported; write the value as a string.`,
      );
    }
    let value = "";
    let significant = 0; // length of `value` up to the last character that is not an unescaped space
    let bytes: number[] = [];
    const flush = (): void => {
      if (bytes.length === 0) return;
      let decoded: string;
      try {
        decoded = utf8.decode(new Uint8Array(bytes));
      } catch (cause) {
        throw new CertificateError(
          CertificateErrorCode.SubjectInvalid,
          `Invalid subject: hex escapes before position ${i} are not valid UTF-8.`,
          { cause },
        );
      }
      bytes = [];
      value += decoded;
      significant = value.length;
    };
    while (i < n) {
      const c = subject[i] as string;
      if (c === "," || c === "+") break;
      if (c === "\\") {
        const next = subject[i + 1];
        if (next === undefined) throw invalid(`Invalid subject: unterminated escape ${at(i)}.`);
        const afterNext = subject[i + 2];
        if (HEX.test(next) && afterNext !== undefined && HEX.test(afterNext)) {
          bytes.push(Number.parseInt(next + afterNext, 16));
          i += 3;
          continue;
        }
        if (!ESCAPABLE.has(next)) {
          throw invalid(`Invalid subject: invalid escape "\\${next}" ${at(i)}.`);
        }
        flush();
        value += next;
        significant = value.length;
        i += 2;
        continue;
      }
      flush();
      value += c;
      if (c !== " ") significant = value.length;
      i++;
    }
    flush();
    rdn.push({ ...resolved, value: value.slice(0, significant) });

    // --- separator
    if (i >= n) {
      rdns.push(rdn);
      break;
    }
    if (subject[i] === ",") {
      rdns.push(rdn);
      rdn = [];
    }
    i++;
    if (i >= n || subject.slice(i).trim().length === 0) {
      throw invalid(`Invalid subject: separator ${at(i - 1)} is not followed by an attribute.`);
    }
  }
  return new DistinguishedName(rdns);
}

/** Escapes one attribute value per RFC 4514 §2.4. */
export function escapeAttributeValue(value: string): string {
  let out = "";
  const last = value.length - 1;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    const code = c.charCodeAt(0);
    if (c === "\\" || c === '"' || c === "+" || c === "," || c === ";" || c === "<" || c === ">") {
      out += `\\${c}`;
    } else if ((i === 0 && (c === "#" || c === " ")) || (i === last && c === " ")) {
      out += `\\${c}`;
    } else if (code < 0x20 || code === 0x7f) {
      out += `\\${code.toString(16).toUpperCase().padStart(2, "0")}`;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Renders a name as an RFC 4514 string in the order of its RDNs (`,` between RDNs, `+` inside a multi-valued RDN),
 * escaping values so that `parseSubject(formatSubject(dn))` gives back an equal name with the same order.
 */
export function formatSubject(dn: DistinguishedName): string {
  return dn.rdns
    .map((rdn) => rdn.map((a) => `${a.type}=${escapeAttributeValue(a.value)}`).join("+"))
    .join(",");
}

/** Accepts a subject string or a parsed name. */
export function toDistinguishedName(subject: string | DistinguishedName): DistinguishedName {
  return subject instanceof DistinguishedName ? subject : parseSubject(subject);
}
