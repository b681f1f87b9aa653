import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { MANAGED_BY_LABEL } from "@runtime-agent/k8s-store";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { CONFIG_SECRET, Scenario } from "../support/scenario.js";

// Failures of single applications: a foreign Application with a wanted name, two Compass applications with the
// same name after normalization. Those are reported; every other application is still synchronized.
let scenario: Scenario;
let secrets: SecretWatch;
let fooBarId: string;

const FOREIGN = "mp-crm";

async function foreign(): Promise<{ metadata: { resourceVersion: string; labels?: Record<string, string> }; spec: { description: string } } | undefined> {
  const res = await scenario.kube.request<{ metadata: { resourceVersion: string; labels?: Record<string, string> }; spec: { description: string } }>(
    "GET",
    `/apis/applicationconnector.kyma-project.io/v1alpha1/applications/${FOREIGN}`,
  );
  return res.status === 200 ? res.body : undefined;
}

async function syncFailedEvents(): Promise<string[]> {
  return (await scenario.kube.events("default")).filter((e) => e.reason === "ApplicationSyncFailed" && e.type === "Warning").map((e) => e.message);
}

async function managedNames(): Promise<string[]> {
  return (await scenario.managedApplications()).map((a) => a.name).sort();
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  secrets.add("crm-pass-e2e");
  await scenario.addApplication({ name: "erp" });
  await scenario.addApplication({ name: "billing" });
  await scenario.addApplication({
    name: "crm",
    bundles: [{ name: "b", apiDefinitions: [{ name: "a", targetURL: "https://crm.example.com" }], defaultInstanceAuth: { credential: { username: "u", password: "crm-pass-e2e" } } }],
  });
  fooBarId = await scenario.addApplication({ name: "Foo Bar" });
  await scenario.addApplication({ name: "foo-bar" });
  // Somebody else's Application with the name the agent wants for "crm" (no managed-by label).
  await scenario.kube.ok("POST", "/apis/applicationconnector.kyma-project.io/v1alpha1/applications", {
    apiVersion: "applicationconnector.kyma-project.io/v1alpha1",
    kind: "Application",
    metadata: { name: FOREIGN, labels: { owner: "somebody-else" } },
    spec: { description: "not the agent's", services: [] },
  });
  await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv() });
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("per-application failures", () => {
  test("the foreign Application and the colliding names are reported; the other applications are synchronized", async () => {
    const cc = await scenario.waitForState("ResourceApplicationFailed");
    const error = cc.status?.synchronizationStatus?.error ?? "";
    expect(error).toMatch(/: 3 of 5 applications failed: /); // the two colliding applications and crm
    expect(error).toContain(FOREIGN);
    expect(error).toContain("mp-foo-bar");
    expect(cc.status?.synchronizationStatus?.lastSuccessfulFetch).toBeTruthy();
    expect(cc.status?.synchronizationStatus?.lastSuccessfulApplication).toBeNull();
    expect(cc.status?.conditions?.find((c) => c.type === "Synchronized")?.status).toBe("False");
    expect(cc.status?.conditions?.find((c) => c.type === "Connected")?.status).toBe("True");

    expect(await managedNames()).toEqual(["mp-billing", "mp-erp"]);
    const messages = await waitFor("ApplicationSyncFailed Events", async () => {
      const found = await syncFailedEvents();
      return found.some((m) => m.startsWith(`${FOREIGN}:`)) && found.some((m) => m.startsWith("mp-foo-bar:")) ? found : undefined;
    });
    expect(messages.every((m) => m.startsWith(`${FOREIGN}:`) || m.startsWith("mp-foo-bar:"))).toBe(true);
    const stateEvents = (await scenario.kube.events("default")).filter((e) => e.reason === "ResourceApplicationFailed");
    expect(stateEvents.map((e) => e.type)).toContain("Warning");
  });

  test("the foreign Application is left alone, and no Secret is written for it, over several cycles", async () => {
    const before = await foreign();
    for (let i = 0; i < 2; i++) await scenario.waitForNextCycle("ResourceApplicationFailed", 30_000);
    const after = await foreign();
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    expect(after?.metadata.labels?.[MANAGED_BY_LABEL]).toBeUndefined();
    expect(after?.spec.description).toBe("not the agent's");
    expect((await scenario.appSecrets()).map((s) => s.metadata.name)).toEqual([]);
  });

  test("new applications are still synchronized while others fail", async () => {
    await scenario.addApplication({ name: "newcomer" });
    await waitFor("newcomer", async () => ((await managedNames()).includes("mp-newcomer") ? true : undefined), 30_000);
    expect((await scenario.connection())?.status?.connectionState).toBe("ResourceApplicationFailed");
  });

  test("with the agent normalizing instead of the Director (isNormalized=false) the result is the same, without churn", async () => {
    const uids = new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid]));
    scenario.sim.state.runtimes.get(scenario.runtimeId)?.labels.set("isNormalized", "false");
    for (let i = 0; i < 2; i++) await scenario.waitForNextCycle("ResourceApplicationFailed", 30_000);
    const after = new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid]));
    expect(after).toEqual(uids);
    const error = (await scenario.connection())?.status?.synchronizationStatus?.error ?? "";
    expect(error).toContain("mp-foo-bar");

    // No isNormalized label at all: the Director normalizes, and so does the agent (idempotent): same names again.
    scenario.sim.state.runtimes.get(scenario.runtimeId)?.labels.delete("isNormalized");
    for (let i = 0; i < 2; i++) await scenario.waitForNextCycle("ResourceApplicationFailed", 30_000);
    expect(new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid]))).toEqual(uids);
  });

  test("once the foreign Application is gone and the names differ, everything is synchronized", async () => {
    await scenario.kube.ok("DELETE", `/apis/applicationconnector.kyma-project.io/v1alpha1/applications/${FOREIGN}`);
    await scenario.admin.call("PATCH", `/admin/applications/${fooBarId}`, { name: "Foo Bar Two" });
    const cc = await scenario.waitForState("Synchronized", 30_000);
    expect(cc.status?.synchronizationStatus?.error).toBeUndefined();
    expect(await managedNames()).toEqual(["mp-billing", "mp-crm", "mp-erp", "mp-foo-bar", "mp-foo-bar-two", "mp-newcomer"]);
    const crmSecrets = await scenario.appSecrets();
    expect(crmSecrets).toHaveLength(1);
    expect(crmSecrets[0]?.metadata.ownerReferences?.[0]?.name).toBe("mp-crm");
    expect((await scenario.kube.events("default")).some((e) => e.reason === "Synchronized" && e.type === "Normal")).toBe(true);
  });
});

