/**
 * Reliability matrix, F22/F34 (docs/reliability.md): no Kubernetes write STARTS after the agent begins to shut down
 * or loses leadership, so an old leader never writes beside a new one, and those paths never leave a promise
 * rejection unobserved. The agent runs in process (startAgent, the code the CLI runs) against the real
 * kube-apiserver through kube-testenv's fault proxy, whose request log is the API server's view of what arrived
 * and when. Each case first parks the reconcile cycle inside a Director call (the simulator holds it), so the
 * cycle has no write in flight when the fence goes up: any write the proxy sees afterwards started afterwards.
 */
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import { startFaultProxy } from "@runtime-agent/kube-testenv";
import type { FaultProxy } from "@runtime-agent/kube-testenv";
import { startAgent } from "../../src/agent.js";
import type { RunningAgent } from "../../src/agent.js";
import { loadConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/observability/logger.js";
import { freePort, waitFor } from "../support/agent-process.js";
import { LEASE, Scenario } from "../support/scenario.js";

type LogLine = Record<string, unknown> & { msg?: string; level?: string };

let scenario: Scenario;
let proxy: FaultProxy;
let kubeconfig: string;
let agent: RunningAgent | undefined;
const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/${LEASE.namespace}/leases/${LEASE.name}`;
const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(async () => {
  process.on("unhandledRejection", recordUnhandled);
  scenario = await Scenario.start(inject("adminKubeconfig"));
  await scenario.addApplication({ name: "erp" });
  proxy = await startFaultProxy({ kubeconfig: inject("agentKubeconfig") });
  kubeconfig = await proxy.kubeconfigFor(inject("agentKubeconfig"));
});

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  scenario.sim.clearFaults();
  // A lease taken over by "intruder" (60 s) would keep the next case's agent waiting.
  await scenario.kube.request("DELETE", LEASE_PATH);
});

afterAll(async () => {
  process.off("unhandledRejection", recordUnhandled);
  await scenario?.close();
  await proxy?.close();
});

/** Starts the agent in process with leader election (short leases) through the proxy; logs are kept as JSON. */
async function start(options: { onLostLeadership?: () => void; onLog?: (line: LogLine) => void } = {}): Promise<{ agent: RunningAgent; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString().split("\n")) {
        if (!text) continue;
        const line = JSON.parse(text) as LogLine;
        logs.push(line);
        options.onLog?.(line);
      }
      callback();
    },
  });
  const config = loadConfig({
    ...scenario.agentEnv(),
    APP_HEALTH_PORT: String(await freePort()),
    APP_METRICS_PORT: String(await freePort()),
    APP_LEADER_ELECTION: "true",
    APP_LEADER_ELECTION_LEASE_DURATION: "4s",
    APP_LEADER_ELECTION_RENEW_DEADLINE: "3s",
    APP_LEADER_ELECTION_RETRY_PERIOD: "500ms",
  });
  agent = await startAgent({
    config,
    kubeconfigPath: kubeconfig,
    log: createLogger({ level: "debug", format: "json", destination: sink }),
    keySize: 2048,
    host: "127.0.0.1",
    ...(options.onLostLeadership ? { onLostLeadership: options.onLostLeadership } : {}),
  });
  await waitFor("leadership", async () => (logs.some((l) => l.msg === "became the leader; starting the controller") ? true : undefined), 30_000, 20);
  return { agent, logs };
}

/** Asks for a cycle and waits until it is inside a Director call the simulator holds (for a minute). */
async function parkCycleInDirectorCall(): Promise<void> {
  const rule = scenario.sim.addFault({ target: "director", delayMs: 60_000, times: 1 });
  await scenario.patchSpec({ resyncNow: true });
  await waitFor("a cycle inside a Director call", async () => (rule.remaining === 0 ? true : undefined), 30_000, 20);
}

/** Writes (other than the Lease's, which the elector owns) that reached the API server after request `mark`. */
function writesSince(mark: number): string[] {
  return proxy.requests
    .slice(mark)
    .filter((r) => ["POST", "PUT", "PATCH", "DELETE"].includes(r.method) && !r.path.startsWith(LEASE_PATH))
    .map((r) => `${r.method} ${r.path}`);
}

/** Takes the Lease over as another replica would after this one's renewals failed for too long. */
async function stealLease(): Promise<void> {
  const lease = await scenario.kube.ok<{ spec: Record<string, unknown> }>("GET", LEASE_PATH);
  const now = new Date().toISOString().replace("Z", "000Z");
  await scenario.kube.ok("PUT", LEASE_PATH, { ...lease, spec: { ...lease.spec, holderIdentity: "intruder", renewTime: now, acquireTime: now, leaseDurationSeconds: 60 } });
}

/** The lost Lease itself (and a callback that failed on it) are errors; they are what these tests cause. */
const EXPECTED_ERRORS = new Set(["lost leadership; stopping the controller", "onLostLeadership failed"]);

/**
 * A cycle cut short by the fence is not a failure: nothing else at error level (no "reconcile failed", no
 * "synchronization failed" for the aborted Director call) — an alert on error lines must not fire on every rollout.
 */
const errorsLogged = (logs: LogLine[]) =>
  logs.filter((l) => l.level === "error" && !EXPECTED_ERRORS.has(String(l.msg))).map((l) => `${String(l.msg)}: ${String(l["reason"] ?? "")}`);

describe("writes are fenced", () => {
  test("stop() during a cycle: no write starts after stop() began; the Lease is still released; nothing is logged as a failed reconcile", async () => {
    const { agent: running, logs } = await start();
    await scenario.waitForState("Synchronized");
    await parkCycleInDirectorCall();

    const mark = proxy.requests.length;
    await running.stop();
    expect(writesSince(mark)).toEqual([]);
    // The elector's own write: the Lease is handed back, so a successor need not wait for it to expire.
    const lease = await scenario.kube.ok<{ spec: { holderIdentity?: string } }>("GET", LEASE_PATH);
    expect(lease.spec.holderIdentity ?? "").toBe("");
    expect(errorsLogged(logs)).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  test("leadership lost during a cycle: no write starts after the Lease was taken over; a throwing onLostLeadership is logged, not an unhandled rejection", async () => {
    let calls = 0;
    let lost!: () => void;
    const lostLeadership = new Promise<void>((resolve) => (lost = resolve));
    const { agent: running, logs } = await start({
      onLostLeadership: () => {
        calls++;
        lost();
        throw new Error("the embedding application's callback failed");
      },
    });
    await parkCycleInDirectorCall();

    const mark = proxy.requests.length;
    await stealLease();
    await lostLeadership;
    expect(writesSince(mark)).toEqual([]);
    await running.stop();
    expect(unhandled).toEqual([]);
    expect(logs.some((l) => l.msg === "onLostLeadership failed" && /callback failed/.test(String(l["reason"])))).toBe(true);
    expect(writesSince(mark)).toEqual([]);
    expect(calls).toBe(1);
    expect(errorsLogged(logs)).toEqual([]);
  });

  test("stop() begins while leadership is being lost: both paths end quietly, onLostLeadership is not called during the shutdown, no write starts", async () => {
    let calls = 0;
    let stopping: Promise<void> | undefined;
    const { logs } = await start({
      onLostLeadership: () => calls++,
      // stop() in the same turn as the step-down, while the controllers are being stopped for the lost lease.
      onLog: (line) => {
        if (line.msg === "lost leadership; stopping the controller") stopping = agent?.stop();
      },
    });
    await parkCycleInDirectorCall();

    const mark = proxy.requests.length;
    await stealLease();
    const began = await waitFor("stop() to begin", async () => (stopping ? { stopping } : undefined), 10_000, 20);
    await began.stopping;
    expect(writesSince(mark)).toEqual([]);
    expect(calls).toBe(0);
    expect(logs.some((l) => l.msg === "runtime-agent stopped")).toBe(true);
    expect(errorsLogged(logs)).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
