import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { InProcessAgent } from "../support/in-process.js";
import { SecretWatch } from "../support/leaks.js";
import { CA_SECRET, CLIENT_SECRET, CONFIG_SECRET, Scenario } from "../support/scenario.js";
import type { SimRequest } from "../support/scenario.js";

// Connection failures and the token flow: backoff, refused tokens, revoked and expired certificates, a deleted CR.
// The agent process runs with a sync period of an hour: the retries it schedules by itself (a refused token waits at
// least two sync periods) are hours away, so whatever it does within a test was caused by a watch. No test measures
// how long anything took; the backoff of the Connector retries is read from the reconciler in this process.
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;
/** Position in the simulator's request log when the agent process started. */
let processStart = 0;

const SYNC_PERIOD = "1h";

function startAgent(): Promise<AgentProcess> {
  return startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv({ APP_CONTROLLER_SYNC_PERIOD: SYNC_PERIOD }) });
}

const connectorCalls = (requests: SimRequest[]) => requests.filter((r) => r.api === "connector");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function events(reason: string) {
  return (await scenario.kube.events("default")).filter((e) => e.reason === reason && e.involvedObject.kind === "CompassConnection");
}

async function setToken(token: string): Promise<void> {
  await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { TOKEN: token });
}

/** Asserts that no further Connector call and no further CR write happen for `ms`. */
async function expectQuiet(ms: number): Promise<void> {
  const mark = scenario.mark();
  const rv = (await scenario.connection())?.metadata.resourceVersion;
  await sleep(ms);
  expect(connectorCalls(scenario.requestsSince(mark))).toHaveLength(0);
  expect((await scenario.connection())?.metadata.resourceVersion).toBe(rv);
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  await scenario.addApplication({ name: "erp" });
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("Connector unavailable", () => {
  test("ConnectionFailed with the cause, retried with a growing backoff, then connects once the Connector is back", async () => {
    // First in this file, before the agent process starts: the reconciler in this process (sync period 2 s), against
    // the same simulator and API server. Each cycle is called and says when it wants the next one; the loop waits
    // exactly that (src/controller/loop.test.ts).
    const inProcess = await InProcessAgent.start(scenario, inject("agentKubeconfig"));
    try {
      await scenario.admin.call("POST", "/admin/faults", { target: "connector", status: 503, times: 1000 });
      const mark = scenario.mark();
      await scenario.writeConfigSecret();
      // Backoff from 1 s, doubling up to the cap (max(sync period, 60 s)), with the mid-point jitter (random = 0.5):
      // three quarters of each ceiling. One Connector call per cycle, never a retry inside a cycle.
      const waits: number[] = [];
      for (let i = 0; i < 8; i++) {
        const before = connectorCalls(scenario.requestsSince(mark)).length;
        const outcome = await inProcess.cycle();
        expect(connectorCalls(scenario.requestsSince(mark))).toHaveLength(before + 1);
        const cc = await scenario.connection();
        expect(cc?.status?.connectionState).toBe("ConnectionFailed");
        expect(cc?.status?.connectionStatus?.error).toMatch(/CONNECTOR_UNAVAILABLE/);
        waits.push(outcome.requeueAfterMs);
      }
      expect(waits).toEqual([750, 1_500, 3_000, 6_000, 12_000, 24_000, 45_000, 45_000]);
      expect(connectorCalls(scenario.requestsSince(mark)).every((r) => r.fault !== undefined)).toBe(true);

      await scenario.admin.call("DELETE", "/admin/faults");
      // The token was never burned (the faults answer before authentication): the next retry connects.
      await inProcess.cycle();
      expect((await scenario.connection())?.status?.connectionState).toBe("Synchronized");
      expect(scenario.requestsSince(mark).filter((r) => r.listener === "token" && r.fault === undefined).map((r) => r.operations[0])).toEqual([
        "configuration",
        "signCertificateSigningRequest",
      ]);
      // The transition is reported as an Event (recorded right after the status is written).
      expect((await events("Synchronized")).some((e) => e.type === "Normal")).toBe(true);
    } finally {
      secrets.addText("the in-process agent's log", inProcess.logs.map((line) => JSON.stringify(line)).join("\n"));
      await inProcess.close();
      await scenario.admin.call("DELETE", "/admin/faults");
      // The rest of the file starts from no connection at all.
      await scenario.store.compassConnections.delete().catch(() => undefined);
      for (const { namespace, name } of [CLIENT_SECRET, CA_SECRET]) await scenario.store.secrets.delete(namespace, name);
    }
  });
});

describe("before the first connection", () => {
  test("no config Secret → ConnectionFailed naming the Secret; the process stays up", async () => {
    await scenario.store.secrets.delete(CONFIG_SECRET.namespace, CONFIG_SECRET.name);
    processStart = scenario.mark();
    agent = await startAgent();
    const cc = await scenario.waitForState("ConnectionFailed");
    expect(cc.status?.connectionStatus?.error).toBe(`Failed to read the configuration Secret ${CONFIG_SECRET.namespace}/${CONFIG_SECRET.name}`);
    await sleep(2_000);
    expect(agent.exitStatus()).toBeUndefined();
    // Ready without a certificate: /readyz is about the controller, not the connection (docs/operations.md).
    expect((await fetch(`http://127.0.0.1:${agent.healthPort}/readyz`)).status).toBe(200);
    expect(scenario.requestsSince(processStart).filter((r) => r.api !== undefined)).toHaveLength(0);
  });

  test("CONNECTOR_URL empty → ConnectionFailed naming it (the Secret is watched: at once)", async () => {
    await scenario.writeConfigSecret({ CONNECTOR_URL: "" });
    const cc = await waitFor("CONNECTOR_URL error", async () => {
      const current = await scenario.connection();
      return current?.status?.connectionStatus?.error?.includes("CONNECTOR_URL") ? current : undefined;
    });
    expect(cc.status?.connectionStatus?.error).toMatch(/CONNECTOR_URL in Secret kyma-system\/compass-agent-configuration is empty/);
    expect(scenario.requestsSince(processStart).filter((r) => r.api !== undefined)).toHaveLength(0);
  });
});

describe("revoked and expired certificates", () => {
  beforeAll(async () => {
    // Connected: a valid token in the config Secret (watched) pairs the agent process.
    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized", 60_000);
  });

  test("a revoked certificate → ConnectionFailed with a clear message; a fresh token recovers", async () => {
    const fingerprint = await scenario.clientCertificateFingerprint();
    expect(fingerprint).toBeTruthy();
    await scenario.admin.revoke(fingerprint!);
    await scenario.patchSpec({ resyncNow: true });
    const cc = await scenario.waitForState("ConnectionFailed", 20_000);
    const error = cc.status?.connectionStatus?.error ?? "";
    // Real Compass (and the simulator): HTTP 400 with an empty body for a revoked certificate. (The status may
    // already show the next attempt, which says only what to do about the token: the refusal is in the log.)
    await agent.waitForLog((l) => String(l.msg).includes("Compass did not accept the client certificate"));
    // The token in the Secret is the one this agent paired with: not sent again, and what to do is said.
    expect(error).toMatch(/was used by this agent to pair and cannot be used again: write a new TOKEN/);
    expect((await events("ConnectionFailed")).some((e) => e.type === "Warning")).toBe(true);
    await expectQuiet(3_000);

    await scenario.writeConfigSecret();
    const recovered = await scenario.waitForState("Synchronized", 20_000);
    const renewedFingerprint = await scenario.clientCertificateFingerprint();
    expect(renewedFingerprint).toBeTruthy();
    expect(renewedFingerprint).not.toBe(fingerprint);
    expect(recovered.status?.connectionStatus?.error).toBeUndefined();
  });

  test("a certificate expired for Compass (simulator clock advanced past notAfter) → ConnectionFailed, then the token flow recovers", async () => {
    const fingerprint = await scenario.clientCertificateFingerprint();
    const refusals = () => agent.logs().filter((l) => String(l.msg).includes("Compass did not accept the client certificate")).length;
    const before = refusals();
    await scenario.admin.advanceClock(91 * 24 * 3600);
    await scenario.patchSpec({ resyncNow: true });
    const cc = await scenario.waitForState("ConnectionFailed", 20_000);
    // The refusal is in the log; the status may already show the next attempt (the token is the spent one).
    await waitFor("the certificate refusal logged", async () => (refusals() > before ? true : undefined));
    expect(cc.status?.connectionStatus?.error).toMatch(/Compass did not accept the client certificate: CONNECTOR_NOT_AUTHENTICATED|was used by this agent to pair and cannot be used again/);
    await expectQuiet(3_000);

    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized", 20_000);
    expect(await scenario.clientCertificateFingerprint()).not.toBe(fingerprint);
    expect(agent.exitStatus()).toBeUndefined();
  });
});

describe("refused one-time tokens", () => {
  test("an invalid token → ConnectionFailed with a clear error; that token waits several sync periods before its retry", async () => {
    await setToken("this-is-not-a-valid-one-time-token");
    const mark = scenario.mark();
    await scenario.store.compassConnections.delete();
    const cc = await scenario.waitForState("ConnectionFailed", 20_000);
    expect(cc.status?.connectionStatus?.error).toMatch(/one-time token/);
    expect(cc.status?.connectionStatus?.error).toMatch(/did not accept|refused/);
    await sleep(3_000);
    // One attempt (configuration with the token), nothing after it for a while: the refused token is tried again
    // only after a backoff that starts at 5-10 s (two sync periods, at least 10 s, with jitter) — see
    // refused-credentials.test.ts for its growth and cap.
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(1);
    await expectQuiet(1_000);
    expect(agent.exitStatus()).toBeUndefined();
  });

  test("a new TOKEN in the config Secret is used at once (watch)", async () => {
    // The refused token put the next retry at least two sync periods (hours) away: only the watch explains this.
    const mark = scenario.mark();
    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized", 20_000);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token").map((r) => r.operations[0])).toEqual(["configuration", "signCertificateSigningRequest"]);
  });

  test("a CR deleted with the token this agent paired with in the Secret → the certificate goes on (the URLs are stored with it), the CR is recreated; the spent token is never sent", async () => {
    const before = await scenario.connection();
    const fingerprint = await scenario.clientCertificateFingerprint();
    const mark = scenario.mark();
    await scenario.store.compassConnections.delete();
    const cc = await waitFor("CR recreated", async () => {
      const current = await scenario.connection();
      return current && current.metadata.uid !== before?.metadata.uid && current.status?.connectionState === "Synchronized" ? current : undefined;
    });
    expect(cc.spec.managementInfo).toEqual({ connectorUrl: scenario.sim.certSecuredConnectorUrl, directorUrl: scenario.sim.directorUrl });
    expect(await scenario.clientCertificateFingerprint()).toBe(fingerprint);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(0);
  });
});

