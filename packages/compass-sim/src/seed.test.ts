import { describe, expect, test } from "vitest";
import { SimClock } from "./clock.js";
import { applySeed, readSeedFile, SeedError } from "./seed.js";
import { CompassState, DEFAULT_TENANT, runtimeLabels } from "./state.js";

const fresh = () => new CompassState(new SimClock());

describe("applySeed", () => {
  test("applications, formation assignments and hide selectors", () => {
    const state = fresh();
    const runtimeId = "0ab2ca6e-767c-4d34-a292-618b01681c50";
    const appId = "2e0a6929-e892-493f-8542-59d5214db802";
    const report = applySeed(state, {
      runtimes: [{ id: runtimeId, name: "kyma" }],
      applications: [{ id: appId, name: "commerce", bundles: [{ name: "b", apiDefinitions: [{ name: "a", targetURL: "https://x" }] }] }, { name: "hidden", labels: { hide: "1" }, formations: ["F"] }],
      formations: [{ name: "F", runtimeIds: [runtimeId], applicationIds: [appId] }],
      hideSelectors: { hide: ["1"] },
    });
    expect(report).toEqual({ loaded: { formations: 1, runtimes: 1, applications: 2, formationAssignments: 2, hideSelectors: 1 }, ignored: [] });
    expect(state.applicationsVisibleTo(state.runtimes.get(runtimeId)!).map((a) => a.id)).toEqual([appId]);
    // The labels Compass adds: runtimeType at registration, scenarios from the formation; managed and name.
    expect(Object.fromEntries(runtimeLabels(state.runtimes.get(runtimeId)!))).toEqual({ isNormalized: "true", runtimeType: "kyma", scenarios: ["F"] });
    expect(Object.fromEntries(state.applications.get(appId)!.labels)).toEqual({ managed: "false", name: "mp-commerce", scenarios: ["F"] });
  });

  test("runtimeType: another value or null; the example seed's applications carry an applicationType", () => {
    const state = fresh();
    applySeed(state, { runtimes: [{ name: "edge", runtimeType: "edge" }, { name: "none", runtimeType: null }] });
    expect([...state.runtimes.values()].map((r) => r.labels.get("runtimeType"))).toEqual(["edge", undefined]);
    expect(() => applySeed(fresh(), { runtimes: [{ name: "x", runtimeType: 1 }] })).toThrow("runtimes[0].runtimeType must be a non-empty string or null");
    const example = fresh();
    applySeed(example, readSeedFile(new URL("../examples/seed.json", import.meta.url).pathname));
    const commerce = example.applications.get("2e0a6929-e892-493f-8542-59d5214db802")!;
    expect(Object.fromEntries(commerce.labels)).toEqual({ applicationType: "SAP Commerce Cloud", managed: "false", name: "mp-commerce-mock", scenarios: ["DEFAULT"] });
  });

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
    [{ formations: [{ name: "F", runtimeIds: "x" }] }, "formations[0].runtimeIds must be an array of ids"],
    [{ formations: [{ name: "F", runtimeIds: ["0ab2ca6e-0000-4000-8000-000000000000"] }] }, "formations[0].runtimeIds[0]: runtime 0ab2ca6e-0000-4000-8000-000000000000 not found"],
    [{ formations: [{ name: "F", applicationIds: ["0ab2ca6e-0000-4000-8000-000000000000"] }] }, "formations[0].applicationIds[0]: application"],
    [{ applications: [{ name: "a", bundles: [{ name: "b", apiDefinitions: [{ name: "x" }] }] }] }, "applications[0].bundles[0].apiDefinitions[0].targetURL is required"],
    [{ applications: [{ id: "0ab2ca6e-0000-4000-8000-000000000001", name: "a" }, { id: "0ab2ca6e-0000-4000-8000-000000000001", name: "b" }] }, "applications[1]: application 0ab2ca6e-0000-4000-8000-000000000001 already exists"],
    [{ hideSelectors: { k: "v" } }, "hideSelectors.k must be an array of strings"],
  ])("rejects %j", (seed, message) => {
    expect(() => applySeed(fresh(), seed)).toThrow(SeedError);
    expect(() => applySeed(fresh(), seed)).toThrow(message);
  });
});
