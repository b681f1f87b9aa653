import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fromBase64, goJsonMultiMap, stableStringify, toBase64 } from "./hash.js";

describe("stableStringify", () => {
  test("sorts keys at every level and keeps array order", () => {
    expect(stableStringify({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
  });

  test("property: equal for any key order", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => {
        const reversed = Object.fromEntries(Object.entries(value).reverse());
        expect(stableStringify(reversed)).toBe(stableStringify(value));
      }),
    );
  });
});

describe("goJsonMultiMap (json.Marshal of map[string][]string)", () => {
  test("sorted keys, Go's HTML escaping", () => {
    expect(goJsonMultiMap({ b: ["1"], a: ["<x>", "&", "\u2028"] })).toBe('{"a":["\\u003cx\\u003e","\\u0026","\\u2028"],"b":["1"]}');
    expect(goJsonMultiMap({})).toBe("{}");
    expect(goJsonMultiMap({ k: [] })).toBe('{"k":[]}');
  });

  test("property: parses back to the same map", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.array(fc.string())), (map) => {
        expect(JSON.parse(goJsonMultiMap(map))).toEqual(map);
      }),
    );
  });
});

test("base64 round trip", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme" }), (text) => {
      expect(fromBase64(toBase64(text))).toBe(text);
    }),
  );
});

function reference(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map((item) => (item === undefined ? null : sortKeys(item)));
    if (v !== null && typeof v === "object") {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) {
        const member = (v as Record<string, unknown>)[key];
        // defineProperty: a "__proto__" key (fast-check generates it) must stay an own property of the copy.
        if (member !== undefined) Object.defineProperty(sorted, key, { value: sortKeys(member), enumerable: true, writable: true, configurable: true });
      }
      return sorted;
    }
    return v;
  };
  return JSON.stringify(sortKeys(value));
}

test("stableStringify is exactly JSON.stringify of key-sorted copies (so stored hashes stay valid)", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      expect(stableStringify(value)).toBe(reference(value));
    }),
    { numRuns: 500 },
  );
  expect(stableStringify({ b: undefined, a: [undefined, 1, "x\u2028"], c: { z: 1, y: null } })).toBe(reference({ b: undefined, a: [undefined, 1, "x\u2028"], c: { z: 1, y: null } }));
});

test("objects whose keys contain U+0000 are not taken for another shape with the same joined keys", () => {
  const values = [{ "a\u0000b": 1, c: 2 }, { a: 1, "b\u0000c": 2 }, { "a\u0000b": 3, c: 4 }, { a: 5, "b\u0000c": 6 }];
  for (const value of values) expect(stableStringify(value)).toBe(reference(value));
});

test("property: objects of one shape in different insertion orders serialize alike, also after the shape is cached", () => {
  fc.assert(
    fc.property(fc.array(fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })), { maxLength: 5 }), (values) => {
      for (const value of values) {
        const reversed = Object.fromEntries(Object.entries(value).reverse());
        expect(stableStringify(value)).toBe(reference(value));
        expect(stableStringify(reversed)).toBe(reference(value));
      }
    }),
    { numRuns: 300 },
  );
});