describe("pairing interrupted", () => {
  test("signing the CSR fails after configuration spent the token → ConnectionFailed, then the retry pairs with the token configuration returned", async () => {
    await scenario.admin.call("POST", "/admin/faults", { target: "connector", operation: "signCertificateSigningRequest", status: 503, times: 1 });
    const mark = scenario.mark();
    const failedLine = (l: { msg?: string; reason?: unknown }) => l.msg === "connection to Compass failed" && /503|unavailable|no healthy upstream/i.test(String(l.reason));
    const failedBefore = agent.logs().filter(failedLine).length;
    // A new pairing asked for: a new token, and the CR deleted (while the certificate works, a new token is kept).
    await scenario.writeConfigSecret();
    await scenario.store.compassConnections.delete();
    await waitFor("the failed signing logged", async () => (agent.logs().filter(failedLine).length > failedBefore ? true : undefined), 20_000);
    await scenario.waitForState("Synchronized", 30_000);
    const tokenCalls = scenario.requestsSince(mark).filter((r) => r.listener === "token");
    // configuration (spends the written token, returns a new one), signing (503), then configuration and signing
    // with the returned token: no operator needed.
    expect(tokenCalls.map((r) => (r.fault ? "fault" : r.operations[0]))).toEqual(["configuration", "fault", "configuration", "signCertificateSigningRequest"]);
    expect(new Set(tokenCalls.map((r) => r.identity?.systemAuthId).filter(Boolean)).size).toBe(1);
  });
});

