import { randomUUID } from "node:crypto";
import { pairWithToken } from "@runtime-agent/connector-client";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import { InProcessAgent } from "../support/in-process.js";
import { SecretWatch } from "../support/leaks.js";
import { CONFIG_SECRET, Scenario } from "../support/scenario.js";

// Real Compass answers "not authenticated" with HTTP 400 and an empty body, alike for a used token, a revoked
// certificate and its own authentication chain failing (real-compass.md §2.1); the Director answers 401 code 26
// for a revoked certificate and for an unknown Tenant header (§2.3). The reconciler runs in this process with an
// injected clock: each cycle is called, and time is moved by what the cycle asked for, never waited for.
let scenario: Scenario;
let agent: InProcessAgent;
let secrets: SecretWatch;

const SYNC_PERIOD = 2_000;
/** The first wait after a refusal with the mid-point jitter (random = 0.5): 3/4 of max(2 sync periods, 10 s). */
const FIRST_REFUSAL_WAIT = 7_500;
const MAX_REFUSAL_WAIT = 15 * 60_000;

const tokenCalls = (mark: number) => scenario.requestsSince(mark).filter((r) => r.listener === "token");
const compassCalls = (mark: number) => scenario.requestsSince(mark).filter((r) => r.api !== undefined);

async function status() {
  const cc = await scenario.connection();
  return { state: cc?.status?.connectionState, error: cc?.status?.connectionStatus?.error ?? cc?.status?.synchronizationStatus?.error ?? "" };
}

async function fresh(): Promise<void> {
  await agent?.close();
  await scenario.store.compassConnections.delete().catch(() => undefined);
  for (const ns of ["kyma-system", "istio-system"]) {
    for (const secret of await scenario.store.secrets.list(ns)) {
      if (secret.metadata.name !== CONFIG_SECRET.name) await scenario.store.secrets.delete(ns, secret.metadata.name);
    }
  }
  agent = await InProcessAgent.start(scenario, inject("agentKubeconfig"), { APP_CONTROLLER_SYNC_PERIOD: `${SYNC_PERIOD / 1000}s` });
}

/** Pairs and synchronizes in one cycle. */
async function paired(): Promise<string> {
  await scenario.writeConfigSecret();
  await agent.cycle();
  expect(await status()).toEqual({ state: "Synchronized", error: "" });
  const fingerprint = await scenario.clientCertificateFingerprint();
  expect(fingerprint).toBeTruthy();
  return fingerprint as string;
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  await scenario.addApplication({ name: "erp" });
});

afterEach(async () => {
  secrets.addText("the in-process agent's log", agent.logs.map((line) => JSON.stringify(line)).join("\n"));
  await agent?.close();
});

afterAll(async () => {
  await scenario?.close();
});

describe("a refused client certificate", () => {
  test("falls back at once, in the same cycle, to a TOKEN the agent has not spent; Synchronized with a new certificate", async () => {
    await fresh();
    const old = await paired();
    // A new token written while the certificate works is kept, not spent.
    await scenario.writeConfigSecret();
    agent.advance(SYNC_PERIOD);
    let mark = scenario.mark();
    await agent.cycle();
    expect(tokenCalls(mark)).toHaveLength(0);
    expect((await status()).state).toBe("Synchronized");

    await scenario.admin.revoke(old);
    agent.advance(SYNC_PERIOD);
    mark = scenario.mark();
    await agent.cycle();
    expect(await status()).toEqual({ state: "Synchronized", error: "" });
    expect(tokenCalls(mark).map((r) => r.operations[0])).toEqual(["configuration", "signCertificateSigningRequest"]);
    const renewed = await scenario.clientCertificateFingerprint();
    expect(renewed).not.toBe(old);
    expect(agent.logged(/CONNECTOR_NOT_AUTHENTICATED/).length).toBeGreaterThan(0);
    expect((await scenario.managedApplications()).map((a) => a.name)).toEqual(["mp-erp"]);
  });

  test("with only the spent TOKEN: ConnectionFailed that says what to do; the certificate is retried with a growing backoff; a new TOKEN is used at once", async () => {
    await fresh();
    const old = await paired();
    await scenario.admin.revoke(old);
    agent.advance(SYNC_PERIOD);
    let mark = scenario.mark();
    const first = await agent.cycle();
    const { state, error } = await status();
    expect(state).toBe("ConnectionFailed");
    expect(error).toMatch(/CONNECTOR_NOT_AUTHENTICATED/);
    expect(error).toMatch(/was used by this agent to pair and cannot be used again: write a new TOKEN into the Secret/);
    // The spent token is never sent; the refused certificate waits before its next try.
    expect(tokenCalls(mark)).toHaveLength(0);
    expect(first.requeueAfterMs).toBe(FIRST_REFUSAL_WAIT);

    // A trigger inside the wait (a watch event) calls nobody.
    mark = scenario.mark();
    await agent.cycle();
    expect(compassCalls(mark)).toHaveLength(0);

    // After the wait the certificate is tried once more (Compass may have been failing), and the next wait doubles.
    agent.advance(first.requeueAfterMs);
    mark = scenario.mark();
    const second = await agent.cycle();
    // (Compass refuses it before reading the request: HTTP 400, empty body.)
    expect(compassCalls(mark).map((r) => `${r.listener}:${r.api}:${r.status}`)).toEqual(["mtls:connector:400"]);
    expect(second.requeueAfterMs).toBe(2 * FIRST_REFUSAL_WAIT);

    await scenario.writeConfigSecret();
    mark = scenario.mark();
    await agent.cycle();
    expect(await status()).toEqual({ state: "Synchronized", error: "" });
    expect(tokenCalls(mark)).toHaveLength(2);
    expect(await scenario.clientCertificateFingerprint()).not.toBe(old);
  });
});

