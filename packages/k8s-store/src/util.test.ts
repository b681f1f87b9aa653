import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay, canonicalJson } from "./util.js";

describe("backoffDelay", () => {
  it("grows exponentially up to the cap, with jitter in [d/2, d]", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (failures, r) => {
        const d = Math.min(30_000, 1_000 * 2 ** (failures - 1));
        const got = backoffDelay(failures, {}, () => r);
        expect(got).toBeGreaterThanOrEqual(Math.floor(d / 2));
        expect(got).toBeLessThanOrEqual(d);
      }),
    );
    expect(backoffDelay(1, { initialMs: 100, maxMs: 1000 }, () => 1)).toBe(100);
    expect(backoffDelay(10, { initialMs: 100, maxMs: 1000 }, () => 1)).toBe(1000);
  });
});

describe("canonicalJson", () => {
  it("does not depend on key order", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(canonicalJson({ a: { d: [1, { x: 1, y: 2 }] }, b: 1 }));
  });
});

describe("canonicalJson (property)", () => {
  it("parses back to the same value as JSON.stringify does", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });
});
