import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { createK8sStore } from "@runtime-agent/k8s-store";
import type { LeaderElector } from "@runtime-agent/k8s-store";
import { killAllAgents, startAgentProcess, stopAllAgents, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { LEASE, Scenario } from "../support/scenario.js";

// Two replicas with leader election: one works, the other stands by; SIGKILL → takeover after the lease expires;
// SIGTERM → the lease is released and the standby takes over at once, also in the middle of a long Director call.
// No test measures a duration: when a lease lapses is decided on injected clocks (two electors in this process), the
// processes show who leads and writes, and what only a released Lease (10 min long) can explain.
let scenario: Scenario;
let secrets: SecretWatch;

function startReplica(name: string, lease: { duration: string; renew: string; retry: string }): Promise<AgentProcess> {
  return startAgentProcess({
    kubeconfig: inject("agentKubeconfig"),
    env: scenario.agentEnv({
      POD_NAME: name,
      APP_LEADER_ELECTION: "true",
      APP_LEADER_ELECTION_LEASE_DURATION: lease.duration,
      APP_LEADER_ELECTION_RENEW_DEADLINE: lease.renew,
      APP_LEADER_ELECTION_RETRY_PERIOD: lease.retry,
    }),
  });
}

async function leaseSpec(): Promise<{ holderIdentity?: string; leaseTransitions?: number } | undefined> {
  const res = await scenario.kube.request<{ spec?: { holderIdentity?: string; leaseTransitions?: number } }>("GET", `/apis/coordination.k8s.io/v1/namespaces/${LEASE.namespace}/leases/${LEASE.name}`);
  return res.status === 200 ? (res.body.spec ?? {}) : undefined;
}

async function leaseHolder(): Promise<string | undefined> {
  const spec = await leaseSpec();
  return spec === undefined ? undefined : (spec.holderIdentity ?? "");
}

const isLeader = (agent: AgentProcess) => agent.logs().some((l) => l.msg === "became the leader; starting the controller");
const reconciles = (agent: AgentProcess) => agent.logs().filter((l) => l.msg === "synchronization done" || l.msg === "connected to Compass").length;

/** The value of cra_reconcile_total summed over results (0 when there is no sample). */
async function reconcileTotal(agent: AgentProcess): Promise<number> {
  const text = await agent.metrics();
  return text
    .split("\n")
    .filter((line) => line.startsWith("cra_reconcile_total{"))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  await scenario.addApplication({ name: "erp" });
  await scenario.addApplication({ name: "crm" });
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("two replicas, short leases (4 s / 3 s / 0.5 s)", () => {
  const lease = { duration: "4s", renew: "3s", retry: "500ms" };
  let a: AgentProcess;
  let b: AgentProcess;
  let leader: AgentProcess;
  let standby: AgentProcess;

  test("exactly one replica leads, talks to Compass and writes; the other says it is not leading", async () => {
    [a, b] = await Promise.all([startReplica("agent-a", lease), startReplica("agent-b", lease)]);
    await scenario.waitForState("Synchronized");
    leader = await waitFor("one leader", async () => (isLeader(a) !== isLeader(b) ? (isLeader(a) ? a : b) : undefined));
    standby = leader === a ? b : a;
    expect(await leaseHolder()).toBe(leader === a ? "agent-a" : "agent-b");
    // A few cycles later, still only the leader works.
    for (let i = 0; i < 2; i++) await scenario.waitForNextCycle("Synchronized", 30_000);
    // The leader kept its lease all along: no failed renewal, no lost leadership, no handover.
    expect(leader.logs().filter((l) => l.msg === "leader election attempt failed").map((l) => l.reason)).toEqual([]);
    expect(leader.logs().map((l) => l.msg)).not.toContain("lost leadership; stopping the controller");
    expect(isLeader(standby)).toBe(false);
    await standby.waitForLog(/this one is not leading and stands by/);
    expect(reconciles(standby)).toBe(0);
    expect(await reconcileTotal(standby)).toBe(0);
    expect(reconciles(leader)).toBeGreaterThan(0);
    expect(await reconcileTotal(leader)).toBeGreaterThan(0);
    // Every Compass call of the pairing used one identity: the leader's token, then its certificate.
    const identities = new Set(scenario.requestsSince(0).map((r) => r.identity?.systemAuthId).filter(Boolean));
    expect(identities.size).toBe(1);
    expect(scenario.requestsSince(0).filter((r) => r.operations.includes("signCertificateSigningRequest"))).toHaveLength(1);
    // The standby is ready (to take over) and healthy.
    expect((await fetch(`http://127.0.0.1:${standby.healthPort}/readyz`)).status).toBe(200);
  });

  test("SIGKILL of the leader: the standby takes over once the lease has lapsed (nothing released it) and keeps the state Synchronized", async () => {
    const before = (await scenario.connection())?.status?.synchronizationStatus?.lastAttempt ?? "";
    const transitions = (await leaseSpec())?.leaseTransitions ?? 0;
    await leader.kill();
    // A killed leader releases nothing: the standby takes over once the lease has lapsed (exactly when: "the
    // takeover after a lapsed lease, on injected clocks" below).
    await standby.waitForLog((l) => l.msg === "became the leader; starting the controller", 30_000);
    expect(await leaseSpec()).toMatchObject({ holderIdentity: standby === a ? "agent-a" : "agent-b", leaseTransitions: transitions + 1 });
    const cc = await scenario.waitForState("Synchronized", 30_000, before);
    expect(cc.status?.connectionStatus?.error).toBeUndefined();
    expect(await leaseHolder()).toBe(standby === a ? "agent-a" : "agent-b");
    // The new leader uses the certificate in the Secrets: no second pairing.
    expect(scenario.requestsSince(0).filter((r) => r.listener === "token" && r.operations.includes("signCertificateSigningRequest"))).toHaveLength(1);
    expect(reconciles(standby)).toBeGreaterThan(0);
    const { code } = await standby.stop();
    expect(code).toBe(0);
  });
});

describe("SIGTERM during a long Director call (lease 10 min)", () => {
  test("the leader stops within 10 s and releases the lease; the standby takes over at once, long before the lease would expire", async () => {
    // A lease of 10 minutes: a takeover within this test can only follow a released Lease.
    const lease = { duration: "600s", renew: "15s", retry: "500ms" };
    const [c, d] = await Promise.all([startReplica("agent-c", lease), startReplica("agent-d", lease)]);
    const leader = await waitFor("one leader", async () => (isLeader(c) !== isLeader(d) ? (isLeader(c) ? c : d) : undefined), 30_000);
    const standby = leader === c ? d : c;
    await scenario.waitForNextCycle("Synchronized", 30_000);

    // Every Director call now hangs for 30 s; wait until the leader is inside one (it took the fault).
    await scenario.admin.call("POST", "/admin/faults", { target: "director", delayMs: 30_000, times: 1000 });
    await scenario.patchSpec({ resyncNow: true });
    await waitFor("the leader inside a delayed Director call", async () => ((scenario.sim.state.faultRules[0]?.remaining ?? 1000) < 1000 ? true : undefined), 30_000, 20);

    const stopping = leader.stop("SIGTERM");
    // The leader's call stays stuck (its delay has begun); the standby's calls will not be delayed.
    await scenario.admin.call("DELETE", "/admin/faults");
    const { code } = await stopping;
    // Exit 0: stopped before the CLI's 10 s shutdown deadline (which exits 1 and says so), so it did not wait for
    // the 30 s call.
    expect(code).toBe(0);
    expect(leader.output()).toMatch(/runtime-agent stopped/);
    expect(leader.output()).not.toMatch(/shutdown took longer than 10 s/);
    // Released on stop: the standby takes over without waiting for the 10 min lease to run out.
    await standby.waitForLog((l) => l.msg === "became the leader; starting the controller", 60_000);
    expect(await leaseHolder()).toBe(standby === c ? "agent-c" : "agent-d");

    await scenario.patchSpec({ resyncNow: true });
    await scenario.waitForNextCycle("Synchronized", 60_000);
    expect(reconciles(standby)).toBeGreaterThan(0);
  });
});

describe("the takeover after a lapsed lease, on injected clocks", () => {
  test("the standby takes the Lease over exactly when the leader's lease has lapsed on its clock, never while the leader holds it", async () => {
    await stopAllAgents();
    await scenario.kube.request("DELETE", `/apis/coordination.k8s.io/v1/namespaces/${LEASE.namespace}/leases/${LEASE.name}`);
    // Two electors in this process, with the agent's identity and timings (lease 4 s), on the real API server. Each
    // has its own clock, moved only here: the lease lapses when the test says so, whatever the machine's speed.
    const stores = [createK8sStore({ kubeconfigPath: inject("agentKubeconfig") }), createK8sStore({ kubeconfigPath: inject("agentKubeconfig") })];
    const clock = { a: 0, b: 0 };
    let readsOfB = 0;
    const events: string[] = [];
    const electors: Record<"a" | "b", LeaderElector> = {} as Record<"a" | "b", LeaderElector>;
    const elector = (name: "a" | "b", store: (typeof stores)[number]) =>
      store.leaderElector({
        namespace: LEASE.namespace,
        name: LEASE.name,
        identity: `in-process-${name}`,
        leaseDurationMs: 4_000,
        renewDeadlineMs: 3_000,
        retryPeriodMs: 100,
        // The leader is "killed" below: it stops renewing and releases nothing.
        releaseOnStop: false,
        now: () => {
          if (name === "b") readsOfB++;
          return clock[name];
        },
        onStartedLeading: () => events.push(`${name} leads${electors[name === "a" ? "b" : "a"]?.isLeader() ? " while the other leads" : ""}`),
        onStoppedLeading: () => events.push(`${name} stopped`),
      });
    /** Lets b make at least `n` more attempts (b reads its clock once per attempt, when another holds the Lease). */
    const attemptsOfB = async (n: number) => {
      const from = readsOfB;
      await waitFor(`${n} attempts of b`, async () => (readsOfB >= from + n ? true : undefined), 20_000, 10);
    };
    electors.a = elector("a", stores[0]!);
    electors.b = elector("b", stores[1]!);
    try {
      electors.a.start();
      await waitFor("a leads", async () => (electors.a.isLeader() ? true : undefined), 20_000, 10);
      const transitions = (await leaseSpec())?.leaseTransitions ?? 0;
      electors.b.start();
      // While a renews, b never takes over: its clock stands still, and a keeps changing the Lease anyway.
      await attemptsOfB(10);
      expect(electors.b.isLeader()).toBe(false);
      expect(electors.b.currentLeader()).toBe("in-process-a");

      await electors.a.stop();
      expect(await leaseHolder()).toBe("in-process-a");
      // b sees the Lease's last change at 0 on its clock...
      await attemptsOfB(3);
      // ...so 1 ms short of the lease duration later, it is not yet lapsed: no takeover, however often b tries.
      clock.b = 3_999;
      await attemptsOfB(10);
      expect(electors.b.isLeader()).toBe(false);
      expect(await leaseHolder()).toBe("in-process-a");
      // At the lease duration it has lapsed: b takes over on its next attempt.
      clock.b = 4_000;
      await waitFor("b leads", async () => (electors.b.isLeader() ? true : undefined), 20_000, 10);
      expect(await leaseSpec()).toMatchObject({ holderIdentity: "in-process-b", leaseTransitions: transitions + 1 });
      expect(events).toEqual(["a leads", "a stopped", "b leads"]);
    } finally {
      await electors.a.stop();
      await electors.b.stop();
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});

describe("a leader that loses its lease", () => {
  test("stops working and exits with 1 (to be restarted as a candidate); it does not take the controllers up again", async () => {
    // The Lease from the test above: held by an elector that stopped (4 s); a new replica must not wait for it.
    await scenario.kube.request("DELETE", `/apis/coordination.k8s.io/v1/namespaces/${LEASE.namespace}/leases/${LEASE.name}`);
    const e = await startReplica("agent-e", { duration: "4s", renew: "3s", retry: "500ms" });
    await e.waitForLog((l) => l.msg === "became the leader; starting the controller", 30_000);
    await scenario.patchSpec({ resyncNow: true });
    await scenario.waitForNextCycle("Synchronized", 30_000);

    // Another party takes the lease over (as if e's renewals had not reached the API server for too long).
    const path = `/apis/coordination.k8s.io/v1/namespaces/${LEASE.namespace}/leases/${LEASE.name}`;
    const lease = await scenario.kube.ok<{ spec: Record<string, unknown> }>("GET", path);
    const now = new Date().toISOString().replace("Z", "000Z");
    await scenario.kube.ok("PUT", path, { ...lease, spec: { ...lease.spec, holderIdentity: "intruder", renewTime: now, acquireTime: now, leaseDurationSeconds: 60 } });

    const exit = await waitFor("agent-e exited", async () => e.exitStatus(), 20_000);
    expect(exit).toBe(1);
    const messages = e.logs().map((l) => l.msg);
    const lost = messages.indexOf("lost leadership; stopping the controller");
    expect(lost).toBeGreaterThan(0);
    const after = messages.slice(lost + 1);
    expect(after).not.toContain("became the leader; starting the controller");
    expect(after).not.toContain("synchronization done");
    expect(await leaseHolder()).toBe("intruder");
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events or the CR", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
