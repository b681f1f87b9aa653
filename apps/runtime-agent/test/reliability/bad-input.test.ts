import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { recordStates } from "../support/reliability.js";
import type { SeenState } from "../support/reliability.js";
import { CONFIG_SECRET, Scenario } from "../support/scenario.js";

// Reliability matrix, bad input (docs/reliability.md): a broken configuration Secret and hostile or oversized data
// from the Director. Each gives a clear error in the status (or a warning in the log), no crash, and nothing that
// was fine before is lost.
let scenario: Scenario;
let agent: AgentProcess;
let leaks: SecretWatch;
let connectorUrl: string;
const uids = new Map<string, string>();

const PASSWORD = "rel-input-p4ssw0rd";
const CONFIG_PATH = `/api/v1/namespaces/${CONFIG_SECRET.namespace}/secrets/${CONFIG_SECRET.name}`;
const secretName = `${CONFIG_SECRET.namespace}/${CONFIG_SECRET.name}`;

async function applicationUids(): Promise<Map<string, string>> {
  return new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid ?? ""]));
}

/**
 * The configuration Secret replaced by exactly these keys (none left over), in one write (PUT; POST when it is
 * absent): the agent never sees it missing in between.
 */
async function replaceConfig(data: Record<string, string>): Promise<void> {
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: CONFIG_SECRET.name, namespace: CONFIG_SECRET.namespace },
    type: "Opaque",
    stringData: data,
  };
  const replaced = await scenario.kube.request("PUT", CONFIG_PATH, secret);
  if (replaced.status === 404) await scenario.kube.ok("POST", `/api/v1/namespaces/${CONFIG_SECRET.namespace}/secrets`, secret);
  else if (replaced.status !== 200) throw new Error(`PUT ${CONFIG_PATH}: ${replaced.status} ${JSON.stringify(replaced.body)}`);
}

/** Stops a recorder once it has seen the state the CompassConnection shows now (it polls every 50 ms). */
async function stopRecording(recorder: ReturnType<typeof recordStates>): Promise<SeenState[]> {
  try {
    const now = (await scenario.connection())?.status?.connectionState ?? "";
    await waitFor("the recorder to see the current state", async () => (recorder.seen[recorder.seen.length - 1]?.state === now ? true : undefined), 10_000, 20);
  } finally {
    await recorder.stop();
  }
  return recorder.seen;
}

/** Runs `during` and returns every (state, error) the CompassConnection showed meanwhile (the first: before it). */
async function statesDuring(during: () => Promise<void>): Promise<SeenState[]> {
  const recorder = recordStates(scenario);
  try {
    await during();
  } catch (error) {
    await recorder.stop();
    throw error;
  }
  return stopRecording(recorder);
}

/**
 * Checks every recorded entry: Synchronized without an error, or `failedState` with a synchronizationStatus.error
 * matching `failure` (the connection itself never failed: no connectionStatus.error). The failure was shown at
 * least once, and the last entry is Synchronized again.
 */
function expectOnlySynchronizedOr(seen: SeenState[], failedState: string, failure: RegExp): void {
  for (const entry of seen) {
    expect([entry.state, entry.connectionError], show(seen)).toEqual([entry.state === "Synchronized" ? "Synchronized" : failedState, ""]);
    if (entry.state === "Synchronized") expect(entry.synchronizationError, show(seen)).toBe("");
    else expect(entry.synchronizationError, show(seen)).toMatch(failure);
  }
  expect(seen.some((entry) => entry.state === failedState), show(seen)).toBe(true);
  expect(seen[seen.length - 1]?.state, show(seen)).toBe("Synchronized");
}

const show = (seen: SeenState[]) => JSON.stringify(seen.map(({ state, connectionError, synchronizationError }) => ({ state, connectionError, synchronizationError })), null, 1);

async function waitForError(pattern: RegExp, state: string, timeoutMs = 20_000) {
  return waitFor(
    `${state} with ${String(pattern)}`,
    async () => {
      const cc = await scenario.connection();
      const error = cc?.status?.connectionStatus?.error ?? "";
      const syncError = cc?.status?.synchronizationStatus?.error ?? "";
      return cc?.status?.connectionState === state && (pattern.test(error) || pattern.test(syncError)) ? cc : undefined;
    },
    timeoutMs,
    100,
  );
}