describe("after a restart", () => {
  test("the token the certificate was paired with is known to be spent (stored with it as a digest): a refused certificate does not make the new process send it", async () => {
    await fresh();
    const old = await paired();
    await scenario.admin.revoke(old);
    // A new process: nothing in memory.
    await agent.close();
    agent = await InProcessAgent.start(scenario, inject("agentKubeconfig"), { APP_CONTROLLER_SYNC_PERIOD: `${SYNC_PERIOD / 1000}s` });
    agent.advance(SYNC_PERIOD);
    const mark = scenario.mark();
    await agent.cycle();
    const { state, error } = await status();
    expect(state).toBe("ConnectionFailed");
    expect(error).toMatch(/was used by this agent to pair and cannot be used again: write a new TOKEN into the Secret/);
    expect(tokenCalls(mark)).toHaveLength(0);
  });
});

describe("a refused one-time token", () => {
  test("a token already spent elsewhere: NOT_AUTHENTICATED, retried with a capped exponential backoff (never parked); a new TOKEN later pairs at once", async () => {
    await fresh();
    const token = await scenario.writeConfigSecret();
    // Somebody else pairs with it first.
    await pairWithToken(scenario.sim.connectorUrl, token, { tls: { caPem: await scenario.serverCa() } });

    let mark = scenario.mark();
    let outcome = await agent.cycle();
    const { state, error } = await status();
    expect(state).toBe("ConnectionFailed");
    expect(error).toMatch(/CONNECTOR_NOT_AUTHENTICATED/);
    expect(error).toMatch(/write a new TOKEN into the Secret \(it is used at once\); in case Compass's authentication was failing, this token is tried again at/);
    expect(tokenCalls(mark)).toHaveLength(1);
    // Not every sync period: the first wait is several sync periods, and each refusal doubles it, up to the cap.
    expect(outcome.requeueAfterMs).toBe(FIRST_REFUSAL_WAIT);
    const waits: number[] = [outcome.requeueAfterMs];
    for (let i = 0; i < 10; i++) {
      mark = scenario.mark();
      outcome = await agent.cycleAfter(outcome);
      expect(tokenCalls(mark)).toHaveLength(1);
      waits.push(outcome.requeueAfterMs);
    }
    expect(waits.slice(0, 4)).toEqual([FIRST_REFUSAL_WAIT, 2 * FIRST_REFUSAL_WAIT, 4 * FIRST_REFUSAL_WAIT, 8 * FIRST_REFUSAL_WAIT]);
    expect(Math.max(...waits)).toBe(0.75 * MAX_REFUSAL_WAIT);
    expect(waits[waits.length - 1]).toBe(0.75 * MAX_REFUSAL_WAIT);

    await scenario.writeConfigSecret();
    mark = scenario.mark();
    await agent.cycle();
    expect(await status()).toEqual({ state: "Synchronized", error: "" });
    expect(tokenCalls(mark).map((r) => r.operations[0])).toEqual(["configuration", "signCertificateSigningRequest"]);
  });
});

describe("Compass's own authentication failing", () => {
  test("its Director down: the token is refused but not spent; the retry after the backoff pairs with the same token", async () => {
    await fresh();
    await scenario.writeConfigSecret();
    scenario.sim.startDirectorOutage();
    const mark = scenario.mark();
    let outcome = await agent.cycle();
    const { state, error } = await status();
    expect(state).toBe("ConnectionFailed");
    expect(error).toMatch(/CONNECTOR_NOT_AUTHENTICATED: .*Compass's own authentication is failing/);
    expect(outcome.requeueAfterMs).toBe(FIRST_REFUSAL_WAIT);
    scenario.sim.endDirectorOutage();
    // A trigger inside the backoff sends nothing; the retry after it pairs with the token that was refused.
    outcome = await agent.cycle();
    expect(tokenCalls(mark)).toHaveLength(1);
    await agent.cycleAfter(outcome);
    expect(await status()).toEqual({ state: "Synchronized", error: "" });
    expect(tokenCalls(mark).map((r) => `${r.status}:${r.operations[0] ?? ""}`)).toEqual(["400:", "200:configuration", "200:signCertificateSigningRequest"]);
  });
});

describe("TENANT", () => {
  test("an unknown TENANT: SynchronizationFailed naming TENANT in the config Secret, in the status and the log; corrected, Synchronized", async () => {
    await fresh();
    await paired();
    const unknown = randomUUID();
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { TENANT: unknown });
    agent.advance(SYNC_PERIOD);
    await agent.cycle();
    const { state, error } = await status();
    expect(state).toBe("SynchronizationFailed");
    expect(error).toContain(`TENANT "${unknown}" in Secret ${CONFIG_SECRET.namespace}/${CONFIG_SECRET.name} is not a tenant Compass knows`);
    expect(agent.logged(new RegExp(`TENANT "${unknown}"`)).length).toBeGreaterThan(0);
    // Nothing was deleted for it.
    expect((await scenario.managedApplications()).map((a) => a.name)).toEqual(["mp-erp"]);

    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { TENANT: scenario.tenant });
    agent.advance(SYNC_PERIOD);
    await agent.cycle();
    expect(await status()).toEqual({ state: "Synchronized", error: "" });
  });
});

describe("hygiene", () => {
  test("no key, token or password reached the logs, the CR or Events", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
