import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { parseApplicationPatch } from "@runtime-agent/compass-sim";
import { MANAGED_BY_LABEL } from "@runtime-agent/k8s-store";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { Scenario } from "../support/scenario.js";
import type { AppInput } from "../support/scenario.js";

// SIGKILL in the middle of writing many applications (creating, updating Secrets, deleting): the next start
// converges with no duplicates and no orphans, and without a new one-time token.
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;
let ids: string[] = [];

const COUNT = 300;
const n3 = (i: number) => String(i).padStart(3, "0");
const password = (i: number, generation: number) => `crash-pw-${n3(i)}-g${generation}`;

function application(i: number, generation: number): AppInput {
  return {
    name: `crash ${n3(i)}`,
    bundles: [
      {
        name: "main",
        apiDefinitions: [{ name: "api", targetURL: `https://crash${n3(i)}.example.com` }],
        // Every second application has credentials: one Secret each.
        ...(i % 2 === 0 ? { defaultInstanceAuth: { credential: { username: `u${n3(i)}`, password: password(i, generation) } } } : {}),
      },
    ],
  };
}

function startAgent(): Promise<AgentProcess> {
  return startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv() });
}

/** Polls `count` and SIGKILLs the agent once it is in [low, high); returns the count seen at the kill. */
async function killWhen(count: () => Promise<number>, low: number, high: number): Promise<number> {
  const seen = await waitFor(
    `between ${low} and ${high}`,
    async () => {
      const c = await count();
      if (c >= high) throw new Error(`too late: ${c} already`);
      return c >= low ? c : undefined;
    },
    120_000,
    20,
  );
  await agent.kill();
  return seen;
}

/**
 * Every Compass application exactly once as a managed Application, every app Secret owned by an existing
 * Application (name and uid) with the expected data, nothing else.
 */
async function expectConverged(expected: { indexes: number[]; generation: number }): Promise<void> {
  const apps = await scenario.store.applications.listManaged({ labelSelector: "" });
  const names = apps.map((a) => a.metadata.name).sort();
  expect(names).toEqual(expected.indexes.map((i) => `mp-crash-${n3(i)}`).sort());
  expect(apps.every((a) => a.metadata.labels?.[MANAGED_BY_LABEL] === "compass-runtime-agent")).toBe(true);
  const uidByName = new Map(apps.map((a) => [a.metadata.name, a.metadata.uid]));

  const appSecrets = await scenario.appSecrets();
  const withCredentials = expected.indexes.filter((i) => i % 2 === 0);
  expect(appSecrets).toHaveLength(withCredentials.length);
  const owners = appSecrets.map((s) => {
    const refs = s.metadata.ownerReferences ?? [];
    expect(refs).toHaveLength(1);
    const ref = refs[0]!;
    expect(ref.kind).toBe("Application");
    expect(uidByName.get(ref.name)).toBe(ref.uid);
    expect(s.metadata.labels?.["app"]).toBe(ref.name);
    return ref.name;
  });
  expect(owners.sort()).toEqual(withCredentials.map((i) => `mp-crash-${n3(i)}`).sort());
  for (const s of appSecrets) {
    const i = Number(s.metadata.labels?.["app"]?.slice("mp-crash-".length));
    expect(s.data["password"]).toBe(password(i, expected.generation));
  }
  // Nothing else in the integration namespace but the agent's own Secrets.
  const all = (await scenario.store.secrets.list("kyma-system")).map((s) => s.metadata.name);
  expect(all.length).toBe(appSecrets.length + 2); // + config Secret + client certificate Secret
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  for (let i = 0; i < COUNT; i++) secrets.add(password(i, 1), password(i, 2));
  ids = scenario.addApplicationsInProcess(Array.from({ length: COUNT }, (_, i) => application(i, 1)));
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("SIGKILL during the first synchronization (right after pairing)", () => {
  test("the next start uses the certificate from the Secrets (no new token) and converges", async () => {
    agent = await startAgent();
    const atKill = await killWhen(async () => (await scenario.store.applications.listManaged()).length, 60, COUNT);
    expect(atKill).toBeLessThan(COUNT);
    // The pairing was recorded before the synchronization began.
    const cc = await scenario.connection();
    expect(cc?.status?.connectionState).toBe("Connected");
    expect(cc?.status?.connectionStatus?.established).toBeTruthy();

    const mark = scenario.mark();
    agent = await startAgent();
    await scenario.waitForState("Synchronized", 120_000);
    expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toHaveLength(0);
    await expectConverged({ indexes: Array.from({ length: COUNT }, (_, i) => i), generation: 1 });
  });
});

describe("SIGKILL while Secrets are being rewritten", () => {
  test("the next start finishes the updates: every Secret with the new data, still owned, none twice", async () => {
    for (let i = 0; i < COUNT; i += 2) {
      const { bundles } = application(i, 2);
      scenario.sim.updateApplication(ids[i] as string, parseApplicationPatch({ bundles }));
    }
    const changed = async () => (await scenario.appSecrets()).filter((s) => s.data["password"]?.endsWith("-g2")).length;
    const atKill = await killWhen(changed, 20, COUNT / 2);
    expect(atKill).toBeLessThan(COUNT / 2);
    agent = await startAgent();
    await waitFor("all Secrets updated", async () => ((await changed()) === COUNT / 2 ? true : undefined), 120_000);
    await scenario.waitForNextCycle("Synchronized", 60_000);
    await expectConverged({ indexes: Array.from({ length: COUNT }, (_, i) => i), generation: 2 });
  });
});

describe("SIGKILL while Applications are being deleted", () => {
  test("the next start deletes the rest and their Secrets; what stays in Compass stays untouched", async () => {
    const keep = Array.from({ length: 20 }, (_, i) => i * 15); // 20 applications stay
    const keptUids = new Map((await scenario.store.applications.listManaged()).filter((a) => keep.some((i) => a.metadata.name === `mp-crash-${n3(i)}`)).map((a) => [a.metadata.name, a.metadata.uid]));
    for (let i = 0; i < COUNT; i++) if (!keep.includes(i)) scenario.removeApplication(ids[i] as string);
    const remaining = async () => (await scenario.store.applications.listManaged()).length;
    // Secrets go first, then Applications: kill once some Applications are gone.
    const atKill = await killWhen(async () => COUNT - (await remaining()), 40, COUNT - keep.length);
    expect(atKill).toBeLessThan(COUNT - keep.length);
    agent = await startAgent();
    await waitFor("deletions finished", async () => ((await remaining()) === keep.length ? true : undefined), 120_000);
    await scenario.waitForNextCycle("Synchronized", 60_000);
    await expectConverged({ indexes: keep, generation: 2 });
    const after = new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid]));
    expect(after).toEqual(keptUids);
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events or the CR", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
