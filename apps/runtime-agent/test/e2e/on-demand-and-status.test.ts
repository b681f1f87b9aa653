import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { DirectorGate } from "../support/director-gate.js";
import { SecretWatch } from "../support/leaks.js";
import { CLIENT_SECRET, CONFIG_SECRET, Scenario } from "../support/scenario.js";

// A sync period of an hour and a short minimal sync time (1 s): every cycle after the first one in this file can only
// have been started by the watches, never by the periodic resync. No test measures how long anything took.
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;
const gate = new DirectorGate();

const SYNC_PERIOD = "1h";

async function certificateInSecret(): Promise<X509Certificate> {
  const secret = await scenario.store.secrets.get(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
  return new X509Certificate(secret.data["crt"] ?? "");
}

/** Second-precision RFC 3339, as the agent writes timestamps. */
function seconds(date: string): string {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, "Z");
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"), { director: gate.factory });
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
  gate.open();
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
  test("starts a full cycle at once (the watch, not the 1 h sync period) and is reset to false", async () => {
    const before = await scenario.connection();
    const mark = scenario.mark();
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
  test("a change (RUNTIME_ID) takes effect without waiting for the sync period (the watch), and so does the fix", async () => {
    // The next regular cycle is an hour away: only the watch on the config Secret can start these cycles.
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { RUNTIME_ID: "" });
    const failed = await scenario.waitForState("SynchronizationFailed", 20_000);
    expect(failed.status?.synchronizationStatus?.error).toMatch(/RUNTIME_ID/);
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { RUNTIME_ID: scenario.runtimeId });
    await scenario.waitForState("Synchronized", 20_000);
  });
});

describe("spec.refreshCredentialsNow", () => {
  test("renews at once (the watch): new certificate in the Secret, status renewed and certificateStatus in the same cycle, flag reset", async () => {
    const oldCert = await certificateInSecret();
    const before = await scenario.connection();
    const mark = scenario.mark();
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
    // The status of that same cycle: no later cycle is due for an hour.
    const cc = await waitFor(
      "renewal in the status",
      async () => {
        const current = await scenario.connection();
        return current?.status?.connectionStatus?.renewed ? current : undefined;
      },
      20_000,
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
        const writtenBefore = written;
        const certBefore = await certificateInSecret();
        const before = (await scenario.connection())?.status?.synchronizationStatus?.lastAttempt;
        await new Promise((resolve) => setTimeout(resolve, 1_100)); // a new second for the timestamps
        await scenario.patchSpec(round === 1 ? { refreshCredentialsNow: true } : { resyncNow: true });
        const cc = await waitFor(
          `round ${round} persisted`,
          async () => {
            const current = await scenario.connection();
            const attempted = current?.status?.synchronizationStatus?.lastAttempt;
            // Also: the other writer wrote while this round's cycle ran (it writes without pause).
            return attempted && attempted !== before && !current.spec.resyncNow && !current.spec.refreshCredentialsNow && written > writtenBefore ? current : undefined;
          },
          20_000,
          50,
        );
        expect(cc.status?.connectionState).toBe("Synchronized");
        if (round === 1) {
          const certAfter = await certificateInSecret();
          expect(certAfter.fingerprint256).not.toBe(certBefore.fingerprint256);
          // Stamped by this round's cycle. A cycle the renewal's own Secret writes trigger may have run since (a
          // second later, past APP_MINIMAL_COMPASS_SYNC_TIME on a loaded machine): lastAttempt is then newer.
          const renewed = cc.status?.connectionStatus?.renewed ?? "";
          expect(renewed > (before ?? "") && renewed <= (cc.status?.synchronizationStatus?.lastAttempt ?? "")).toBe(true);
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
    expect(agent.output()).not.toMatch(/reconcile failed/);
  });
});

describe("management-plane URLs", () => {
  test("an operator's edit of spec.managementInfo during a cycle is not overwritten by it; the Connector's URLs then replace it", async () => {
    // The CR is pointed at the same simulator under another name (localhost; its server certificate covers it)
    // while a cycle is held in the Director (the gate). That cycle must not write its stale copy of the URLs back;
    // the next one, started by the edit, checks the connection at the edited URL, and the Connector answers with
    // its own URLs (127.0.0.1), which then replace the spec's.
    const edited = {
      connectorUrl: scenario.sim.certSecuredConnectorUrl.replace("127.0.0.1", "localhost"),
      directorUrl: scenario.sim.directorUrl.replace("127.0.0.1", "localhost"),
    };
    const compass = { connectorUrl: scenario.sim.certSecuredConnectorUrl, directorUrl: scenario.sim.directorUrl };
    expect(edited.connectorUrl).not.toBe(compass.connectorUrl);
    const newUrlLines = () => agent.logs().filter((l) => l.msg === "Compass returned new management-plane URLs");
    const linesBefore = newUrlLines().length;
    gate.close();
    try {
      const mark = scenario.mark();
      await scenario.patchSpec({ resyncNow: true });
      const slow = await waitFor("the cycle held in the Director", async () => gate.held[0], 20_000, 20);
      // It checked the connection before the edit, with the URLs it read then.
      expect(scenario.countOperation(mark, "configuration", "connector")).toBe(1);
      await scenario.patchSpec({ managementInfo: edited });
      gate.pass(slow);

      // Cycles run one at a time: once the next cycle (the edit's) is in the Director, the slow one has written
      // its status. The edit is still there, and the slow cycle reset resyncNow (it was Synchronized).
      // (Had the slow cycle written its copy back, no cycle would follow: stop waiting then, and fail below.)
      const next = await waitFor(
        "the next cycle held in the Director",
        async () => gate.held.find((id) => id !== slow) ?? ((await scenario.connection())?.spec.managementInfo.connectorUrl !== edited.connectorUrl ? "none" : undefined),
        20_000,
        20,
      );
      const between = await scenario.connection();
      expect(between?.spec.managementInfo).toEqual(edited);
      expect(between?.spec.resyncNow).toBe(false);
      expect(between?.status?.connectionState).toBe("Synchronized");
      // The next cycle found the edited URLs and took the Connector's instead (before its Director calls).
      const line = await agent.waitForLog((l) => l.msg === "Compass returned new management-plane URLs" && l["reconcileId"] === next, 20_000);
      expect(line["connectorUrl"]).toBe(compass.connectorUrl);
      expect(newUrlLines()).toHaveLength(linesBefore + 1);
      gate.pass(next);
    } finally {
      gate.open();
    }
    const cc = await waitFor(
      "managementInfo taken from the Connector",
      async () => {
        const current = await scenario.connection();
        return current?.spec.managementInfo.connectorUrl === compass.connectorUrl ? current : undefined;
      },
      20_000,
      50,
    );
    expect(cc.spec.managementInfo).toEqual(compass);
    await scenario.waitForState("Synchronized", 20_000);
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events or the CR", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
