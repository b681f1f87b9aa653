import { describe, expect, test } from "vitest";
import { SimClock } from "./clock.js";
import { applySeed, SeedError } from "./seed.js";
import { CompassState, DEFAULT_TENANT } from "./state.js";

const fresh = () => new CompassState(new SimClock());

describe("applySeed", () => {
  test("loads tenants, formations and runtimes; reports sections it does not load", () => {
    const state = fresh();
    const report = applySeed(state, {
      tenants: ["t1", { externalId: "t2", internalId: "i2", name: "Two" }],
      formations: ["DEFAULT", { name: "other", tenant: "t2" }],
      runtimes: [
        { id: "0ab2ca6e-767c-4d34-a292-618b01681c50", name: "a", tenant: "t2", labels: { x: ["y"] }, formations: ["other"] },
        { name: "b", status: "CONNECTED" },
      ],
      applications: [{ name: "app", tenant: "t2", formations: ["other"] }],
      somethingElse: 1,
    });
    expect(report).toEqual({ loaded: { tenants: 2, formations: 2, runtimes: 2, applications: 1 }, ignored: ["somethingElse"] });
    expect([...state.applications.values()].map((a) => [a.name, a.tenant, a.labels.get("scenarios")])).toEqual([["app", "t2", ["other"]]]);
    expect(state.tenants.get("t2")).toEqual({ externalId: "t2", internalId: "i2", name: "Two" });
    expect(state.runtimes.get("0ab2ca6e-767c-4d34-a292-618b01681c50")?.tenant).toBe("t2");
    expect([...state.runtimes.values()].find((r) => r.name === "b")?.status.condition).toBe("CONNECTED");
    expect(state.formations.has(`${DEFAULT_TENANT}/DEFAULT`)).toBe(true);
  });

  test.each([
    [[], "seed must be a JSON object"],
    [{ runtimes: {} }, "runtimes must be an array"],
    [{ runtimes: [{}] }, "runtimes[0].name is required"],
    [{ runtimes: [{ name: "a", labels: [] }] }, "runtimes[0].labels must be an object"],
    [{ runtimes: [{ name: "a", formations: [1] }] }, "runtimes[0].formations must be an array of strings"],
    [{ runtimes: [{ name: "a", status: "BAD" }] }, "runtimes[0].status must be one of"],
    [{ runtimes: [{ name: "a", id: "x" }] }, "runtimes[0]: runtime id must be a UUID"],
    [{ tenants: [3] }, "tenants[0] must be a tenant id"],
    [{ formations: [{}] }, "formations[0].name is required"],
  ])("rejects %j", (seed, message) => {
    expect(() => applySeed(fresh(), seed)).toThrow(SeedError);
    expect(() => applySeed(fresh(), seed)).toThrow(message);
  });
});
