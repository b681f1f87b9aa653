import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { formatDuration, parseBool, parseFraction, parseGoDuration, parseNamespacedName } from "./values.js";

describe("parseNamespacedName (the Go agent's cases)", () => {
  test.each([
    ["kyma-system/ca-secret", "kyma-system", "ca-secret"],
    ["ca-secret", "default", "ca-secret"],
    ["/ca-secret", "default", "ca-secret"],
    ["ca-secret/", "default", "ca-secret"],
  ])("%s", (input, namespace, name) => {
    expect(parseNamespacedName(input)).toEqual({ namespace, name });
  });

  test.each(["/", "", "a/b/c", "Upper/x", "ns/Bad_Name"])("%j is refused (Go would accept an empty name)", (input) => {
    expect(() => parseNamespacedName(input)).toThrow();
  });
});

describe("parseGoDuration", () => {
  test.each([
    ["20s", 20_000],
    ["180s", 180_000],
    ["1m30s", 90_000],
    ["30m", 1_800_000],
    ["1.5h", 5_400_000],
    ["300ms", 300],
    ["0", 0],
  ])("%s", (input, ms) => expect(parseGoDuration(input)).toBe(ms));

  test.each(["", "10", "s", "10x", "-5s", "1h junk"])("%j is refused", (input) => {
    expect(() => parseGoDuration(input)).toThrow(/not a duration/);
  });

  test("formatDuration output parses back", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (ms) => {
        expect(parseGoDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});

test("parseBool and parseFraction", () => {
  expect(parseBool("true")).toBe(true);
  expect(parseBool("0")).toBe(false);
  expect(() => parseBool("yes")).toThrow();
  expect(parseFraction("0.3")).toBe(0.3);
  for (const bad of ["0", "1", "1.5", "-0.1", "abc", ""]) expect(() => parseFraction(bad)).toThrow();
});
