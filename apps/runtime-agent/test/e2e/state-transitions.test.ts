import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { InProcessAgent } from "../support/in-process.js";
import { Scenario } from "../support/scenario.js";

// Every connectionState of docs/architecture.md, entered from Synchronized and left back to it, with the reconciler
// in this process: each cycle is called and time is moved by what the cycle asked for (the refused-credential
// states are in refused-credentials.test.ts, the Kubernetes faults in core-faults.test.ts).
let scenario: Scenario;
let agent: InProcessAgent;

async function state(): Promise<{ state: string | undefined; error: string }> {
  const cc = await scenario.connection();
  return { state: cc?.status?.connectionState, error: cc?.status?.connectionStatus?.error ?? cc?.status?.synchronizationStatus?.error ?? "" };
}

async function cycle(): Promise<{ state: string | undefined; error: string; requeueAfterMs: number }> {
  agent.advance(agent.config.controllerSyncPeriod);
  const outcome = await agent.cycle();
  return { ...(await state()), requeueAfterMs: outcome.requeueAfterMs };
}

async function events(reason: string) {
  return (await scenario.kube.events("default")).filter((e) => e.reason === reason && e.involvedObject.kind === "CompassConnection");
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  await scenario.addApplication({ name: "erp" });
  agent = await InProcessAgent.start(scenario, inject("agentKubeconfig"));
});

afterAll(async () => {
  await agent?.close();
  await scenario?.close();
});

describe("from Synchronized and back", () => {
  test("MetadataUpdateFailed: applications applied, the runtime labels refused; set by a later cycle", async () => {
    scenario.sim.addFault({ target: "director", operation: "setRuntimeLabel", status: 503, times: 2 });
    await agent.cycle();
    const failed = await state();
    expect(failed.state).toBe("MetadataUpdateFailed");
    expect(failed.error).toMatch(/Failed to reconcile Runtime labels with proper URLs: runtime_eventServiceUrl: DIRECTOR_UNAVAILABLE/);
    expect((await scenario.managedApplications()).map((a) => a.name)).toEqual(["mp-erp"]);
    expect((await events("MetadataUpdateFailed")).some((e) => e.type === "Warning")).toBe(true);
    scenario.sim.clearFaults();
    expect(await cycle()).toMatchObject({ state: "Synchronized", error: "" });
  });

  test("ConnectionMaintenanceFailed: the connection check fails; the certificate and the applications are kept; no token", async () => {
    const fingerprint = await scenario.clientCertificateFingerprint();
    const mark = scenario.mark();
    scenario.sim.addFault({ target: "connector", status: 503, times: 1 });
    const failed = await cycle();
    expect(failed.state).toBe("ConnectionMaintenanceFailed");
    expect(failed.error).toMatch(/Error while trying to maintain connection: CONNECTOR_UNAVAILABLE/);
    expect((await scenario.managedApplications()).map((a) => a.name)).toEqual(["mp-erp"]);
    expect(await cycle()).toMatchObject({ state: "Synchronized", error: "" });
    expect(await scenario.clientCertificateFingerprint()).toBe(fingerprint);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(0);
  });

  test("SynchronizationFailed: the Director fails; nothing written or deleted; the next cycle recovers", async () => {
    const before = await scenario.managedApplications();
    scenario.sim.addFault({ target: "director", operation: "ApplicationsForRuntime", status: 503, times: 1 });
    const failed = await cycle();
    expect(failed.state).toBe("SynchronizationFailed");
    expect(failed.error).toMatch(/Failed to fetch configuration: DIRECTOR_UNAVAILABLE/);
    expect(await scenario.managedApplications()).toEqual(before);
    expect(await cycle()).toMatchObject({ state: "Synchronized", error: "" });
  });

  test("ResourceApplicationFailed: a foreign Application holds a wanted name; the others are applied; gone → Synchronized", async () => {
    // Created as somebody else would (the store would mark it as the agent's).
    await scenario.kube.ok("POST", "/apis/applicationconnector.kyma-project.io/v1alpha1/applications", {
      apiVersion: "applicationconnector.kyma-project.io/v1alpha1",
      kind: "Application",
      metadata: { name: "mp-crm" },
      spec: { description: "hand-made", skipVerify: false, services: [] },
    });
    await scenario.addApplication({ name: "crm" });
    await scenario.addApplication({ name: "hr" });
    const failed = await cycle();
    expect(failed.state).toBe("ResourceApplicationFailed");
    expect(failed.error).toMatch(/1 of 3 applications failed: mp-crm: an Application mp-crm exists that the agent does not manage/);
    expect((await scenario.managedApplications()).map((a) => a.name).sort()).toEqual(["mp-erp", "mp-hr"]);
    expect((await events("ApplicationSyncFailed")).length).toBeGreaterThan(0);

    await scenario.store.applications.delete("mp-crm");
    expect(await cycle()).toMatchObject({ state: "Synchronized", error: "" });
    expect((await scenario.managedApplications()).map((a) => a.name).sort()).toEqual(["mp-crm", "mp-erp", "mp-hr"]);
  });

  test("a quiet cycle writes nothing although the Director returns nested lists in a different order every time", async () => {
    await scenario.addApplication({
      name: "rich",
      bundles: [1, 2, 3].map((b) => ({
        name: `bundle-${b}`,
        apiDefinitions: [1, 2, 3].map((a) => ({ name: `api-${b}-${a}`, targetURL: `https://rich.example.com/${b}/${a}` })),
        eventDefinitions: [1, 2].map((e) => ({ name: `event-${b}-${e}` })),
      })),
    });
    expect(await cycle()).toMatchObject({ state: "Synchronized" });
    const before = await scenario.managedApplications();
    for (let i = 0; i < 5; i++) {
      await scenario.patchSpec({ resyncNow: true }); // a full cycle each time, not the rate limit
      expect(await cycle()).toMatchObject({ state: "Synchronized" });
    }
    expect(await scenario.managedApplications()).toEqual(before);
  });
});
