import { describe, expect, test } from "vitest";
import { SimClock } from "./clock.js";
import { generateApplications } from "./generate.js";
import { CompassState, DEFAULT_TENANT, runtimeLabels } from "./state.js";

describe("generateApplications", () => {
  test("1,000 applications × 5 bundles × (3 APIs + 2 events)", () => {
    const state = new CompassState(new SimClock());
    // A few hundred milliseconds when idle (not asserted: tests never assert on wall-clock time).
    const set = generateApplications(state, { applications: 1000, bundles: 5, apis: 3, events: 2, credentialsRatio: 0.5 });
    expect(set).toMatchObject({ tenant: DEFAULT_TENANT, formation: "generated", applications: 1000, bundles: 5000, apiDefinitions: 15000, eventDefinitions: 10000, credentials: 2500 });
    const runtime = state.runtimes.get(set.runtimeId)!;
    const visible = state.applicationsVisibleTo(runtime);
    expect(visible).toHaveLength(1000);
    expect(visible.map((a) => a.id)).toEqual([...visible.map((a) => a.id)].sort());
    expect(new Set(visible.map((a) => a.name)).size).toBe(1000);
  });

  test("the labels Compass shows: runtimeType and scenarios on the runtime; applicationType, managed, name, scenarios on applications", () => {
    const state = new CompassState(new SimClock());
    const set = generateApplications(state, { applications: 5, formation: "gen" });
    const runtime = state.runtimes.get(set.runtimeId)!;
    expect(Object.fromEntries(runtimeLabels(runtime))).toEqual({
      isNormalized: "true",
      runtimeType: "kyma",
      runtime_eventServiceUrl: "https://gateway.generated.local",
      scenarios: ["gen"],
    });
    const apps = [...state.applications.values()].sort((a, b) => a.name.localeCompare(b.name));
    expect(Object.fromEntries(apps[0]!.labels)).toEqual({ applicationType: "SAP Commerce Cloud", managed: "false", name: "mp-generated-app-0", scenarios: ["gen"] });
    expect(new Set(apps.map((a) => a.labels.get("applicationType"))).size).toBe(4);
    const event = apps[0]!.bundles[0]!.eventDefinitions[0]!;
    expect(event.version).toEqual({ value: "v1", deprecated: false, forRemoval: false });
  });

  test("credentials alternate OAuth and Basic, some with CSRF and request parameters", () => {
    const state = new CompassState(new SimClock());
    generateApplications(state, { applications: 6, bundles: 2, apis: 1, events: 0, credentialsRatio: 0.5 });
    const auths = [...state.applications.values()].flatMap((a) => a.bundles).flatMap((b) => (b.defaultInstanceAuth ? [b.defaultInstanceAuth] : []));
    expect(auths).toHaveLength(6);
    const kinds = auths.map((a) => a.credential?.kind);
    expect(kinds.filter((k) => k === "oauth")).toHaveLength(3);
    expect(kinds.filter((k) => k === "basic")).toHaveLength(3);
    expect(auths.some((a) => a.requestAuth?.csrf)).toBe(true);
    expect(auths.some((a) => a.additionalHeaders && a.additionalQueryParams)).toBe(true);
    expect(auths.some((a) => !a.requestAuth && !a.additionalHeaders)).toBe(true);
  });

  test("ratio 0 and 1, and bad input", () => {
    const none = new CompassState(new SimClock());
    expect(generateApplications(none, { applications: 3, credentialsRatio: 0 }).credentials).toBe(0);
    const all = new CompassState(new SimClock());
    expect(generateApplications(all, { applications: 3, bundles: 2, credentialsRatio: 1 }).credentials).toBe(6);
    expect(() => generateApplications(new CompassState(new SimClock()), { applications: 1, credentialsRatio: 2 })).toThrow(RangeError);
    expect(() => generateApplications(new CompassState(new SimClock()), { applications: -1 })).toThrow(RangeError);
  });
});
