import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { certificateFingerprint, FINGERPRINT_ANNOTATION } from "@runtime-agent/k8s-store";
import { startFaultProxy } from "@runtime-agent/kube-testenv";
import type { FaultProxy, ProxiedRequest } from "@runtime-agent/kube-testenv";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { ApiServerProxy, metricSum, recordStates, sleep } from "../support/reliability.js";
import { CA_SECRET, CLIENT_SECRET, Scenario } from "../support/scenario.js";

// Reliability matrix, Kubernetes faults (docs/reliability.md): the API server unreachable (a TCP proxy in front of
// the real kube-apiserver cuts every connection and refuses new ones, as a stopped API server does), objects edited
// or deleted by hand, a crash between the two credential Secret writes, a concurrent writer on an Application. The
// last two reach the API server through kube-testenv's fault proxy, which holds or delays one chosen request and
// records every request with the API server's answer.
let scenario: Scenario;
let agent: AgentProcess;
let proxy: ApiServerProxy;
let faults: FaultProxy;
let faultsKubeconfig: string;
let leaks: SecretWatch;
let crmId: string;

const PASSWORD = "rel-k8s-p4ssw0rd";
const APPS = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications";
const CR = "/apis/compass.kyma-project.io/v1alpha1/compassconnections/compass-connection";

function startAgent(): Promise<AgentProcess> {
  // The agent reaches the API server only through the proxy.
  return startAgentProcess({ kubeconfig: proxy.kubeconfigPath, env: scenario.agentEnv() });
}

async function applicationUids(): Promise<Map<string, string>> {
  return new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid ?? ""]));
}

async function description(name: string): Promise<string | undefined> {
  const res = await scenario.kube.request<{ spec: { description: string } }>("GET", `${APPS}/${name}`);
  return res.status === 200 ? res.body.spec.description : undefined;
}

/** The fingerprint annotations of the two credential Secrets, and the fingerprint of the certificate in the first. */
async function credentialAnnotations(): Promise<{ certificate: string; client: string | undefined; ca: string | undefined }> {
  const client = await scenario.store.secrets.get(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
  const ca = await scenario.store.secrets.get(CA_SECRET.namespace, CA_SECRET.name);
  return {
    certificate: certificateFingerprint(client.data["crt"] ?? ""),
    client: client.metadata.annotations?.[FINGERPRINT_ANNOTATION],
    ca: ca.metadata.annotations?.[FINGERPRINT_ANNOTATION],
  };
}

async function crmSecret() {
  const secrets = await scenario.appSecrets();
  expect(secrets).toHaveLength(1);
  return secrets[0]!;
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  leaks = new SecretWatch(scenario);
  leaks.add(PASSWORD);
  proxy = await ApiServerProxy.start(inject("agentKubeconfig"));
  faults = await startFaultProxy({ kubeconfig: inject("agentKubeconfig") });
  faultsKubeconfig = await faults.kubeconfigFor(inject("agentKubeconfig"));
  await scenario.addApplication({ name: "erp", description: "ERP" });
  crmId = await scenario.addApplication({
    name: "crm",
    description: "CRM",
    bundles: [{ name: "b", apiDefinitions: [{ name: "a", targetURL: "https://crm.example.com" }], defaultInstanceAuth: { credential: { username: "u", password: PASSWORD } } }],
  });
  agent = await startAgent();
  await scenario.waitForState("Synchronized");
  await leaks.remember();
});

afterAll(async () => {
  await killAllAgents();
  await proxy?.down();
  await faults?.close();
  await scenario?.close();
});

