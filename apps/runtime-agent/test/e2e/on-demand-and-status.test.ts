import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { CLIENT_SECRET, CONFIG_SECRET, Scenario } from "../support/scenario.js";

// A long sync period (60 s) and a short minimal sync time (1 s): whatever happens within seconds can only have been
// caused by the watches, not by the periodic resync.
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;

const SYNC_PERIOD = "60s";

async function certificateInSecret(): Promise<X509Certificate> {
  const secret = await scenario.store.secrets.get(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
  return new X509Certificate(secret.data["crt"] ?? "");
}

/** Second-precision RFC 3339, as the agent writes timestamps. */
function seconds(date: string): string {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, "Z");
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  secrets.add("p4ss-on-demand");
  await scenario.addApplication({
    name: "orders",
    bundles: [{ name: "b", apiDefinitions: [{ name: "api", targetURL: "https://o.example.com" }], defaultInstanceAuth: { credential: { username: "u", password: "p4ss-on-demand" } } }],
  });
  agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv({ APP_CONTROLLER_SYNC_PERIOD: SYNC_PERIOD }) });
  await scenario.waitForState("Synchronized");
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("between cycles", () => {
  test("the agent's own status writes do not start extra cycles: no Compass call until the sync period is due", async () => {
    // Let the pairing cycle and whatever its own writes trigger settle.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const mark = scenario.mark();
    const rv = (await scenario.connection())?.metadata.resourceVersion;
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(scenario.requestsSince(mark).map((r) => r.operations.join(","))).toEqual([]);
    expect((await scenario.connection())?.metadata.resourceVersion).toBe(rv);
  });
});

describe("spec.resyncNow", () => {
  test("starts a full cycle within a second and is reset to false", async () => {
    const before = await scenario.connection();
    const mark = scenario.mark();
    const started = Date.now();
    await scenario.patchSpec({ resyncNow: true });
    const cc = await waitFor(
      "resyncNow handled",
      async () => {
        const current = await scenario.connection();
        return current?.spec.resyncNow === false && current.status?.synchronizationStatus?.lastAttempt !== before?.status?.synchronizationStatus?.lastAttempt
          ? current
          : undefined;
      },
      20_000,
      50,
    );
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(3_000); // "within a second", with a generous margin; the period is 60 s
    expect(cc.status?.connectionState).toBe("Synchronized");
    expect(scenario.countOperation(mark, "configuration", "connector")).toBe(1);
    expect(scenario.countOperation(mark, "applicationsForRuntime", "director")).toBeGreaterThanOrEqual(1);
  });

  test("after the triggered cycle the agent is quiet again", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const mark = scenario.mark();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(scenario.requestsSince(mark)).toHaveLength(0);
  });
});

