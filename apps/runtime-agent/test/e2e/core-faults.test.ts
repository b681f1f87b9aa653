import { startFaultProxy } from "@runtime-agent/kube-testenv";
import type { FaultProxy } from "@runtime-agent/kube-testenv";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import { InProcessAgent } from "../support/in-process.js";
import { CONFIG_SECRET, Scenario } from "../support/scenario.js";

// One Kubernetes request failing at the wrong moment must not cost a one-time token nor park the agent. The agent
// runs in this process with an injected clock and talks to the real kube-apiserver through kube-testenv's
// fault-injecting proxy, which fails exactly the request a test names.
let scenario: Scenario;
let proxy: FaultProxy;
let agent: InProcessAgent;

const CLIENT_CERT_SECRETS = "/api/v1/namespaces/kyma-system/secrets";
const CRS = "/apis/compass.kyma-project.io/v1alpha1/compassconnections";
const FIVE_MINUTES = 5 * 60_000;

const tokenCalls = (mark: number) => scenario.requestsSince(mark).filter((r) => r.listener === "token");

async function fresh(): Promise<void> {
  await scenario.store.compassConnections.delete().catch(() => undefined);
  for (const ns of ["kyma-system", "istio-system"]) {
    for (const secret of await scenario.store.secrets.list(ns)) {
      if (secret.metadata.name !== CONFIG_SECRET.name) await scenario.store.secrets.delete(ns, secret.metadata.name);
    }
  }
  agent = await InProcessAgent.start(scenario, await proxy.kubeconfigFor(inject("agentKubeconfig")));
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  proxy = await startFaultProxy({ kubeconfig: inject("agentKubeconfig") });
  await scenario.addApplication({ name: "erp" });
});

afterEach(async () => {
  proxy.disarm();
  await agent?.close();
});

afterAll(async () => {
  await proxy?.close();
  await scenario?.close();
});

describe("a spent token is never lost to a transient Kubernetes error", () => {
  test("the client certificate Secret's write fails once after pairing: kept in memory, stored by the next cycle, the token sent once", async () => {
    await fresh();
    await scenario.writeConfigSecret();
    const mark = scenario.mark();
    const rule = proxy.arm({ method: "POST", path: CLIENT_CERT_SECRETS, nth: 1, fault: { kind: "status", status: 503 } });
    const first = await agent.cycle();
    await rule.hit;
    const failed = await scenario.connection();
    expect(failed?.status?.connectionState).toBe("ConnectionFailed");
    expect(failed?.status?.connectionStatus?.error).toMatch(/Paired with Compass, but storing the client certificate in the Secrets failed: .*no new token is needed/);
    expect(first.requeueAfterMs).toBeLessThan(FIVE_MINUTES);

    await agent.cycleAfter(first);
    expect((await scenario.connection())?.status?.connectionState).toBe("Synchronized");
    expect(await scenario.clientCertificateFingerprint()).toBe(agent.session.credentials?.fingerprint);
    expect(tokenCalls(mark).map((r) => r.operations[0])).toEqual(["configuration", "signCertificateSigningRequest"]);
  });

  test("creating the CompassConnection fails once after pairing: the next cycle creates it with the same certificate, the token sent once", async () => {
    await fresh();
    await scenario.writeConfigSecret();
    const mark = scenario.mark();
    proxy.arm({ method: "POST", path: CRS, nth: 1, fault: { kind: "status", status: 500 } });
    await expect(agent.cycle()).rejects.toThrow();
    expect(await scenario.connection()).toBeUndefined();
    const stored = await scenario.clientCertificateFingerprint();
    expect(stored).toBeTruthy();

    agent.advance(1_000);
    await agent.cycle();
    const cc = await scenario.connection();
    expect(cc?.status?.connectionState).toBe("Synchronized");
    expect(cc?.status?.connectionStatus?.established).toBeTruthy();
    expect(await scenario.clientCertificateFingerprint()).toBe(stored);
    expect(tokenCalls(mark)).toHaveLength(2);
    // The pairing is done with: the cycles after it maintain the connection, they do not store it again.
    agent.advance(agent.config.controllerSyncPeriod);
    await agent.cycle();
    expect((await scenario.connection())?.status?.connectionStatus?.established).toBe(cc?.status?.connectionStatus?.established);
  });
});

