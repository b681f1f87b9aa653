import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { parseApplicationPatch } from "@runtime-agent/compass-sim";
import { MANAGED_BY_LABEL } from "@runtime-agent/k8s-store";
import { startFaultProxy } from "@runtime-agent/kube-testenv";
import type { FaultProxy } from "@runtime-agent/kube-testenv";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { Scenario } from "../support/scenario.js";
import type { AppInput } from "../support/scenario.js";

// SIGKILL in the middle of writing many applications (creating, updating Secrets, deleting): the next start
// converges with no duplicates and no orphans, and without a new one-time token. The agent that is killed talks to
// the API server through kube-testenv's fault proxy, which holds its writes from a given one on: the agent is stuck
// at exactly that write when it is killed, whatever the machine's speed.
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;
let proxy: FaultProxy;
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

const APPLICATIONS = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications";
const SECRETS = "/api/v1/namespaces/kyma-system/secrets";

/** The agent process; `throughProxy`: its API server requests go through the fault proxy. */
async function startAgent(throughProxy = false): Promise<AgentProcess> {
  const kubeconfig = throughProxy ? await proxy.kubeconfigFor(inject("agentKubeconfig")) : inject("agentKubeconfig");
  return startAgentProcess({ kubeconfig, env: scenario.agentEnv() });
}

/**
 * Holds the agent's `nth` write of this kind and every later one (the proxy neither answers nor forwards them),
 * waits until the earlier ones were answered, then SIGKILLs the agent: exactly nth - 1 of these writes were made.
 */
async function killAtWrite(method: string, path: string | RegExp, nth: number): Promise<void> {
  const armedAt = proxy.requests.length;
  const rule = proxy.arm({ method, path, nth, every: true, fault: { kind: "timeout" } });
  const held = await rule.hit;
  const matches = (r: { seq: number; method: string; path: string }) => r.seq > armedAt && r.method === method && (typeof path === "string" ? r.path.startsWith(path) : path.test(r.path));
  await waitFor("the earlier writes answered", async () => (proxy.requests.filter((r) => r.seq < held.seq && matches(r)).every((r) => r.state !== "open") ? true : undefined), 60_000, 20);
  // Each of them went through and succeeded.
  expect(proxy.requests.filter((r) => r.seq < held.seq && matches(r)).map((r) => (r.upstreamStatus ?? 0) < 300)).toEqual(Array.from({ length: nth - 1 }, () => true));
  await agent.kill();
  rule.disarm();
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
  proxy = await startFaultProxy({ kubeconfig: inject("agentKubeconfig") });
});

afterAll(async () => {
  await killAllAgents();
  await proxy?.close();
  await scenario?.close();
});

describe("SIGKILL during the first synchronization (right after pairing)", () => {
  test("the next start uses the certificate from the Secrets (no new token) and converges", async () => {
    agent = await startAgent(true);
    await killAtWrite("POST", APPLICATIONS, 61);
    expect(await scenario.store.applications.listManaged()).toHaveLength(60);
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
    // The agent that converged in the previous test stops before Compass changes; one through the proxy takes
    // over, and is killed at its 21st new Secret (new bundles: new Secret names; the old Secrets go after).
    await agent.stop();
    for (let i = 0; i < COUNT; i += 2) {
      const { bundles } = application(i, 2);
      scenario.sim.updateApplication(ids[i] as string, parseApplicationPatch({ bundles }));
    }
    const changed = async () => (await scenario.appSecrets()).filter((s) => s.data["password"]?.endsWith("-g2")).length;
    agent = await startAgent(true);
    await killAtWrite("POST", SECRETS, 21);
    expect(await changed()).toBe(20);
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
    // As above: the running agent stops before Compass changes; one through the proxy is killed at its 41st deletion
    // of an Application (Secrets go first, then Applications).
    await agent.stop();
    for (let i = 0; i < COUNT; i++) if (!keep.includes(i)) scenario.removeApplication(ids[i] as string);
    const remaining = async () => (await scenario.store.applications.listManaged()).length;
    agent = await startAgent(true);
    await killAtWrite("DELETE", `${APPLICATIONS}/`, 41);
    expect(await remaining()).toBe(COUNT - 40);
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
