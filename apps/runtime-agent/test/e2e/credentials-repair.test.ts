import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { FINGERPRINT_ANNOTATION } from "@runtime-agent/k8s-store";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { CA_SECRET, CLIENT_SECRET, Scenario } from "../support/scenario.js";

// The credential Secrets deleted or damaged by hand: repaired over mTLS with the certificate the agent holds, or
// (after a restart, with nothing usable left) through the token flow; the agent never crashes.
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Both Secrets present, consistent (fingerprint annotations) and different from `previous`. */
async function waitForNewCredentials(previous: string | undefined, timeoutMs = 20_000): Promise<string> {
  return waitFor(
    "rewritten credential Secrets",
    async () => {
      const read = await scenario.store.secrets.readCredentials({ clientCertificate: CLIENT_SECRET, caCertificate: CA_SECRET });
      if (read.state !== "complete" || read.fingerprint === previous) return undefined;
      new X509Certificate(read.credentials.crt); // parses
      const ca = await scenario.store.secrets.get(CA_SECRET.namespace, CA_SECRET.name);
      expect(ca.metadata.annotations?.[FINGERPRINT_ANNOTATION]).toBe(read.fingerprint);
      expect(read.credentials.cacert).toBe(scenario.sim.clientCaPem);
      return read.fingerprint;
    },
    timeoutMs,
    100,
  );
}

function startAgent(): Promise<AgentProcess> {
  // A long sync period: a repair within seconds can only come from the Secret watches.
  return startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv({ APP_CONTROLLER_SYNC_PERIOD: "60s" }) });
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  await scenario.addApplication({ name: "erp" });
  agent = await startAgent();
  await scenario.waitForState("Synchronized");
  await secrets.remember();
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("repair with the certificate in memory (mTLS renewal, no token)", () => {
  for (const [what, damage] of [
    ["the client certificate Secret deleted", () => scenario.store.secrets.delete(CLIENT_SECRET.namespace, CLIENT_SECRET.name)],
    ["the CA Secret deleted", () => scenario.store.secrets.delete(CA_SECRET.namespace, CA_SECRET.name)],
    ["crt corrupted", () => scenario.store.secrets.upsertSecretKeys(CLIENT_SECRET.namespace, CLIENT_SECRET.name, { crt: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n" })],
    ["key corrupted", () => scenario.store.secrets.upsertSecretKeys(CLIENT_SECRET.namespace, CLIENT_SECRET.name, { key: "garbage" })],
  ] as const) {
    test(`${what}: renewed over mTLS and both Secrets rewritten`, async () => {
      const before = await scenario.clientCertificateFingerprint();
      const mark = scenario.mark();
      await damage();
      const after = await waitForNewCredentials(before);
      expect(after).not.toBe(before);
      const requests = scenario.requestsSince(mark);
      expect(requests.filter((r) => r.listener === "token")).toHaveLength(0);
      expect(requests.filter((r) => r.operations.includes("signCertificateSigningRequest") && r.identity?.via === "certificate")).toHaveLength(1);
      const cc = await waitFor("renewal in the status", async () => {
        const current = await scenario.connection();
        return current?.status?.connectionStatus?.renewed && current.status.connectionState === "Synchronized" ? current : undefined;
      });
      expect(cc.status?.connectionStatus?.certificateStatus.notAfter).toBeTruthy();
      await secrets.remember();
      await sleep(1_100); // the next damage in a new second (minimal sync time)
    });
  }
});

describe("after a restart", () => {
  test("CA Secret missing, client certificate intact: renewed over mTLS with the certificate from the Secret, no token needed", async () => {
    await agent.stop();
    const before = await scenario.clientCertificateFingerprint();
    await scenario.store.secrets.delete(CA_SECRET.namespace, CA_SECRET.name);
    const mark = scenario.mark();
    agent = await startAgent();
    const after = await waitForNewCredentials(before);
    expect(after).not.toBe(before);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(0);
    await scenario.waitForState("Synchronized");
    await secrets.remember();
  });

  test("client certificate Secret missing and a fresh token: the token flow pairs again", async () => {
    await agent.stop();
    const before = await scenario.clientCertificateFingerprint();
    await scenario.store.secrets.delete(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
    await scenario.writeConfigSecret();
    const mark = scenario.mark();
    agent = await startAgent();
    const after = await waitForNewCredentials(before);
    expect(after).not.toBe(before);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token").map((r) => r.operations[0])).toEqual([
      "configuration",
      "signCertificateSigningRequest",
    ]);
    const cc = await scenario.waitForState("Synchronized");
    expect(cc.status?.connectionStatus?.established).toBeTruthy();
    await secrets.remember();
  });

  test("client certificate Secret missing and only the used token: ConnectionFailed reported, the process stays up, a new token recovers", async () => {
    await agent.stop();
    await scenario.store.secrets.delete(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
    agent = await startAgent();
    const cc = await scenario.waitForState("ConnectionFailed");
    expect(cc.status?.connectionStatus?.error).toMatch(/one-time token/);
    await sleep(3_000);
    expect(agent.exitStatus()).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${agent.healthPort}/healthz`)).status).toBe(200);
    await agent.waitForLog(/no usable client certificate/);

    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized", 20_000);
    await waitForNewCredentials(undefined);
    expect(agent.exitStatus()).toBeUndefined();
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events or the CR", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
