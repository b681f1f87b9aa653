import { readFile } from "node:fs/promises";
import { Writable } from "node:stream";
import { createK8sStore } from "@runtime-agent/k8s-store";
import type { K8sStore } from "@runtime-agent/k8s-store";
import { loadConfig } from "../../src/config/load.js";
import type { AgentConfig } from "../../src/config/schema.js";
import { CompassSession } from "../../src/controller/compass-session.js";
import { Reconciler } from "../../src/controller/reconciler.js";
import type { ReconcileOutcome } from "../../src/controller/loop.js";
import { createLogger } from "../../src/observability/logger.js";
import { AgentMetrics } from "../../src/observability/metrics.js";
import type { Scenario } from "./scenario.js";

/**
 * The agent's reconciler in the test process: the real store (against kube-testenv's API server, with the
 * agent's own ServiceAccount), the real Compass session (against the simulator over mTLS), and an injected clock
 * and random source. A test calls `cycle()` instead of waiting for timers, and moves time with `advance()`, so it
 * never depends on the machine's speed.
 */
export class InProcessAgent {
  readonly logs: Record<string, unknown>[] = [];
  /** How often the reconciler asked for a full garbage collection (the agent's `globalThis.gc`). */
  garbageCollections = 0;
  #time: number;
  readonly reconciler: Reconciler;

  private constructor(
    readonly config: AgentConfig,
    readonly store: K8sStore,
    readonly session: CompassSession,
    start: number,
  ) {
    this.#time = start;
    const log = createLogger({
      level: "debug",
      format: "json",
      destination: new Writable({
        write: (chunk: Buffer, _encoding, callback) => {
          for (const line of chunk.toString().split("\n")) if (line) this.logs.push(JSON.parse(line) as Record<string, unknown>);
          callback();
        },
      }),
    });
    // Mid-point of every jitter range: backoff waits are exactly predictable.
    this.reconciler = new Reconciler({
      config,
      store,
      session,
      log,
      metrics: new AgentMetrics(),
      now: () => new Date(this.#time),
      random: () => 0.5,
      collectGarbage: () => this.garbageCollections++,
    });
  }

  static async start(scenario: Scenario, kubeconfigPath: string, env: Record<string, string> = {}): Promise<InProcessAgent> {
    const config = loadConfig({ ...scenario.agentEnv(), ...env });
    const caPem = await readFile(scenario.sim.serverCaFile, "utf8");
    const store = createK8sStore({ kubeconfigPath, integrationNamespace: config.integrationNamespace });
    // The agent's clock starts at the real time: the simulator issues certificates valid from now.
    const start = Date.now();
    const agent: InProcessAgent = new InProcessAgent(
      config,
      store,
      new CompassSession({ tls: { caPem }, metrics: new AgentMetrics(), keySize: undefined, now: () => new Date(agent.now), requestTimeoutMs: config.compassRequestTimeout }),
      start,
    );
    return agent;
  }

  get now(): number {
    return this.#time;
  }

  /** Moves the agent's clock (not the simulator's). */
  advance(ms: number): void {
    this.#time += ms;
  }

  /** One reconcile, as the loop would run it. */
  cycle(): Promise<ReconcileOutcome> {
    return this.reconciler.reconcile(new AbortController().signal);
  }

  /** Runs the cycle the loop would run next: the clock moves by the requeue the previous cycle asked for. */
  async cycleAfter(outcome: ReconcileOutcome): Promise<ReconcileOutcome> {
    this.advance(outcome.requeueAfterMs);
    return this.cycle();
  }

  logged(pattern: RegExp): Record<string, unknown>[] {
    return this.logs.filter((line) => pattern.test(`${String(line["msg"])} ${String(line["reason"] ?? "")}`));
  }

  async close(): Promise<void> {
    await this.session.close();
    await this.store.close();
  }
}