describe("CR deleted", () => {
  test("with a fresh token first: the agent pairs again (new certificate) and recreates the CR", async () => {
    const oldFingerprint = await scenario.clientCertificateFingerprint();
    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized", 20_000);
    const before = await scenario.connection();
    const mark = scenario.mark();
    await scenario.writeConfigSecret();
    await scenario.store.compassConnections.delete();
    const cc = await waitFor("CR recreated", async () => {
      const current = await scenario.connection();
      return current && current.metadata.uid !== before?.metadata.uid && current.status?.connectionState === "Synchronized" ? current : undefined;
    });
    expect(cc.spec.managementInfo).toEqual({ connectorUrl: scenario.sim.certSecuredConnectorUrl, directorUrl: scenario.sim.directorUrl });
    const tokenCalls = scenario.requestsSince(mark).filter((r) => r.listener === "token");
    expect(tokenCalls.map((r) => r.operations[0])).toEqual(["configuration", "signCertificateSigningRequest"]);
    expect(await scenario.clientCertificateFingerprint()).not.toBe(oldFingerprint);
    expect((await scenario.managedApplications()).map((a) => a.name)).toEqual(["mp-erp"]);
  });
});

describe("hygiene", () => {
  test("the agent never exited, and no key, token or password reached the logs, Events or the CR", async () => {
    expect(agent.exitStatus()).toBeUndefined();
    expect(await secrets.scan()).toEqual([]);
  });
});