describe("a restart between storing the certificate and creating the CompassConnection", () => {
  test("the next process uses the certificate with the Compass URLs stored with it: Synchronized, no second token", async () => {
    await fresh();
    await scenario.writeConfigSecret();
    const mark = scenario.mark();
    proxy.arm({ method: "POST", path: CRS, nth: 1, fault: { kind: "status", status: 500 } });
    await expect(agent.cycle()).rejects.toThrow();
    const stored = await scenario.clientCertificateFingerprint();
    expect(stored).toBeTruthy();
    expect(await scenario.connection()).toBeUndefined();

    // A new process: nothing in memory, only what the cluster holds.
    await agent.close();
    agent = await InProcessAgent.start(scenario, await proxy.kubeconfigFor(inject("agentKubeconfig")));
    await agent.cycle();
    const cc = await scenario.connection();
    expect(cc?.status?.connectionState).toBe("Synchronized");
    expect(cc?.spec.managementInfo).toEqual({ connectorUrl: scenario.sim.certSecuredConnectorUrl, directorUrl: scenario.sim.directorUrl });
    expect(cc?.status?.connectionStatus?.established).toBeTruthy();
    expect(await scenario.clientCertificateFingerprint()).toBe(stored);
    expect(tokenCalls(mark).map((r) => r.operations[0])).toEqual(["configuration", "signCertificateSigningRequest"]);
  });
});

describe("the configuration Secret", () => {
  test("cannot be read now (API server error) is not 'missing': said so and retried with a short backoff", async () => {
    await fresh();
    await scenario.writeConfigSecret();
    proxy.arm({ method: "GET", path: `/api/v1/namespaces/${CONFIG_SECRET.namespace}/secrets/${CONFIG_SECRET.name}`, nth: 1, fault: { kind: "status", status: 500 } });
    const mark = scenario.mark();
    const first = await agent.cycle();
    const cc = await scenario.connection();
    expect(cc?.status?.connectionState).toBe("ConnectionFailed");
    expect(cc?.status?.connectionStatus?.error).toMatch(/Cannot read the configuration Secret kyma-system\/compass-agent-configuration now: K8S_/);
    expect(first.requeueAfterMs).toBeLessThan(10_000);
    expect(tokenCalls(mark)).toHaveLength(0);

    await agent.cycleAfter(first);
    expect((await scenario.connection())?.status?.connectionState).toBe("Synchronized");
  });

  test("missing: waited for (the Secret is watched), no backoff loop", async () => {
    await fresh();
    const saved = (await scenario.store.secrets.get(CONFIG_SECRET.namespace, CONFIG_SECRET.name)).data;
    await scenario.store.secrets.delete(CONFIG_SECRET.namespace, CONFIG_SECRET.name);
    try {
      const outcome = await agent.cycle();
      expect((await scenario.connection())?.status?.connectionStatus?.error).toBe(`Failed to read the configuration Secret ${CONFIG_SECRET.namespace}/${CONFIG_SECRET.name}`);
      expect(outcome.requeueAfterMs).toBe(FIVE_MINUTES);
    } finally {
      await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, saved);
    }
  });
});

describe("status", () => {
  test("shows the certificate in use, also when the status write after a renewal was lost", async () => {
    await fresh();
    await scenario.writeConfigSecret();
    await agent.cycle();
    await scenario.patchSpec({ refreshCredentialsNow: true });
    agent.advance(agent.config.controllerSyncPeriod);
    await agent.cycle();
    const renewed = agent.session.credentials;
    expect(renewed).toBeDefined();
    // The write that would have recorded the renewal is lost: the status still shows the old certificate.
    await scenario.store.compassConnections.mutate("compass-connection", (draft) => {
      if (draft.status?.connectionStatus) draft.status.connectionStatus.certificateStatus = { acquired: "2020-01-01T00:00:00Z", notBefore: "2020-01-01T00:00:00Z", notAfter: "2020-04-01T00:00:00Z" };
    });
    agent.advance(agent.config.controllerSyncPeriod);
    await agent.cycle();
    const shown = (await scenario.connection())?.status?.connectionStatus?.certificateStatus;
    expect(Date.parse(shown?.notAfter ?? "")).toBe(Math.floor((renewed?.notAfter.getTime() ?? 0) / 1000) * 1000);
    expect(Date.parse(shown?.notBefore ?? "")).toBe(Math.floor((renewed?.notBefore.getTime() ?? 0) / 1000) * 1000);
  });
});
