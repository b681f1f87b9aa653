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

/**
 * Right after a cycle got a 429 with a Retry-After (the agent says so in its log), an operator sets spec.resyncNow:
 * the agent runs that cycle at once (the watch) and it sends nothing to Compass (cra_reconcile_total counts it
 * Skipped); the resyncNow waits and is served once the Retry-After is over. Without the Retry-After guard the
 * triggered cycle would call Compass at once.
 */
async function resyncNowInsideRetryAfter(retryAfterMs = 5_000): Promise<void> {
  await agent.waitForLog((l) => l.msg === "Compass asked to wait (Retry-After); no call to Compass before then" && l["retryAfterMs"] === retryAfterMs, 60_000);
  expect((await scenario.connection())?.spec.resyncNow).not.toBe(true);
  const skipped = async () => metricSum(await agent.metrics(), "cra_reconcile_total", { result: "Skipped" });
  const skippedBefore = await skipped();
  const inWindow = scenario.mark();
  await scenario.patchSpec({ resyncNow: true });
  // Every cycle that calls Compass begins with the Connector (a call the 429 cycle started may still end later).
  await waitFor("the resyncNow cycle ran", async () => ((await skipped()) > skippedBefore || connectorCalls(scenario.requestsSince(inWindow)).length > 0 ? true : undefined), 20_000, 50);
  expect(connectorCalls(scenario.requestsSince(inWindow)).map((r) => r.operations.join(","))).toEqual([]);
  expect(await skipped()).toBe(skippedBefore + 1);
  expect((await scenario.connection())?.spec.resyncNow).toBe(true);

  const done = await waitFor("Synchronized, resyncNow served", async () => {
    const current = await scenario.connection();
    return current?.status?.connectionState === "Synchronized" && current.spec.resyncNow === false ? current : undefined;
  }, 30_000);
  expect(done.status?.connectionStatus?.error).toBeUndefined();
  const after = scenario.requestsSince(inWindow);
  expect(connectorCalls(after)[0]?.operations).toEqual(["configuration"]);
  expect(after.some((r) => r.api === "director" && r.operations.includes("applicationsForRuntime"))).toBe(true);
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

  test("reset, 200 {}, 503 and 429 with Retry-After in front of the Connector: ConnectionFailed with each cause, then pairs with the same token, and no call before Retry-After, not even for spec.resyncNow", async () => {
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
    // The fourth attempt gets the 429 (Retry-After 4): a resyncNow inside it sends nothing; then the agent pairs.
    await resyncNowInsideRetryAfter(4_000);
    const seen = await states.stop();
    const errors = seen.filter((s) => s.state === "ConnectionFailed").map((s) => s.error);
    expect(errors.join("\n")).toMatch(/CONNECTOR_UNAVAILABLE/);
    expect(errors.join("\n")).toMatch(/CONNECTOR_BAD_RESPONSE/);
    const calls = connectorCalls(scenario.requestsSince(mark));
    expect(calls.slice(0, 4).map((r) => r.fault !== undefined)).toEqual([true, true, true, true]);
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

  test("Connector 429 with Retry-After 5 on the connection check: ConnectionMaintenanceFailed; spec.resyncNow inside the Retry-After sends nothing to Compass; then Synchronized", async () => {
    const mark = scenario.mark();
    await addFaults(scenario, [{ target: "connector", rateLimit: true, retryAfter: 5 }]);
    // The next regular cycle (sync period 2 s) gets the 429.
    const cc = await scenario.waitForState("ConnectionMaintenanceFailed", 20_000);
    expect(cc.status?.connectionStatus?.error).toMatch(/CONNECTOR_UNAVAILABLE/);
    expect(connectorCalls(scenario.requestsSince(mark)).filter((r) => r.fault !== undefined)).toHaveLength(1);
    await resyncNowInsideRetryAfter();
    await expectApplicationsKept();
  });

  test("Director 429 with Retry-After 5: SynchronizationFailed (DIRECTOR_RATE_LIMITED); spec.resyncNow inside the Retry-After sends nothing to Compass; nothing deleted, then Synchronized", async () => {
    await addFaults(scenario, [{ target: "director", operation: "ApplicationsForRuntime", rateLimit: true, retryAfter: 5 }]);
    // The next regular cycle (sync period 2 s) gets the 429.
    const cc = await scenario.waitForState("SynchronizationFailed", 20_000);
    expect(cc.status?.synchronizationStatus?.error).toMatch(/DIRECTOR_RATE_LIMITED/);
    await expectApplicationsKept();
    await resyncNowInsideRetryAfter();
    await expectApplicationsKept();
  });

  test("Director timeout (APP_COMPASS_REQUEST_TIMEOUT 2s, an answer after 5 s): SynchronizationFailed (DIRECTOR_TIMEOUT), nothing deleted, then Synchronized", async () => {
    // The same agent with a 2 s request timeout instead of the default 30 s (a configuration change: a restart).
    await leaks.captureMetrics();
    await agent.stop();
    agent = await startAgent({ APP_COMPASS_REQUEST_TIMEOUT: "2s" });
    await scenario.waitForNextCycle("Synchronized", 60_000);
    const started = agent.logs().find((l) => l.msg === "starting runtime-agent");
    expect((started?.["config"] as Record<string, unknown> | undefined)?.["APP_COMPASS_REQUEST_TIMEOUT"]).toBe("2s");

    await addFaults(scenario, [{ target: "director", operation: "ApplicationsForRuntime", delayMs: 5_000 }]);
    await scenario.patchSpec({ resyncNow: true });
    const cc = await scenario.waitForState("SynchronizationFailed", 30_000);
    // The simulator answers after 5 s: only the agent's own 2 s timeout makes this DIRECTOR_TIMEOUT (with the
    // default 30 s the call would succeed).
    expect(cc.status?.synchronizationStatus?.error).toMatch(/DIRECTOR_TIMEOUT/);
    await expectApplicationsKept();
    await scenario.waitForState("Synchronized", 30_000);
    await expectApplicationsKept();
    const metrics = await agent.metrics();
    expect(metricSum(metrics, "cra_compass_request_duration_seconds_count", { operation: "applicationsForRuntime", outcome: "DIRECTOR_TIMEOUT" })).toBeGreaterThanOrEqual(1);
  });
});

describe("hygiene", () => {
  test("the agent never exited; no key, token or password in the logs, Events, the CR or /metrics", async () => {
    await clearFaults(scenario);
    expect(agent.exitStatus()).toBeUndefined();
    expect(await leaks.scan()).toEqual([]);
    expect(leaks.metricsPages).toBeGreaterThanOrEqual(2);
  });
});
