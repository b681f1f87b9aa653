import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isUpToDate, withAppliedHash } from "./apply.js";
import { APPLIED_HASH_ANNOTATION } from "./meta.js";

describe("withAppliedHash / isUpToDate", () => {
  const body = withAppliedHash({ apiVersion: "a/v1", kind: "Application", metadata: { name: "x", labels: { l: "1" } }, spec: { services: [{ id: "s", entries: [] }], encodeUrl: false } });

  it("the hash is deterministic and ignores a previous hash", () => {
    const again = withAppliedHash({ apiVersion: "a/v1", kind: "Application", metadata: { name: "x", labels: { l: "1" } }, spec: { services: [{ id: "s", entries: [] }], encodeUrl: false } });
    expect(again.metadata.annotations?.[APPLIED_HASH_ANNOTATION]).toBe(body.metadata.annotations?.[APPLIED_HASH_ANNOTATION]);
    expect(withAppliedHash(body).metadata.annotations).toEqual(body.metadata.annotations);
  });

  it("a live object with server defaults and foreign fields is up to date", () => {
    const live = { ...body, metadata: { ...body.metadata, uid: "u", resourceVersion: "5", labels: { l: "1", foreign: "y" } }, spec: { ...body.spec, skipInstallation: false } };
    expect(isUpToDate(live, body)).toBe(true);
  });

  it("a changed field or a missing/different hash is not", () => {
    expect(isUpToDate({ ...body, spec: { ...body.spec, encodeUrl: true } }, body)).toBe(false);
    expect(isUpToDate({ ...body, metadata: { ...body.metadata, annotations: {} } }, body)).toBe(false);
    expect(isUpToDate(undefined, body)).toBe(false);
  });

  it("different content gives a different hash (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string()), fc.dictionary(fc.string(), fc.string()), (a, b) => {
        const ha = withAppliedHash({ metadata: {}, spec: a }).metadata.annotations?.[APPLIED_HASH_ANNOTATION];
        const hb = withAppliedHash({ metadata: {}, spec: b }).metadata.annotations?.[APPLIED_HASH_ANNOTATION];
        expect(ha === hb).toBe(JSON.stringify(a) === JSON.stringify(b));
      }),
    );
  });
});