describe("API server unreachable", () => {
  test("stopped for 10 s while the agent runs: it stays up, reports K8S_UNAVAILABLE, deletes nothing, and applies what changed in Compass once it is back", async () => {
    const uids = await applicationUids();
    await proxy.down();
    // Meanwhile in Compass: a new application and a changed description.
    await scenario.addApplication({ name: "newcomer" });
    await scenario.admin.call("PATCH", `/admin/applications/${crmId}`, { description: "CRM, changed during the outage" });
    await sleep(10_000);
    expect(agent.exitStatus()).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${agent.healthPort}/healthz`)).status).toBe(200);
    expect(agent.output()).toMatch(/K8S_UNAVAILABLE/);
    // Nothing was deleted while the agent could not see the cluster.
    for (const [name, uid] of uids) expect((await applicationUids()).get(name)).toBe(uid);

    await proxy.up();
    await waitFor("caught up", async () => ((await description("mp-crm")) === "CRM, changed during the outage" && (await applicationUids()).has("mp-newcomer") ? true : undefined), 60_000);
    await scenario.waitForNextCycle("Synchronized", 30_000);
    const after = await applicationUids();
    for (const [name, uid] of uids) expect(after.get(name)).toBe(uid);
    expect([...after.keys()].sort()).toEqual(["mp-crm", "mp-erp", "mp-newcomer"]);
  });

  test("unreachable when the agent starts: it starts anyway, retries, and synchronizes once the API server is there", async () => {
    await leaks.captureMetrics();
    await agent.stop();
    await proxy.down();
    await scenario.addApplication({ name: "latecomer" });
    agent = await startAgent();
    await agent.waitForLog((l) => /K8S_UNAVAILABLE/.test(JSON.stringify(l)), 30_000);
    await sleep(3_000);
    expect(agent.exitStatus()).toBeUndefined();
    await proxy.up();
    await waitFor("latecomer", async () => ((await applicationUids()).has("mp-latecomer") ? true : undefined), 60_000);
    await scenario.waitForNextCycle("Synchronized", 30_000);
  });
});

describe("objects changed by hand", () => {
  test("an Application edited by hand is restored by the next cycle; labels somebody else added stay", async () => {
    await scenario.kube.ok(
      "PATCH",
      `${APPS}/mp-erp`,
      { metadata: { labels: { "example.com/team": "ops" } }, spec: { description: "edited by hand" } },
      "application/merge-patch+json",
    );
    await waitFor("restored", async () => ((await description("mp-erp")) === "ERP" ? true : undefined), 30_000);
    const app = await scenario.store.applications.get("mp-erp");
    expect(app.metadata.labels?.["example.com/team"]).toBe("ops");
  });

  test("an Application deleted by hand is recreated, and its credential Secret is owned by the new one", async () => {
    const before = await crmSecret();
    await scenario.kube.ok("DELETE", `${APPS}/mp-crm`);
    const recreated = await waitFor(
      "recreated",
      async () => {
        const app = (await scenario.store.applications.listManaged()).find((a) => a.metadata.name === "mp-crm");
        if (!app) return undefined;
        const secret = (await scenario.appSecrets())[0];
        return secret?.metadata.ownerReferences?.[0]?.uid === app.metadata.uid ? app : undefined;
      },
      30_000,
    );
    expect(recreated.metadata.uid).not.toBe(before.metadata.ownerReferences?.[0]?.uid);
    expect((await crmSecret()).data["password"]).toBe(PASSWORD);
  });

  test("an application's credential Secret deleted by hand is recreated; one corrupted by hand is restored", async () => {
    const secret = await crmSecret();
    await scenario.store.secrets.delete(secret.metadata.namespace ?? "kyma-system", secret.metadata.name);
    await waitFor("recreated", async () => ((await scenario.appSecrets())[0]?.data["password"] === PASSWORD ? true : undefined), 30_000);

    await scenario.store.secrets.upsertSecretKeys(secret.metadata.namespace ?? "kyma-system", secret.metadata.name, { password: "tampered", extra: "x" });
    await waitFor(
      "restored",
      async () => {
        const current = await crmSecret();
        return current.data["password"] === PASSWORD && current.data["extra"] === undefined ? true : undefined;
      },
      30_000,
    );
    // Restored for good: the next cycles write no Secret (the added key does not make the agent apply it every cycle).
    await scenario.waitForNextCycle("Synchronized", 30_000);
    const secretWrites = async () => metricSum(await agent.metrics(), "cra_kubernetes_writes_total", { kind: "Secret" });
    const before = await secretWrites();
    for (let i = 0; i < 2; i++) await scenario.waitForNextCycle("Synchronized", 30_000);
    expect(await secretWrites()).toBe(before);
  });

  test("the agent killed between writing the client certificate Secret and the CA Secret (the CA Secret still belongs to the previous certificate): the next start renews over mTLS and rewrites both, without a token", async () => {
    await leaks.captureMetrics();
    // From here on the agent reaches the API server through the fault proxy.
    await agent.stop();
    agent = await startAgentProcess({ kubeconfig: faultsKubeconfig, env: scenario.agentEnv() });
    await scenario.waitForNextCycle("Synchronized", 30_000);
    const before = await credentialAnnotations();
    expect(before.client).toBe(before.certificate);
    expect(before.ca).toBe(before.certificate);

    // The client certificate Secret deleted: the agent renews with the certificate it holds (F25) and writes both
    // Secrets. writeCredentials writes the client certificate Secret first; its second write, the update of the CA
    // Secret, is held by the proxy (never forwarded), and the agent is killed while it waits for the answer.
    const caWrite = faults.arm({ method: "PUT", path: `/api/v1/namespaces/${CA_SECRET.namespace}/secrets/${CA_SECRET.name}`, fault: { kind: "timeout" } });
    await scenario.store.secrets.delete(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
    await waitFor("the CA Secret's write held", async () => (caWrite.hits.length > 0 ? true : undefined), 60_000, 20);
    await agent.kill();
    caWrite.disarm();
    expect(caWrite.hits[0]?.forwarded).toBe(false);
    await leaks.remember(); // the key the killed agent wrote

    // What the kill left: a new certificate in the client certificate Secret, the CA Secret still annotated with the
    // previous one.
    const torn = await credentialAnnotations();
    expect(torn.certificate).not.toBe(before.certificate);
    expect(torn.client).toBe(torn.certificate);
    expect(torn.ca).toBe(before.certificate);

    const mark = scenario.mark();
    agent = await startAgentProcess({ kubeconfig: faultsKubeconfig, env: scenario.agentEnv() });
    const repaired = await waitFor("both Secrets annotated with one new certificate", async () => {
      const now = await credentialAnnotations();
      return now.certificate !== torn.certificate && now.client === now.certificate && now.ca === now.certificate ? now : undefined;
    });
    expect(repaired.certificate).not.toBe(before.certificate);
    // Renewed because the Secrets disagree (nothing else asked for a renewal): one CSR over mTLS with the
    // certificate from the Secret, no token.
    const renewing = agent.logs().filter((l) => l.msg === "renewing the client certificate");
    expect(renewing.map((l) => l["reason"])).toEqual(["credential Secrets disagree: the CA Secret was written for a different client certificate"]);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(0);
    const signed = scenario.requestsSince(mark).filter((r) => r.operations.includes("signCertificateSigningRequest"));
    expect(signed.map((r) => [r.identity?.via, r.certificateFingerprint])).toEqual([["certificate", torn.certificate]]);
    expect((await scenario.store.secrets.readCredentials({ clientCertificate: CLIENT_SECRET, caCertificate: CA_SECRET })).state).toBe("complete");
    await scenario.waitForState("Synchronized");
    await leaks.remember();
  });
});

describe("conflicts", () => {
  test("another writer patching a managed Application as fast as it can: the agent's update meets a real conflict, re-reads and re-applies in the same cycle; the writer's label stays", async () => {
    const crm = new RegExp(`^${APPS}/mp-crm(\\?|$)`);
    const conflictsBefore = metricSum(await agent.metrics(), "cra_kubernetes_requests_total", { resource: "applications", outcome: "K8S_CONFLICT" });
    let stop = false;
    let writes = 0;
    const writer = (async () => {
      while (!stop) {
        writes++;
        await scenario.kube.request("PATCH", `${APPS}/mp-crm`, { metadata: { labels: { "example.com/writer": String(writes) } } }, "application/merge-patch+json");
      }
    })();
    const states = recordStates(scenario);
    // The agent's next update of mp-crm (read → merge → PUT with the read resourceVersion) waits 3 s in the proxy
    // before it is forwarded; the writer changes the Application meanwhile, so the API server itself answers 409.
    const held = faults.arm({ method: "PUT", path: crm, fault: { kind: "delay", ms: 3_000 } });
    let conflicted: ProxiedRequest;
    try {
      await sleep(500);
      await scenario.admin.call("PATCH", `/admin/applications/${crmId}`, { description: "CRM, changed under a concurrent writer" });
      conflicted = await waitFor("the held update answered", async () => (held.hits[0]?.state === "answered" ? held.hits[0] : undefined), 60_000, 20);
    } finally {
      // The writer stops once that conflict is answered (one patch of it may still be under way): the retries
      // then succeed within the attempts retryOnConflict allows.
      stop = true;
      await writer;
      held.disarm();
    }
    expect(conflicted.upstreamStatus).toBe(409);
    await waitFor("the change landed", async () => ((await description("mp-crm")) === "CRM, changed under a concurrent writer" ? true : undefined), 60_000);
    await scenario.waitForNextCycle("Synchronized", 30_000);
    const seen = await states.stop();

    // In the proxy's log, in the cycle of the conflict (before that cycle's status write): the Application read
    // again and written again, the last write accepted.
    const statusWrite = faults.requests.find((r) => r.seq > conflicted.seq && r.method === "PUT" && r.path.startsWith(CR));
    expect(statusWrite, "the cycle's status write").toBeDefined();
    const retried = faults.requests.filter((r) => r.seq > conflicted.seq && r.seq < statusWrite!.seq && crm.test(r.path)).map((r) => `${r.method} ${r.status}`);
    expect(retried.join(", "), "mp-crm requests after the 409, up to the cycle's status write").toMatch(/^(GET 200, PUT 409, )*GET 200, PUT 200$/);
    // The agent counted the conflict; the application never failed for it.
    const conflicts = metricSum(await agent.metrics(), "cra_kubernetes_requests_total", { resource: "applications", outcome: "K8S_CONFLICT" }) - conflictsBefore;
    expect(conflicts).toBeGreaterThanOrEqual(1);
    expect(seen.filter((s) => s.state !== "Synchronized")).toEqual([]);
    // The merge kept what the other writer set.
    const app = await scenario.store.applications.get("mp-crm");
    expect(app.metadata.labels?.["example.com/writer"]).toBe(String(writes));
  });
});

describe("hygiene", () => {
  test("the agent never crashed; no key, token or password in the logs, Events, the CR or /metrics", async () => {
    expect(agent.exitStatus()).toBeUndefined();
    expect(await leaks.scan()).toEqual([]);
  });
});
