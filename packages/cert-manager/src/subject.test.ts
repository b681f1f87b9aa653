import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CertificateError, CertificateErrorCode } from "./errors.js";
import {
  DistinguishedName,
  MAX_SUBJECT_BYTES,
  SubjectAttributeOids,
  escapeAttributeValue,
  formatSubject,
  parseSubject,
} from "./subject.js";

const COMPASS = "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75";

function pairs(dn: DistinguishedName): [string, string][] {
  return dn.attributes.map((a) => [a.type, a.value]);
}

function expectInvalid(subject: string, message?: RegExp): void {
  let caught: unknown;
  try {
    parseSubject(subject);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CertificateError);
  expect((caught as CertificateError).code).toBe(CertificateErrorCode.SubjectInvalid);
  if (message !== undefined) expect((caught as CertificateError).message).toMatch(message);
}

describe("parseSubject", () => {
  it("parses the Connector's subject in its own order, with OIDs", () => {
    const dn = parseSubject(COMPASS);
    expect(dn.attributes).toEqual([
      { type: "O", oid: "2.5.4.10", value: "Org" },
      { type: "OU", oid: "2.5.4.11", value: "OrgUnit" },
      { type: "L", oid: "2.5.4.7", value: "locality" },
      { type: "ST", oid: "2.5.4.8", value: "province" },
      { type: "C", oid: "2.5.4.6", value: "DE" },
      { type: "CN", oid: "2.5.4.3", value: "a0aa0faf-4ac5-44c3-8e79-9a551eeaac75" },
    ]);
    expect(dn.commonName).toBe("a0aa0faf-4ac5-44c3-8e79-9a551eeaac75");
    expect(dn.values("c")).toEqual(["DE"]);
    expect(dn.rdns).toHaveLength(6);
    expect([...dn].map((a) => a.type)).toEqual(["O", "OU", "L", "ST", "C", "CN"]);
  });

  it("accepts any order, spaces around separators, keyword case", () => {
    const dn = parseSubject("  cn = id ,  ou=Test , o = Test,L=Blacksburg ,st=Virginia, c=US  ");
    expect(pairs(dn)).toEqual([
      ["CN", "id"],
      ["OU", "Test"],
      ["O", "Test"],
      ["L", "Blacksburg"],
      ["ST", "Virginia"],
      ["C", "US"],
    ]);
  });

  it("keeps repeated attributes in order (several OU)", () => {
    const dn = parseSubject("OU=first,O=Org,OU=second,OU=third,CN=x");
    expect(dn.values("OU")).toEqual(["first", "second", "third"]);
    expect(dn.values("2.5.4.11")).toEqual(["first", "second", "third"]);
    expect(dn.values("L")).toEqual([]);
  });

  it("groups multi-valued RDNs joined with +", () => {
    const dn = parseSubject("CN=x + UID=jdoe,O=Org");
    expect(dn.rdns.map((rdn) => rdn.map((a) => a.type))).toEqual([["CN", "UID"], ["O"]]);
    expect(dn.attributes).toHaveLength(3);
    expect(formatSubject(dn)).toBe("CN=x+UID=jdoe,O=Org");
  });

  it("understands RFC 4514 escapes", () => {
    expect(parseSubject(String.raw`CN=Doe\, John`).commonName).toBe("Doe, John");
    expect(parseSubject(String.raw`CN=a\+b`).commonName).toBe("a+b");
    expect(parseSubject(String.raw`CN=\"quoted\"`).commonName).toBe('"quoted"');
    expect(parseSubject(String.raw`CN=back\\slash`).commonName).toBe("back\\slash");
    expect(parseSubject(String.raw`CN=\3Cx\3E`).commonName).toBe("<x>");
    expect(parseSubject(String.raw`CN=caf\C3\A9`).commonName).toBe("café");
    expect(parseSubject(String.raw`CN=\#hash`).commonName).toBe("#hash");
    expect(parseSubject(String.raw`CN=semi\;colon\=eq`).commonName).toBe("semi;colon=eq");
    expect(parseSubject(String.raw`CN=nul\00byte`).commonName).toBe("nul\u0000byte");
  });

  it("keeps escaped leading/trailing spaces and trims unescaped ones", () => {
    expect(parseSubject(String.raw`CN=\ padded\ ,O=x`).commonName).toBe(" padded ");
    expect(parseSubject(String.raw`CN=  inner  space  ,O=x`).commonName).toBe("inner  space");
    expect(parseSubject(String.raw`CN=x\20`).commonName).toBe("x ");
    expect(parseSubject("CN=,O=x").commonName).toBe("");
  });

  it("accepts every listed keyword and dotted OIDs", () => {
    for (const [keyword, oid] of Object.entries(SubjectAttributeOids)) {
      const dn = parseSubject(`${keyword}=v`);
      expect(dn.attributes[0]).toEqual({ type: keyword, oid, value: "v" });
      expect(parseSubject(`${keyword.toUpperCase()}=v`).attributes[0]?.type).toBe(keyword);
    }
    expect(parseSubject("2.5.4.3=x").attributes[0]).toEqual({ type: "CN", oid: "2.5.4.3", value: "x" });
    expect(parseSubject("1.3.6.1.4.1.99999.1=x").attributes[0]).toEqual({
      type: "1.3.6.1.4.1.99999.1",
      oid: "1.3.6.1.4.1.99999.1",
      value: "x",
    });
  });

  it("takes the last CN as commonName, like Go's pkix.Name", () => {
    expect(parseSubject("CN=first,CN=second").commonName).toBe("second");
    expect(parseSubject("O=x").commonName).toBeUndefined();
  });

  it("rejects malformed subjects with CERT_SUBJECT_INVALID", () => {
    expectInvalid("", /empty/);
    expectInvalid("   ", /empty/);
    expectInvalid("CN", /has no "="/);
    expectInvalid("O=Org,OrgUnit,CN=x", /"OrgUnit".*has no "="/);
    expectInvalid("=value", /empty attribute type/);
    expectInvalid("O=Org,,CN=x", /empty attribute/);
    expectInvalid("O=Org,", /not followed by an attribute/);
    expectInvalid("O=Org, ", /not followed by an attribute/);
    expectInvalid("O=Org+", /not followed by an attribute/);
    expectInvalid("CN=x\\", /unterminated escape/);
    expectInvalid("CN=x\\q", /invalid escape/);
    expectInvalid("CN=\\C3", /not valid UTF-8/);
    expectInvalid("CN=#04024869", /hex-encoded/);
    expectInvalid("FOO=bar", /unknown attribute type "FOO"/);
    expectInvalid("C N=bar", /neither a keyword nor a dotted OID/);
    expectInvalid("1.2.=x", /neither a keyword nor a dotted OID/);
    expectInvalid("3.1=x", /not a valid object identifier/);
    expectInvalid("1.40=x", /not a valid object identifier/);
    expectInvalid("01.2=x");
    expectInvalid("CN=\uD800", /well-formed/);
    expectInvalid(`CN=${"x".repeat(MAX_SUBJECT_BYTES)}`, /longer than 4096 bytes/);
    expectInvalid(`CN=${"é".repeat(2100)}`, /longer than 4096 bytes/);
    expect(() => parseSubject(42 as unknown as string)).toThrow(CertificateError);
  });

  it("accepts a subject of exactly 4 KiB", () => {
    expect(parseSubject(`CN=${"x".repeat(MAX_SUBJECT_BYTES - 3)}`).commonName).toHaveLength(
      MAX_SUBJECT_BYTES - 3,
    );
  });

  it("never throws anything but CertificateError on random strings", () => {
    const alphabet = fc.constantFrom(...'CNOUL=,+\\ #"<>;0123456789abcdefABCDEF.é\u0000'.split(""));
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: alphabet, maxLength: 40 })),
        (s) => {
          try {
            const dn = parseSubject(s);
            expect(dn.attributes.length).toBeGreaterThan(0);
          } catch (error) {
            expect(error).toBeInstanceOf(CertificateError);
            expect((error as CertificateError).code).toBe(CertificateErrorCode.SubjectInvalid);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("formatSubject", () => {
  it("escapes RFC 4514 specials", () => {
    expect(escapeAttributeValue('a,b+c"d\\e;f<g>h=i')).toBe('a\\,b\\+c\\"d\\\\e\\;f\\<g\\>h=i');
    expect(escapeAttributeValue("#x")).toBe("\\#x");
    expect(escapeAttributeValue("x#")).toBe("x#");
    expect(escapeAttributeValue(" x ")).toBe("\\ x\\ ");
    expect(escapeAttributeValue(" ")).toBe("\\ ");
    expect(escapeAttributeValue("a\u0000b\nc\u007f")).toBe("a\\00b\\0Ac\\7F");
    expect(escapeAttributeValue("Zürich 😀")).toBe("Zürich 😀");
  });

  it("renders a parsed subject back in the same order", () => {
    expect(formatSubject(parseSubject(COMPASS))).toBe(COMPASS);
    expect(parseSubject(" CN = a\\,b , O=x").toString()).toBe("CN=a\\,b,O=x");
    expect(JSON.stringify({ s: parseSubject("CN=x") })).toBe('{"s":"CN=x"}');
  });

  const oidOf = (type: string): string =>
    (SubjectAttributeOids as Record<string, string | undefined>)[type] ?? type;
  const attributeType = fc.constantFrom(...Object.keys(SubjectAttributeOids), "1.3.6.1.4.1.4711.7");
  const value = fc.oneof(
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.string({ unit: fc.constantFrom(...[...'ab ,+"\\#=;<> \u0000é😀']), maxLength: 12 }),
    fc.string({ unit: fc.constantFrom(...'ab ,+"\\#=;<> \u0000é'.split("")), maxLength: 12 }),
  );
  const rdn = fc.array(fc.record({ type: attributeType, value }), { minLength: 1, maxLength: 3 });
  const dnArb = fc
    .array(rdn, { minLength: 1, maxLength: 6 })
    .map(
      (rdns) =>
        new DistinguishedName(
          rdns.map((r) => r.map((a) => ({ type: a.type, oid: oidOf(a.type), value: a.value }))),
        ),
    );

  it("round-trips: parse(format(x)) equals x, with order and grouping", () => {
    fc.assert(
      fc.property(dnArb, (dn) => {
        const text = formatSubject(dn);
        const back = parseSubject(text);
        expect(back.rdns).toEqual(dn.rdns);
        expect(back.equals(dn)).toBe(true);
        expect(formatSubject(back)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("DistinguishedName", () => {
  it("compares as a multiset of (OID, value), ignoring order and grouping", () => {
    const a = parseSubject(COMPASS);
    expect(
      a.equals(
        parseSubject("CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75,C=DE,ST=province,L=locality,OU=OrgUnit,O=Org"),
      ),
    ).toBe(true);
    expect(
      a.equals(
        parseSubject(
          "2.5.4.3=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75+C=DE,ST=province,L=locality,OU=OrgUnit,O=Org",
        ),
      ),
    ).toBe(true);
    expect(a.equals(parseSubject(COMPASS.replace("Org,", "org,")))).toBe(false);
    expect(a.equals(parseSubject(`${COMPASS},OU=OrgUnit`))).toBe(false);
    expect(parseSubject("OU=a,OU=a,OU=b").equals(parseSubject("OU=a,OU=b,OU=b"))).toBe(false);
  });

  it("builds from keyword/value pairs and normalises type and OID", () => {
    const dn = DistinguishedName.from([
      { type: "cn", value: "x" },
      { type: "2.5.4.10", value: "Org" },
    ]);
    expect(dn.attributes).toEqual([
      { type: "CN", oid: "2.5.4.3", value: "x" },
      { type: "O", oid: "2.5.4.10", value: "Org" },
    ]);
    expect(() => DistinguishedName.from([{ type: "nope", value: "x" }])).toThrow(CertificateError);
    expect(() => new DistinguishedName([[]])).toThrow(/empty relative distinguished name/);
    expect(() => DistinguishedName.from([{ type: "CN", value: "\uDC00" }])).toThrow(/well-formed/);
    expect(DistinguishedName.from([]).toString()).toBe("");
  });

  it("is immutable", () => {
    const dn = parseSubject("CN=x");
    expect(Object.isFrozen(dn.attributes)).toBe(true);
    expect(Object.isFrozen(dn.attributes[0])).toBe(true);
  });
});
