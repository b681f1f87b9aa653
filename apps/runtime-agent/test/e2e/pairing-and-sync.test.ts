import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { CA_SECRET, CLIENT_SECRET, Scenario } from "../support/scenario.js";

// The agent process against the Compass simulator and a real kube-apiserver, on its own ServiceAccount's RBAC.
let scenario: Scenario;
let agent: AgentProcess;

const basicBundle = {
  name: "orders",
  description: "Orders API",
  apiDefinitions: [{ name: "orders-api", targetURL: "https://commerce.example.com/orders" }],
  eventDefinitions: [{ name: "order.created" }],
  defaultInstanceAuth: { credential: { username: "svc-user", password: "p4ss-w0rd-e2e" } },
};
const oauthBundle = {
  name: "customers",
  apiDefinitions: [{ name: "customers-api", targetURL: "https://commerce.example.com/customers" }],
  defaultInstanceAuth: {
    credential: { clientId: "client-e2e", clientSecret: "s3cr3t-e2e-value", url: "https://commerce.example.com/oauth/token" },
    additionalHeaders: { "X-Tenant": ["t1"] },
    requestAuth: { csrf: { tokenEndpointURL: "https://commerce.example.com/csrf" } },
  },
};

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  await scenario.addApplication({ name: "Commerce Mock", description: "Commerce", bundles: [basicBundle, oauthBundle] });
  await scenario.addApplication({ name: "erp", systemNumber: "42", bundles: [] });
  await scenario.addApplication({ name: "crm", bundles: [basicBundle] });
  agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv() });
});

afterAll(async () => {
  await agent?.kill();
  await scenario?.close();
});

describe("first start", () => {
  test("pairs and synchronizes in the same pass", async () => {
    const cc = await scenario.waitForState("Synchronized");
    const status = cc.status!;
    expect(cc.spec.managementInfo).toEqual({ connectorUrl: scenario.sim.certSecuredConnectorUrl, directorUrl: scenario.sim.directorUrl });
    expect(status.connectionStatus?.established).toBeTruthy();
    expect(status.connectionStatus?.certificateStatus.notAfter).toBeTruthy();
    // The first synchronization happened in the pairing pass, not a sync period later.
    expect(status.synchronizationStatus?.lastSuccessfulApplication).toBe(status.connectionStatus?.established);
    expect(status.conditions?.find((c) => c.type === "Synchronized")?.status).toBe("True");

    const apps = (await scenario.managedApplications()).map((a) => a.name).sort();
    expect(apps).toEqual(["mp-commerce-mock", "mp-crm", "mp-erp-42"]);
    const credentials = await scenario.store.secrets.readCredentials({ clientCertificate: CLIENT_SECRET, caCertificate: CA_SECRET });
    expect(credentials.state).toBe("complete");
  });

  test("reports the runtime URLs as labels", async () => {
    const state = await scenario.admin.call<{ runtimes: { id: string; labels: Record<string, unknown> }[] }>("GET", "/admin/state");
    const labels = state.runtimes.find((r) => r.id === scenario.runtimeId)?.labels;
    expect(labels?.runtime_eventServiceUrl).toBe("https://gateway.e2e.example.com");
    expect(labels?.runtime_consoleUrl).toBe("https://console.e2e.example.com");
  });

  test("is ready and exposes metrics", async () => {
    await waitFor("readyz", async () => ((await fetch(`http://127.0.0.1:${agent.healthPort}/readyz`)).status === 200 ? true : undefined));
    const metrics = await (await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`)).text();
    expect(metrics).toContain('cra_reconcile_total{result="Synchronized"}');
    expect(metrics).toMatch(/cra_applications_managed 3/);
    expect(metrics).toContain("cra_certificate_not_after_timestamp_seconds");
  });
});

describe("steady state", () => {
  test("a cycle with no change in Compass writes no Application", async () => {
    const before = await scenario.managedApplications();
    const cc = await scenario.connection();
    await scenario.waitForState("Synchronized", 30_000, cc?.status?.synchronizationStatus?.lastAttempt ?? undefined);
    const after = await scenario.managedApplications();
    expect(after.map((a) => a.resourceVersion)).toEqual(before.map((a) => a.resourceVersion));
  });

  test("applications added, changed and removed in Compass are reflected", async () => {
    const id = await scenario.addApplication({ name: "new-app", description: "first" });
    await waitFor("new application", async () => ((await scenario.managedApplications()).some((a) => a.name === "mp-new-app") ? true : undefined));
    await scenario.admin.call("PATCH", `/admin/applications/${id}`, { description: "second" });
    await waitFor("changed description", async () =>
      (await scenario.managedApplications()).find((a) => a.name === "mp-new-app")?.spec.description === "second" ? true : undefined,
    );
    await scenario.admin.call("DELETE", `/admin/applications/${id}`);
    await waitFor("removed application", async () => ((await scenario.managedApplications()).some((a) => a.name === "mp-new-app") ? undefined : true));
  });

  test("no secret value reaches the agent's logs", async () => {
    const logs = agent.output();
    for (const secret of ["p4ss-w0rd-e2e", "s3cr3t-e2e-value", "BEGIN RSA PRIVATE KEY", "BEGIN PRIVATE KEY"]) expect(logs).not.toContain(secret);
  });
});

describe("shutdown", () => {
  test("SIGTERM stops the agent within 10 s", async () => {
    const { code, ms } = await agent.stop("SIGTERM");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
  });
});
