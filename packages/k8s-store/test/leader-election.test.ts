import { afterAll, describe, expect, it } from "vitest";
import type { K8sStore, LeaderElector } from "../src/index.js";
import { agentStore, ApiServerProxy, agentKubeconfig, eventually, uniqueName } from "./helpers.js";

// Short timings (the defaults are 15 s / 10 s / 2 s).
const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Candidate {
  store: K8sStore;
  elector: LeaderElector;
  log: string[];
}

function candidate(identity: string, lease: string, kubeconfigPath = agentKubeconfig()): Candidate {
  const store = agentStore({ kubeconfigPath, requestTimeoutMs: 2_000 });
  const log: string[] = [];
  const elector = store.leaderElector({
    namespace: "kyma-system",
    name: lease,
    identity,
    ...timing,
    onStartedLeading: () => log.push("started"),
    onStoppedLeading: () => log.push("stopped"),
  });
  cleanups.push(async () => {
    await elector.stop();
    await store.close();
  });
  return { store, elector, log };
}

/** Samples every 10 ms whether more than one candidate believes it leads. */
function watchForTwoLeaders(...candidates: Candidate[]): { stop: () => number } {
  let violations = 0;
  const timer = setInterval(() => {
    if (candidates.filter((c) => c.elector.isLeader()).length > 1) violations++;
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return violations;
    },
  };
}

describe("Lease leader election (as the agent's ServiceAccount)", () => {
  it("a leader renews without a single failed attempt (renewals time out after the remaining, fractional, deadline)", async () => {
    const lease = uniqueName("renew");
    const store = agentStore({ kubeconfigPath: agentKubeconfig(), requestTimeoutMs: 2_000 });
    const errors: string[] = [];
    const elector = store.leaderElector({ namespace: "kyma-system", name: lease, identity: "solo", ...timing, onError: (e) => errors.push(e.message) });
    cleanups.push(async () => {
      await elector.stop();
      await store.close();
    });
    elector.start();
    await eventually(() => elector.isLeader(), 10_000, "leadership");
    const renewals = store.counter.snapshot().update;
    await eventually(() => store.counter.snapshot().update >= renewals + 3, 10_000, "three renewals");
    expect(errors).toEqual([]);
    expect(elector.isLeader()).toBe(true);
  });

  it("exactly one of two candidates leads; the other takes over right after the leader releases", async () => {
    const lease = uniqueName("leader");
    const a = candidate("a", lease);
    const b = candidate("b", lease);
    const monitor = watchForTwoLeaders(a, b);
    a.elector.start();
    b.elector.start();
    await eventually(() => a.elector.isLeader() || b.elector.isLeader(), 10_000, "a leader");
    // Stable: still exactly one after a few renew periods.
    for (let i = 0; i < 6; i++) {
      expect(Number(a.elector.isLeader()) + Number(b.elector.isLeader())).toBe(1);
      await new Promise((r) => setTimeout(r, 250));
    }
    const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
    expect(follower.elector.currentLeader()).toBe(leader.elector.identity);

    await leader.elector.stop();
    expect(leader.elector.isLeader()).toBe(false);
    expect(leader.log).toEqual(["started", "stopped"]);
    // Released: the follower takes over on its next attempt, well within the lease duration.
    await eventually(() => follower.elector.isLeader(), timing.leaseDurationMs, "take-over after release");
    expect(follower.log).toEqual(["started"]);
    expect(monitor.stop()).toBe(0);
  });

  it("a leader that loses the API server steps down; the other takes over within the lease duration", async () => {
    const lease = uniqueName("leader");
    const proxy = await ApiServerProxy.start(agentKubeconfig());
    cleanups.push(() => proxy.down());
    const cut = candidate("cut-off", lease, proxy.kubeconfigPath);
    cut.elector.start();
    await eventually(() => cut.elector.isLeader(), 10_000, "first leader");
    const other = candidate("survivor", lease);
    other.elector.start();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(other.elector.isLeader()).toBe(false);

    const monitor = watchForTwoLeaders(cut, other);
    await proxy.down(); // the leader can no longer reach the API server
    await eventually(() => !cut.elector.isLeader(), timing.renewDeadlineMs + 2_000, "leader steps down");
    expect(cut.log).toEqual(["started", "stopped"]);
    await eventually(() => other.elector.isLeader(), timing.leaseDurationMs + 2 * timing.retryPeriodMs + 1_000, "take-over");
    // Never two leaders: the cut-off one stepped down (renew deadline) before the lease expired for the other.
    expect(monitor.stop()).toBe(0);

    // When the API server is back, the old leader becomes a follower.
    await proxy.up();
    await new Promise((r) => setTimeout(r, 2 * timing.retryPeriodMs));
    expect(cut.elector.isLeader()).toBe(false);
    expect(cut.elector.currentLeader()).toBe("survivor");
  });
});
