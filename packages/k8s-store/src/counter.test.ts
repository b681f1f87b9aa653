import { describe, expect, it } from "vitest";
import { diffCounts, RequestCounter } from "./counter.js";

describe("RequestCounter", () => {
  it("counts by verb, errors by code, writes, and notifies listeners", () => {
    const c = new RequestCounter();
    const seen: string[] = [];
    const off = c.subscribe((r) => seen.push(`${r.verb}:${r.resource}`));
    c.record({ verb: "get", resource: "secrets", errorCode: undefined, durationMs: 1 });
    const before = c.snapshot();
    c.record({ verb: "patch", resource: "applications", errorCode: undefined, durationMs: 1 });
    c.record({ verb: "create", resource: "secrets", errorCode: "K8S_ALREADY_EXISTS", durationMs: 1 });
    off();
    c.record({ verb: "watch", resource: "applications", errorCode: undefined, durationMs: 1 });
    expect(c.snapshot()).toEqual({ get: 1, list: 0, create: 1, update: 0, patch: 1, delete: 0, watch: 1 });
    expect(c.writes()).toBe(2);
    expect(c.total()).toBe(4);
    expect(c.errors()).toEqual({ K8S_ALREADY_EXISTS: 1 });
    expect(seen).toEqual(["get:secrets", "patch:applications", "create:secrets"]);
    expect(diffCounts(c.snapshot(), before)).toMatchObject({ get: 0, patch: 1, create: 1, watch: 1 });
    c.reset();
    expect(c.total()).toBe(0);
  });
});