describe("config Secret", () => {
  test("a change (RUNTIME_ID) takes effect within seconds, and so does the fix", async () => {
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { RUNTIME_ID: "" });
    let started = Date.now();
    const failed = await scenario.waitForState("SynchronizationFailed", 20_000);
    expect(Date.now() - started).toBeLessThan(5_000); // minimal sync time 1 s; the period (60 s) cannot explain it
    expect(failed.status?.synchronizationStatus?.error).toMatch(/RUNTIME_ID/);
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { RUNTIME_ID: scenario.runtimeId });
    started = Date.now();
    await scenario.waitForState("Synchronized", 20_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("spec.refreshCredentialsNow", () => {
  test("renews within a second: new certificate in the Secret, status renewed and certificateStatus in the same cycle, flag reset", async () => {
    const oldCert = await certificateInSecret();
    const before = await scenario.connection();
    const mark = scenario.mark();
    const started = Date.now();
    await scenario.patchSpec({ refreshCredentialsNow: true });
    const newCert = await waitFor(
      "a new certificate in the Secret",
      async () => {
        const cert = await certificateInSecret();
        return cert.fingerprint256 !== oldCert.fingerprint256 ? cert : undefined;
      },
      20_000,
      50,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    // The status of that same cycle: no later cycle is due for a minute.
    const cc = await waitFor(
      "renewal in the status",
      async () => {
        const current = await scenario.connection();
        return current?.status?.connectionStatus?.renewed ? current : undefined;
      },
      5_000,
      50,
    );
    const status = cc.status!.connectionStatus!;
    expect(cc.spec.refreshCredentialsNow).toBe(false);
    expect(status.renewed).toBeTruthy();
    expect(status.certificateStatus.notAfter).toBe(seconds(newCert.validTo));
    expect(status.certificateStatus.notBefore).toBe(seconds(newCert.validFrom));
    expect(status.certificateStatus.acquired).toBe(status.renewed);
    expect(status.established).toBe(before?.status?.connectionStatus?.established);
    expect(cc.status?.connectionState).toBe("Synchronized");
    // One renewal over mTLS, no token used.
    const requests = scenario.requestsSince(mark);
    expect(requests.filter((r) => r.operations.includes("signCertificateSigningRequest"))).toHaveLength(1);
    expect(requests.every((r) => r.listener === "mtls")).toBe(true);
    // The CA Secret was rewritten for the new certificate too.
    expect(await scenario.clientCertificateFingerprint()).toBeTruthy();
  });
});

describe("status persistence under concurrent writers", () => {
  test("another writer updating labels and annotations all the time loses nothing, and neither does the agent", async () => {
    let stop = false;
    let written = 0;
    const writer = (async () => {
      while (!stop) {
        written++;
        const n = written;
        await scenario.store.compassConnections.mutate(
          DEFAULT_COMPASS_CONNECTION_NAME,
          (draft) => {
            draft.metadata.labels = { ...draft.metadata.labels, "e2e/writer": String(n % 7) };
            draft.metadata.annotations = { ...draft.metadata.annotations, "e2e/counter": String(n) };
          },
          { attempts: 50 },
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      for (let round = 0; round < 3; round++) {
        const certBefore = await certificateInSecret();
        const before = (await scenario.connection())?.status?.synchronizationStatus?.lastAttempt;
        await new Promise((resolve) => setTimeout(resolve, 1_100)); // a new second for the timestamps
        await scenario.patchSpec(round === 1 ? { refreshCredentialsNow: true } : { resyncNow: true });
        const cc = await waitFor(
          `round ${round} persisted`,
          async () => {
            const current = await scenario.connection();
            const attempted = current?.status?.synchronizationStatus?.lastAttempt;
            return attempted && attempted !== before && !current.spec.resyncNow && !current.spec.refreshCredentialsNow ? current : undefined;
          },
          20_000,
          50,
        );
        expect(cc.status?.connectionState).toBe("Synchronized");
        if (round === 1) {
          const certAfter = await certificateInSecret();
          expect(certAfter.fingerprint256).not.toBe(certBefore.fingerprint256);
          expect(cc.status?.connectionStatus?.renewed).toBe(cc.status?.synchronizationStatus?.lastAttempt);
          expect(cc.status?.connectionStatus?.certificateStatus.notAfter).toBe(seconds(certAfter.validTo));
        }
      }
    } finally {
      stop = true;
      await writer;
    }
    const cc = await scenario.connection();
    expect(cc?.metadata.annotations?.["e2e/counter"]).toBe(String(written));
    expect(cc?.metadata.labels?.["e2e/writer"]).toBe(String(written % 7));
    expect(written).toBeGreaterThan(20);
    expect(agent.output()).not.toMatch(/reconcile failed/);
  });
});

describe("management-plane URLs", () => {
  test("an operator's edit of spec.managementInfo during a cycle is not overwritten by it; the Connector's URLs then replace it", async () => {
    // The CR is pointed at the same simulator under another name (localhost; its server certificate covers it)
    // while a cycle hangs in the Director. That cycle must not write its stale copy of the URLs back; the next one
    // checks the connection at the edited URL, and the Connector answers with its own URLs (127.0.0.1), which
    // then replace the spec's.
    const edited = {
      connectorUrl: scenario.sim.certSecuredConnectorUrl.replace("127.0.0.1", "localhost"),
      directorUrl: scenario.sim.directorUrl.replace("127.0.0.1", "localhost"),
    };
    expect(edited.connectorUrl).not.toBe(scenario.sim.certSecuredConnectorUrl);
    await scenario.admin.call("POST", "/admin/faults", { target: "director", delayMs: 3_000, times: 2 });
    const mark = scenario.mark();
    await scenario.patchSpec({ resyncNow: true });
    await waitFor("the cycle's Connector check", async () => (scenario.countOperation(mark, "configuration", "connector") > 0 ? true : undefined), 10_000, 20);
    const editedAt = Date.now();
    await scenario.patchSpec({ managementInfo: edited });
    const cc = await waitFor(
      "managementInfo taken from the Connector",
      async () => {
        const current = await scenario.connection();
        return current?.spec.managementInfo.connectorUrl === scenario.sim.certSecuredConnectorUrl && current.spec.resyncNow === false ? current : undefined;
      },
      20_000,
      50,
    );
    expect(cc.spec.managementInfo).toEqual({ connectorUrl: scenario.sim.certSecuredConnectorUrl, directorUrl: scenario.sim.directorUrl });
    // Restored because the agent saw the edit and the Connector's answer, not because the slow cycle wrote its copy.
    const line = await agent.waitForLog((l) => l.msg === "Compass returned new management-plane URLs" && Date.parse(String(l.time)) >= editedAt, 10_000);
    expect(line["connectorUrl"]).toBe(scenario.sim.certSecuredConnectorUrl);
    await scenario.waitForState("Synchronized", 10_000);
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events or the CR", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