/** What the agent wrote for the applications that were fine is still there, unchanged. */
async function expectApplicationsKept(): Promise<void> {
  const now = await applicationUids();
  for (const [name, uid] of uids) expect(now.get(name), name).toBe(uid);
  expect((await scenario.appSecrets()).map((s) => s.data["password"])).toEqual([PASSWORD]);
}

const OTHER_TENANT = "22222222-3333-4444-8555-666666666666";

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  // A tenant Compass knows that is not the runtime's (TenantNotFound, not the 401 of an unknown one).
  await scenario.admin.call("POST", "/admin/tenants", { externalId: OTHER_TENANT, name: "other" });
  leaks = new SecretWatch(scenario);
  leaks.add(PASSWORD);
  connectorUrl = (await scenario.store.secrets.readAgentConfiguration(CONFIG_SECRET)).connectorUrl;
  await scenario.addApplication({ name: "erp" });
  await scenario.addApplication({
    name: "crm",
    bundles: [{ name: "b", apiDefinitions: [{ name: "a", targetURL: "https://crm.example.com" }], defaultInstanceAuth: { credential: { username: "u", password: PASSWORD } } }],
  });
  await replaceConfig({});
  agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv() });
  // Started (a hang guard, not a speed check): the cases below time the agent's reaction, not its start-up.
  await waitFor("the agent's /healthz", async () => ((await fetch(`http://127.0.0.1:${agent.healthPort}/healthz`)).ok ? true : undefined), 120_000);
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("the configuration Secret", () => {
  const cases: [string, () => Record<string, string>, RegExp][] = [
    ["no keys at all", () => ({}), /CONNECTOR_URL in Secret kyma-system\/compass-agent-configuration is empty/],
    ["a CONNECTOR_URL that is http", () => ({ CONNECTOR_URL: connectorUrl.replace("https:", "http:"), TOKEN: "t0ken-value" }), /CONNECTOR_URL in Secret .* is not an https URL/],
    ["a CONNECTOR_URL that is not a URL", () => ({ CONNECTOR_URL: "compass connector", TOKEN: "t0ken-value" }), /CONNECTOR_URL in Secret .* is not an https URL/],
    ["an empty TOKEN", () => ({ CONNECTOR_URL: connectorUrl, TOKEN: "   " }), /TOKEN in Secret .* is empty/],
    ["a TOKEN with a space inside", () => ({ CONNECTOR_URL: connectorUrl, TOKEN: "abc def" }), /TOKEN in Secret .* is malformed \(whitespace or control characters\)/],
    ["a TOKEN with a control character", () => ({ CONNECTOR_URL: connectorUrl, TOKEN: "abc\u0007def" }), /TOKEN in Secret .* is malformed/],
    ["a TOKEN with a line break inside", () => ({ CONNECTOR_URL: connectorUrl, TOKEN: "abc\ndef" }), /TOKEN in Secret .* is malformed/],
  ];
  test.each(cases)("%s: ConnectionFailed that names the key; nothing is sent to Compass; the process stays up", async (_name, data, pattern) => {
    const mark = scenario.mark();
    const seen = await statesDuring(async () => {
      await replaceConfig(data());
      const cc = await waitForError(pattern, "ConnectionFailed");
      expect(cc.status?.connectionStatus?.error).toContain(secretName);
    });
    // Every state shown: ConnectionFailed naming the Secret, never a pairing attempt or another state; since the
    // change (the first entry may still show the previous case) only this case's error. (No CompassConnection at
    // all yet, before the agent's first cycle, is skipped.)
    const shown = seen.slice(Math.max(0, seen.findIndex((entry) => entry.state !== "")));
    expect(shown.length, show(seen)).toBeGreaterThan(0);
    shown.forEach((entry, i) => {
      expect(entry.state, show(seen)).toBe("ConnectionFailed");
      expect(entry.connectionError, show(seen)).toContain(secretName);
      if (i > 0 || shown.length === 1) expect(entry.connectionError, show(seen)).toMatch(pattern);
    });
    expect(scenario.requestsSince(mark).filter((r) => r.api !== undefined)).toHaveLength(0);
    expect(agent.exitStatus()).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${agent.healthPort}/healthz`)).status).toBe(200);
  });

  test("unknown keys (a typo) and a TOKEN with a trailing newline: the keys are named in a warning (not their values), the token is trimmed and pairs", async () => {
    const { token } = await scenario.admin.issueToken(scenario.runtimeId);
    scenario.tokens.push(token);
    await replaceConfig({
      CONNECTOR_URL: connectorUrl,
      TOKEN: `${token}\n`,
      RUNTIME_ID: scenario.runtimeId,
      TENANT: scenario.tenant,
      TOKENN: "rel-typo-value-1234",
      EXTRA_SETTING: "rel-extra-value-5678",
    });
    leaks.add("rel-typo-value-1234", "rel-extra-value-5678");
    const seen = await statesDuring(() => scenario.waitForState("Synchronized").then(() => undefined));
    // From the previous case's ConnectionFailed straight to a working connection: the trimmed token paired at once.
    expect(seen[0]?.state, show(seen)).toBe("ConnectionFailed");
    for (const entry of seen.slice(1)) expect([entry.state, entry.connectionError, entry.synchronizationError], show(seen)).toEqual([expect.stringMatching(/^(Connected|Synchronized)$/), "", ""]);
    expect(scenario.sim.state.requestLog.filter((r) => r.listener === "token" && r.operations.includes("signCertificateSigningRequest"))).toHaveLength(1);
    const warning = await agent.waitForLog(/keys the agent does not use/);
    expect(warning["keys"]).toEqual(["EXTRA_SETTING", "TOKENN"]);
    expect(agent.output()).not.toContain("rel-typo-value-1234");
    for (const [name, uid] of await applicationUids()) uids.set(name, uid);
    expect([...uids.keys()].sort()).toEqual(["mp-crm", "mp-erp"]);
    await leaks.remember();
  });

  test("the Secret deleted while connected: SynchronizationFailed naming it, nothing deleted; back → Synchronized", async () => {
    const saved = (await scenario.store.secrets.get(CONFIG_SECRET.namespace, CONFIG_SECRET.name)).data;
    const missing = /the configuration Secret kyma-system\/compass-agent-configuration does not exist/;
    const seen = await statesDuring(async () => {
      await scenario.kube.ok("DELETE", CONFIG_PATH);
      await waitForError(missing, "SynchronizationFailed");
      await expectApplicationsKept();
      await replaceConfig(saved);
      await scenario.waitForState("Synchronized");
    });
    // The reason is in synchronizationStatus.error (not only in the conditions); the connection never failed.
    expectOnlySynchronizedOr(seen, "SynchronizationFailed", missing);
  });

  const syncCases: [string, () => Record<string, string>, RegExp][] = [
    ["RUNTIME_ID empty", () => ({ RUNTIME_ID: "" }), /RUNTIME_ID in Secret kyma-system\/compass-agent-configuration is empty/],
    ["RUNTIME_ID of a runtime Compass does not know", () => ({ RUNTIME_ID: "00000000-0000-4000-8000-000000000000" }), /DIRECTOR_RUNTIME_NOT_FOUND/],
    // Compass fails converting it (code 10, its presenter hides the reason): an internal error, not "not found".
    ["RUNTIME_ID that is not a UUID", () => ({ RUNTIME_ID: "not-a-uuid" }), /Failed to fetch configuration: DIRECTOR_INTERNAL_ERROR: /],
    // Real Compass: a Tenant it does not know is HTTP 401 code 26, as for a revoked certificate; the status names TENANT.
    ["TENANT Compass does not know", () => ({ TENANT: "11111111-2222-4333-8444-555555555555" }), /DIRECTOR_AUTH_FAILED.*Likely cause: TENANT "11111111-2222-4333-8444-555555555555"/],
    ["TENANT of another tenant", () => ({ TENANT: OTHER_TENANT }), /DIRECTOR_TENANT_NOT_FOUND/],
  ];
  test.each(syncCases)("%s: SynchronizationFailed with the cause, nothing deleted; restored → Synchronized", async (_name, change, pattern) => {
    const saved = (await scenario.store.secrets.get(CONFIG_SECRET.namespace, CONFIG_SECRET.name)).data;
    const seen = await statesDuring(async () => {
      await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, change());
      await waitForError(pattern, "SynchronizationFailed");
      await expectApplicationsKept();
      expect(agent.exitStatus()).toBeUndefined();
      await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, saved);
      await scenario.waitForNextCycle("Synchronized");
    });
    expectOnlySynchronizedOr(seen, "SynchronizationFailed", pattern);
  });
});

describe("what the Director sends", () => {
  test("a 10 MB description: that application fails (the API server refuses the object), with a short message; the others stay synchronized", async () => {
    // (In process: the simulator's admin API takes at most 1 MiB per request.)
    const states = recordStates(scenario);
    const [id] = scenario.addApplicationsInProcess([{ name: "huge", description: "x".repeat(10 * 1024 * 1024) }]);
    try {
      const cc = await waitForError(/mp-huge/, "ResourceApplicationFailed", 60_000);
      const error = cc.status?.synchronizationStatus?.error ?? "";
      expect(error).toMatch(/1 of 3 applications failed/);
      expect(error.length).toBeLessThan(2_000);
      expect(JSON.stringify(cc).length).toBeLessThan(20_000);
      const events = await waitFor("the ApplicationSyncFailed Event", async () => {
        const found = (await scenario.kube.events("default")).filter((e) => e.reason === "ApplicationSyncFailed");
        return found.some((e) => e.message.startsWith("mp-huge:")) ? found : undefined;
      });
      expect(events.every((e) => e.message.length <= 1_024)).toBe(true);
      await expectApplicationsKept();
      expect(agent.exitStatus()).toBeUndefined();
    } finally {
      // Removed in Compass: Synchronized again.
      scenario.removeApplication(id as string);
    }
    await scenario.waitForState("Synchronized", 30_000);
    // Only that application failed, with a short message; nothing else was ever reported.
    const seen = await stopRecording(states);
    expectOnlySynchronizedOr(seen, "ResourceApplicationFailed", /^Failed to apply configuration: 1 of 3 applications failed: mp-huge: create Application: K8S_[A-Z_]+: create applications mp-huge: Request entity too large/);
    for (const entry of seen) expect(entry.synchronizationError.length).toBeLessThan(2_000);
  }, 120_000);

  test("names with unicode and control characters become valid names; a name too long for Kubernetes fails alone; nothing else changes", async () => {
    const states = recordStates(scenario);
    await scenario.addApplication({ name: "Ünïcødé\u0007 Äpp ✓\ttab" });
    const longId = await scenario.addApplication({ name: `long ${"n".repeat(300)}` });
    try {
      const cc = await waitForError(/mp-long-n/, "ResourceApplicationFailed", 30_000);
      expect(cc.status?.synchronizationStatus?.error).toMatch(/1 of 4 applications failed/);
      const names = [...(await applicationUids()).keys()].sort();
      const unicode = names.find((n) => !uids.has(n));
      expect(unicode).toMatch(/^mp-[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(unicode!.length).toBeLessThanOrEqual(253);
      await expectApplicationsKept();
    } finally {
      await scenario.admin.removeApplication(longId);
    }
    await scenario.waitForState("Synchronized", 30_000);
    // Only the long name failed (the unicode one never did), then Synchronized once it was removed.
    const seen = await stopRecording(states);
    expectOnlySynchronizedOr(seen, "ResourceApplicationFailed", /^Failed to apply configuration: 1 of 4 applications failed: mp-long-n+: "mp-long-n+" is not a valid Kubernetes name/);
    expect(agent.exitStatus()).toBeUndefined();
  });
});

describe("hygiene", () => {
  test("the agent never exited; no key, token, password or configuration value in the logs, Events, the CR or /metrics", async () => {
    expect(agent.exitStatus()).toBeUndefined();
    expect(await leaks.scan()).toEqual([]);
  });
});