describe("failures of a whole phase (counterparts of the Go agent's controller tests)", () => {
  const uids = async () => new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid]));

  test("the runtime labels cannot be set → MetadataUpdateFailed (applications still applied), then Synchronized", async () => {
    const before = await uids();
    scenario.sim.state.runtimes.get(scenario.runtimeId)?.labels.set("runtime_consoleUrl", "https://stale.example.com");
    await scenario.admin.call("POST", "/admin/faults", { target: "director", operation: "SetRuntimeLabel", status: 503, times: 2 });
    const cc = await scenario.waitForState("MetadataUpdateFailed", 30_000);
    expect(cc.status?.synchronizationStatus?.error).toMatch(/Failed to reconcile Runtime labels with proper URLs: runtime_consoleUrl/);
    expect(cc.status?.synchronizationStatus?.lastSuccessfulFetch).toBeTruthy();
    await scenario.waitForState("Synchronized", 30_000);
    expect(scenario.sim.state.runtimes.get(scenario.runtimeId)?.labels.get("runtime_consoleUrl")).toBe("https://console.e2e.example.com");
    expect(await uids()).toEqual(before);
  });

  for (const [what, fault] of [
    ["answers 503", { status: 503 }],
    ["answers 200 {} (no managementPlaneInfo)", { emptyJson: true }],
    ["resets the connection", { reset: true }],
  ] as const) {
    test(`the Connector check ${what} → ConnectionMaintenanceFailed on the certificate (no token), then Synchronized`, async () => {
      const before = await uids();
      const mark = scenario.mark();
      await scenario.admin.call("POST", "/admin/faults", { target: "connector", operation: "configuration", ...fault, times: 1 });
      const cc = await scenario.waitForState("ConnectionMaintenanceFailed", 30_000);
      expect(cc.status?.connectionStatus?.error).toMatch(/Error while trying to maintain connection/);
      await scenario.waitForState("Synchronized", 30_000);
      expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(0);
      expect(await uids()).toEqual(before);
    });
  }

  test("RUNTIME_ID empty in the config Secret → SynchronizationFailed; restored → Synchronized", async () => {
    const before = await uids();
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { RUNTIME_ID: "" });
    const cc = await scenario.waitForState("SynchronizationFailed", 30_000);
    expect(cc.status?.synchronizationStatus?.error).toMatch(/Failed to read Runtime config: RUNTIME_ID .* is empty/);
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { RUNTIME_ID: scenario.runtimeId });
    await scenario.waitForState("Synchronized", 30_000);
    expect(await uids()).toEqual(before);
  });

  test("config Secret deleted → SynchronizationFailed on the certificate; recreated → Synchronized", async () => {
    const before = await uids();
    await scenario.store.secrets.delete(CONFIG_SECRET.namespace, CONFIG_SECRET.name);
    const cc = await scenario.waitForState("SynchronizationFailed", 30_000);
    expect(cc.status?.connectionStatus?.error).toBeUndefined();
    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized", 30_000);
    expect(await uids()).toEqual(before);
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events or the CR", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
