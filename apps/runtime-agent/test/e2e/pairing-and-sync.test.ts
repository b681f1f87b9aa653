import { createPrivateKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { CA_SECRET, CLIENT_SECRET, FORMATION, Scenario } from "../support/scenario.js";

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

let commerceId: string;

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  commerceId = await scenario.addApplication({ name: "Commerce Mock", description: "Commerce", bundles: [basicBundle, oauthBundle] });
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
    // The first synchronization happened in the pairing pass: the pass that logged the pairing (its reconcileId)
    // also logged the first synchronization. (Not the status stamps: the next cycle may already have run when the CR
    // is read, and it moves lastSuccessfulApplication on.)
    const paired = await agent.waitForLog((l) => l.msg === "connected to Compass");
    const synced = await agent.waitForLog((l) => l.msg === "synchronization done");
    expect(synced["reconcileId"]).toBe(paired["reconcileId"]);
    expect(status.conditions?.find((c) => c.type === "Synchronized")?.status).toBe("True");

    const apps = (await scenario.managedApplications()).map((a) => a.name).sort();
    expect(apps).toEqual(["mp-commerce-mock", "mp-crm", "mp-erp-42"]);
    const credentials = await scenario.store.secrets.readCredentials({ clientCertificate: CLIENT_SECRET, caCertificate: CA_SECRET });
    expect(credentials.state).toBe("complete");
    // The key has the size the Connector's keyAlgorithm (rsa2048) names; the Go agent ignores it (always 4096).
    if (credentials.state === "complete") expect(createPrivateKey(credentials.credentials.key).asymmetricKeyDetails?.modulusLength).toBe(2048);
    // The token flow (configuration with the token, then signing with the token it returned), then the mTLS check;
    // no renewal in the first pass.
    const requests = scenario.requestsSince(0);
    expect(requests.filter((r) => r.listener === "token").map((r) => r.operations[0])).toEqual(["configuration", "signCertificateSigningRequest"]);
    expect(requests.filter((r) => r.listener === "mtls" && r.operations.includes("signCertificateSigningRequest"))).toHaveLength(0);
  });

  test("writes the Application CRs and Secrets as Kyma expects them", async () => {
    const app = await scenario.store.applications.get("mp-commerce-mock");
    const spec = app.spec as unknown as {
      description: string;
      labels: Record<string, string>;
      compassMetadata: { applicationId: string; authentication: { clientIds: string[] } };
      services: { displayName: string; entries: { type: string; targetUrl?: string; centralGatewayUrl?: string; credentials?: { type: string; secretName: string; authenticationUrl?: string; csrfInfo?: { tokenEndpointURL: string } }; requestParametersSecretName?: string }[] }[];
    };
    expect(spec.description).toBe("Commerce");
    expect(spec.labels["connected-app"]).toBe("mp-commerce-mock");
    expect(spec.compassMetadata.applicationId).toBe(commerceId);
    const byName = new Map(spec.services.map((s) => [s.displayName, s]));
    const orders = byName.get("orders")!;
    const ordersApi = orders.entries.find((e) => e.type === "API")!;
    expect(ordersApi.targetUrl).toBe("https://commerce.example.com/orders");
    expect(ordersApi.credentials?.type).toBe("Basic");
    expect(orders.entries.some((e) => e.type === "Events")).toBe(true);
    const customersApi = byName.get("customers")!.entries.find((e) => e.type === "API")!;
    expect(customersApi.credentials).toMatchObject({ type: "OAuth", authenticationUrl: "https://commerce.example.com/oauth/token", csrfInfo: { tokenEndpointURL: "https://commerce.example.com/csrf" } });
    expect(customersApi.requestParametersSecretName).toBeTruthy();

    const basic = await scenario.store.secrets.get("kyma-system", ordersApi.credentials!.secretName);
    expect(basic.data).toMatchObject({ username: "svc-user", password: "p4ss-w0rd-e2e" });
    const oauth = await scenario.store.secrets.get("kyma-system", customersApi.credentials!.secretName);
    expect(oauth.data).toMatchObject({ clientId: "client-e2e", clientSecret: "s3cr3t-e2e-value" });
    const params = await scenario.store.secrets.get("kyma-system", customersApi.requestParametersSecretName!);
    expect(JSON.parse(params.data["headers"] ?? "{}")).toEqual({ "X-Tenant": ["t1"] });
    for (const secret of [basic, oauth, params]) {
      expect(secret.metadata.ownerReferences?.[0]).toMatchObject({ kind: "Application", name: "mp-commerce-mock", uid: app.metadata.uid });
    }
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
    const secretsBefore = (await scenario.appSecrets()).map((s) => `${s.metadata.name}@${s.metadata.resourceVersion}`);
    const cc = await scenario.connection();
    await scenario.waitForState("Synchronized", 30_000, cc?.status?.synchronizationStatus?.lastAttempt ?? undefined);
    await scenario.waitForNextCycle("Synchronized", 30_000);
    const after = await scenario.managedApplications();
    expect(after.map((a) => a.resourceVersion)).toEqual(before.map((a) => a.resourceVersion));
    expect((await scenario.appSecrets()).map((s) => `${s.metadata.name}@${s.metadata.resourceVersion}`)).toEqual(secretsBefore);
  });

  test("applications added, changed and removed in Compass are reflected", async () => {
    const id = await scenario.addApplication({ name: "new-app", description: "first" });
    await waitFor("new application", async () => ((await scenario.managedApplications()).some((a) => a.name === "mp-new-app") ? true : undefined));
    await scenario.admin.call("PATCH", `/admin/applications/${id}`, { description: "second" });
    await waitFor("changed description", async () =>
      (await scenario.managedApplications()).find((a) => a.name === "mp-new-app")?.spec.description === "second" ? true : undefined,
    );
    await scenario.admin.removeApplication(id);
    await waitFor("removed application", async () => ((await scenario.managedApplications()).some((a) => a.name === "mp-new-app") ? undefined : true));
  });

  test("an application unassigned from the runtime's formation is removed with its Secrets", async () => {
    const crm = (await scenario.admin.call<{ applications: { id: string; name: string }[] }>("GET", "/admin/applications")).applications.find((a) => a.name === "crm")!;
    expect((await scenario.appSecrets()).some((s) => s.metadata.labels?.["app"] === "mp-crm")).toBe(true);
    await scenario.admin.call("POST", "/admin/formations/unassign", { formation: FORMATION, applicationId: crm.id });
    await waitFor("crm removed", async () => ((await scenario.managedApplications()).some((a) => a.name === "mp-crm") ? undefined : true));
    expect((await scenario.appSecrets()).some((s) => s.metadata.labels?.["app"] === "mp-crm")).toBe(false);
    expect((await scenario.managedApplications()).map((a) => a.name).sort()).toEqual(["mp-commerce-mock", "mp-erp-42"]);
  });

  test("no secret value reaches the agent's logs, the Events or the CR", async () => {
    const logs = agent.output();
    for (const secret of ["p4ss-w0rd-e2e", "s3cr3t-e2e-value", "BEGIN RSA PRIVATE KEY", "BEGIN PRIVATE KEY"]) expect(logs).not.toContain(secret);
    const watch = new SecretWatch(scenario);
    watch.add("p4ss-w0rd-e2e", "s3cr3t-e2e-value");
    expect(await watch.scan()).toEqual([]);
  });
});

describe("shutdown", () => {
  test("SIGTERM stops the agent within 10 s", async () => {
    const { code } = await agent.stop("SIGTERM");
    // The CLI's own 10 s shutdown deadline would have ended it with 1 and said so.
    expect(code).toBe(0);
    expect(agent.output()).toMatch(/runtime-agent stopped/);
    expect(agent.output()).not.toMatch(/shutdown took longer than 10 s/);
  });
});
