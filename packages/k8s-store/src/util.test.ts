import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay, canonicalJson, contains, mapConcurrent } from "./util.js";

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

describe("contains", () => {
  it("every value contains itself (property)", () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => contains(v, v)));
  });
  it("ignores extra keys in live, not extra array elements", () => {
    expect(contains({ a: 1, b: 2, defaulted: true }, { a: 1 })).toBe(true);
    expect(contains({ a: [1, 2] }, { a: [1] })).toBe(false);
    expect(contains({ a: { x: 1 } }, { a: { x: 2 } })).toBe(false);
    expect(contains({}, { a: null })).toBe(true);
    expect(contains({ a: 1 }, { a: null })).toBe(false);
  });
});

describe("mapConcurrent", () => {
  it("keeps input order and never exceeds the concurrency", async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapConcurrent(
      Array.from({ length: 50 }, (_, i) => i),
      4,
      async (i) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, (i * 7) % 5));
        inFlight--;
        return i * 2;
      },
    );
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(peak).toBeLessThanOrEqual(4);
  });
  it("handles an empty list", async () => {
    expect(await mapConcurrent([], 8, async () => 1)).toEqual([]);
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
