import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { addFaults, clearFaults, metricSum, recordStates, sleep } from "../support/reliability.js";
import { Scenario } from "../support/scenario.js";
import type { SimRequest } from "../support/scenario.js";

// Reliability matrix, Compass faults (docs/reliability.md): the Connector and the Director failing in the ways a
// gateway or Compass fails, while pairing and while connected. Each ends Synchronized without an operator, except
// where Compass itself refuses (then the status says what to do).
let scenario: Scenario;
let agent: AgentProcess;
let leaks: SecretWatch;
const uids = new Map<string, string>();

const PASSWORD = "rel-faults-p4ssw0rd";
const connectorCalls = (requests: SimRequest[]) => requests.filter((r) => r.api === "connector");
const compassCalls = (requests: SimRequest[]) => requests.filter((r) => r.api !== undefined);

function startAgent(extra: Record<string, string> = {}): Promise<AgentProcess> {
  return startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv(extra) });
}

async function applicationUids(): Promise<Map<string, string>> {
  return new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid ?? ""]));
}

/** Nothing the agent wrote for Compass's applications was lost or rewritten. */
async function expectApplicationsKept(): Promise<void> {
  expect(await applicationUids()).toEqual(uids);
  const secrets = await scenario.appSecrets();
  expect(secrets.map((s) => s.data["password"])).toEqual([PASSWORD]);
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  leaks = new SecretWatch(scenario);
  leaks.add(PASSWORD);
  await scenario.addApplication({ name: "erp" });
  await scenario.addApplication({
    name: "crm",
    bundles: [{ name: "b", apiDefinitions: [{ name: "a", targetURL: "https://crm.example.com" }], defaultInstanceAuth: { credential: { username: "u", password: PASSWORD } } }],
  });
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("while pairing", () => {
  test("TLS failure: without Compass's CA the server certificate is refused (CONNECTOR_TLS_FAILED) and no token is spent; with the CA the same token pairs", async () => {
    const mark = scenario.mark();
    agent = await startAgent({ APP_COMPASS_CA_FILE: "" });
    const cc = await scenario.waitForState("ConnectionFailed");
    expect(cc.status?.connectionStatus?.error).toMatch(/CONNECTOR_TLS_FAILED/);
    // The handshake failed: nothing reached the Connector, so the one-time token is still good.
    expect(connectorCalls(scenario.requestsSince(mark))).toHaveLength(0);
    expect(agent.exitStatus()).toBeUndefined();
    await leaks.captureMetrics();
    await agent.stop();

    // (The fix is a configuration change: the agent is restarted with the CA, as a Deployment rollout would.)
    agent = await startAgent();
    await scenario.waitForState("Synchronized");
    expect(scenario.tokens).toHaveLength(1);
    for (const [name, uid] of await applicationUids()) uids.set(name, uid);
    expect([...uids.keys()].sort()).toEqual(["mp-crm", "mp-erp"]);
    await leaks.remember();
  });

  test("reset, 200 {}, 503 and 429 with Retry-After in front of the Connector: ConnectionFailed with each cause, then pairs with the same token, and no call before Retry-After", async () => {
    await agent.stop();
    await scenario.store.compassConnections.delete();
    await scenario.writeConfigSecret();
    await addFaults(scenario, [
      { target: "connector", reset: true },
      { target: "connector", emptyJson: true },
      { target: "connector", status: 503 },
      { target: "connector", rateLimit: true, retryAfter: 4 },
    ]);
    const mark = scenario.mark();
    const states = recordStates(scenario);
    agent = await startAgent();
    await scenario.waitForState("Synchronized", 60_000);
    const seen = await states.stop();
    const errors = seen.filter((s) => s.state === "ConnectionFailed").map((s) => s.error);
    expect(errors.join("\n")).toMatch(/CONNECTOR_UNAVAILABLE/);
    expect(errors.join("\n")).toMatch(/CONNECTOR_BAD_RESPONSE/);
    const calls = connectorCalls(scenario.requestsSince(mark));
    expect(calls.slice(0, 4).map((r) => r.fault !== undefined)).toEqual([true, true, true, true]);
    // The call after the 429 came no sooner than its Retry-After (4 s).
    const after429 = (calls[4]?.time.getTime() ?? 0) - (calls[3]?.time.getTime() ?? 0);
    expect(after429).toBeGreaterThanOrEqual(3_900);
    expect(agent.output()).toMatch(/Compass asked to wait \(Retry-After\)/);
    // The faults answered before authentication: the configured token paired (no new token was needed).
    expect(calls.filter((r) => r.listener === "token" && r.fault === undefined).map((r) => r.operations[0])).toEqual(["configuration", "signCertificateSigningRequest"]);
    await expectApplicationsKept();
    await leaks.remember();
  });

  test("signing fails after configuration spent the configured token (503 on signCertificateSigningRequest): the retry uses the token Compass returned; no operator needed", async () => {
    await scenario.writeConfigSecret();
    await addFaults(scenario, [{ target: "connector", operation: "signCertificateSigningRequest", status: 503 }]);
    const mark = scenario.mark();
    const states = recordStates(scenario);
    await scenario.store.compassConnections.delete();
    await waitFor("paired again", async () => {
      const cc = await scenario.connection();
      return cc?.status?.connectionState === "Synchronized" && scenario.countOperation(mark, "signCertificateSigningRequest", "connector") >= 1 ? cc : undefined;
    });
    const seen = await states.stop();
    expect(seen.some((s) => s.state === "ConnectionFailed" && /CONNECTOR_UNAVAILABLE/.test(s.error))).toBe(true);
    const tokenCalls = scenario.requestsSince(mark).filter((r) => r.listener === "token");
    // (A faulted call is answered before the body is parsed: it has no operation in the log, only the fault.)
    expect(tokenCalls.map((r) => r.fault?.replace(/^fault-\d+: /, "fault: ") ?? r.operations[0])).toEqual([
      "configuration",
      "fault: status 503",
      "configuration",
      "signCertificateSigningRequest",
    ]);
    // The second configuration used the token the first one returned, not the spent one from the Secret.
    expect(tokenCalls[2]?.identity?.via).toBe("token");
    await agent.waitForLog(/retrying the pairing with the one-time token Compass returned/);
    await expectApplicationsKept();
    await leaks.remember();
  });

  test("an expired one-time token: ConnectionFailed that says so, not sent again before its backoff; a new token pairs", async () => {
    await scenario.writeConfigSecret();
    await scenario.admin.advanceClock(61 * 60); // the token's TTL is 60 minutes
    const mark = scenario.mark();
    const states = recordStates(scenario);
    await scenario.store.compassConnections.delete();
    await scenario.waitForState("ConnectionFailed", 20_000);
    await sleep(3_000);
    const seen = await states.stop();
    // The refusal (with the Connector's code), then the standing advice; the token was sent exactly once.
    expect(agent.logs().some((l) => /CONNECTOR_NOT_AUTHENTICATED/.test(String(l["reason"] ?? "")))).toBe(true);
    expect(seen[seen.length - 1]?.error).toMatch(/Compass did not accept the one-time token in Secret .*: write a new TOKEN/);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(1);
    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized", 20_000);
    await expectApplicationsKept();
    await leaks.remember();
  });
});

describe("while connected", () => {
  test("Connector 503, reset and 200 {} on the connection check: ConnectionMaintenanceFailed, the certificate and the applications are kept, then Synchronized without a token", async () => {
    const fingerprint = await scenario.clientCertificateFingerprint();
    await addFaults(scenario, [
      { target: "connector", status: 503 },
      { target: "connector", reset: true },
      { target: "connector", emptyJson: true },
    ]);
    const mark = scenario.mark();
    const states = recordStates(scenario);
    await scenario.patchSpec({ resyncNow: true });
    await waitFor("faults used up and Synchronized", async () => {
      const left = (await scenario.admin.call<{ faultRules: unknown[] }>("GET", "/admin/faults")).faultRules.length;
      const cc = await scenario.connection();
      return left === 0 && cc?.status?.connectionState === "Synchronized" && !cc.spec.resyncNow ? true : undefined;
    }, 60_000);
    const seen = await states.stop();
    const failed = seen.filter((s) => s.state === "ConnectionMaintenanceFailed").map((s) => s.error);
    expect(failed.join("\n")).toMatch(/CONNECTOR_UNAVAILABLE/);
    expect(failed.join("\n")).toMatch(/CONNECTOR_BAD_RESPONSE/);
    expect(seen.some((s) => s.state === "ConnectionFailed")).toBe(false);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(0);
    expect(await scenario.clientCertificateFingerprint()).toBe(fingerprint);
    await expectApplicationsKept();
  });

  test("Connector 429 with Retry-After 5 on the connection check: no call to Compass for 5 s (the sync period is 2 s), then Synchronized", async () => {
    await addFaults(scenario, [{ target: "connector", rateLimit: true, retryAfter: 5 }]);
    const mark = scenario.mark();
    await scenario.patchSpec({ resyncNow: true });
    const cc = await scenario.waitForState("ConnectionMaintenanceFailed", 20_000);
    expect(cc.status?.connectionStatus?.error).toMatch(/CONNECTOR_UNAVAILABLE/);
    await scenario.waitForState("Synchronized", 30_000);
    const calls = compassCalls(scenario.requestsSince(mark));
    const limited = calls.findIndex((r) => r.fault !== undefined);
    expect(limited).toBeGreaterThanOrEqual(0);
    const next = calls[limited + 1];
    expect((next?.time.getTime() ?? 0) - (calls[limited]?.time.getTime() ?? 0)).toBeGreaterThanOrEqual(4_900);
    await expectApplicationsKept();
  });

  test("Director 429 with Retry-After 5: SynchronizationFailed (DIRECTOR_RATE_LIMITED), no call to Compass for 5 s, nothing deleted, then Synchronized", async () => {
    await addFaults(scenario, [{ target: "director", operation: "ApplicationsForRuntime", rateLimit: true, retryAfter: 5 }]);
    const mark = scenario.mark();
    await scenario.patchSpec({ resyncNow: true });
    const cc = await scenario.waitForState("SynchronizationFailed", 20_000);
    expect(cc.status?.synchronizationStatus?.error).toMatch(/DIRECTOR_RATE_LIMITED/);
    await scenario.waitForState("Synchronized", 30_000);
    const calls = compassCalls(scenario.requestsSince(mark));
    const limited = calls.findIndex((r) => r.fault !== undefined);
    // The first call after the rate-limited cycle (its other calls may finish after the 429) is ≥ 5 s later.
    const later = calls.filter((r) => r.time.getTime() > (calls[limited]?.time.getTime() ?? 0) + 1_000);
    expect((later[0]?.time.getTime() ?? 0) - (calls[limited]?.time.getTime() ?? 0)).toBeGreaterThanOrEqual(4_900);
    await expectApplicationsKept();
  });

  test("Director timeout (an answer after 31 s, the client waits 30 s): SynchronizationFailed (DIRECTOR_TIMEOUT), nothing deleted, then Synchronized", async () => {
    await addFaults(scenario, [{ target: "director", operation: "ApplicationsForRuntime", delayMs: 31_000 }]);
    await scenario.patchSpec({ resyncNow: true });
    const cc = await scenario.waitForState("SynchronizationFailed", 45_000);
    expect(cc.status?.synchronizationStatus?.error).toMatch(/DIRECTOR_TIMEOUT/);
    await scenario.waitForState("Synchronized", 30_000);
    await expectApplicationsKept();
    const metrics = await agent.metrics();
    expect(metricSum(metrics, "cra_compass_request_duration_seconds_count", { operation: "applicationsForRuntime", outcome: "DIRECTOR_TIMEOUT" })).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

describe("hygiene", () => {
  test("the agent never exited; no key, token or password in the logs, Events, the CR or /metrics", async () => {
    await clearFaults(scenario);
    expect(agent.exitStatus()).toBeUndefined();
    expect(await leaks.scan()).toEqual([]);
    expect(leaks.metricsPages).toBeGreaterThanOrEqual(2);
  });
});
