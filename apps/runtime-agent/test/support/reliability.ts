/**
 * Helpers of the reliability matrix (test/reliability/, docs/reliability.md): an API-server outage proxy and a
 * recorder of the states a CompassConnection goes through (the leak scan is support/leaks.ts).
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readKubeconfig } from "@runtime-agent/kube-testenv";
import { parse, stringify } from "yaml";
import type { Scenario } from "./scenario.js";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A TCP proxy in front of the real kube-apiserver: `down()` cuts every open connection and refuses new ones (what
 * clients see of a stopped API server), `up()` serves again on the same port. TLS passes through untouched.
 */
export class ApiServerProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;
  kubeconfigPath = "";

  private constructor(
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  /** A proxy for the API server of `kubeconfigPath`, and a copy of that kubeconfig pointing at the proxy. */
  static async start(kubeconfigPath: string): Promise<ApiServerProxy> {
    const creds = readKubeconfig(kubeconfigPath);
    const url = new URL(creds.server);
    const proxy = new ApiServerProxy(url.hostname, Number(url.port));
    await proxy.up();
    proxy.kubeconfigPath = rewriteKubeconfig(kubeconfigPath, `proxy-${proxy.port}`, (cluster) => {
      cluster["server"] = `https://127.0.0.1:${proxy.port}`;
    });
    return proxy;
  }

  get isUp(): boolean {
    return this.#server !== undefined;
  }

  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address !== null && typeof address !== "string") this.port = address.port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * A copy of a kubeconfig (in the temp directory, mode 0600) with every cluster entry changed by `change`
 * (e.g. another server, or insecure-skip-tls-verify).
 */
export function rewriteKubeconfig(path: string, tag: string, change: (cluster: Record<string, unknown>) => void): string {
  const doc = parse(readFileSync(path, "utf8")) as { clusters: { cluster: Record<string, unknown> }[] };
  for (const entry of doc.clusters) change(entry.cluster);
  const out = join(tmpdir(), `reliability-${tag}-${randomBytes(3).toString("hex")}.kubeconfig`);
  writeFileSync(out, stringify(doc), { mode: 0o600 });
  return out;
}

export interface SeenState {
  state: string;
  /** connectionStatus.error when set, else synchronizationStatus.error. */
  error: string;
  /** connectionStatus.error alone ("" when none). */
  connectionError: string;
  /** synchronizationStatus.error alone ("" when none). */
  synchronizationError: string;
  at: number;
}

/**
 * Polls the CompassConnection every `intervalMs` and records every (state, error) it shows, in order, until
 * stop(). For asserting the intermediate failures a fault caused on the way back to Synchronized.
 */
export function recordStates(scenario: Scenario, intervalMs = 50): { seen: SeenState[]; stop(): Promise<SeenState[]> } {
  const seen: SeenState[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const cc = await scenario.connection();
        const state = cc?.status?.connectionState ?? "";
        const connectionError = cc?.status?.connectionStatus?.error ?? "";
        const synchronizationError = cc?.status?.synchronizationStatus?.error ?? "";
        const error = cc?.status?.connectionStatus?.error ?? cc?.status?.synchronizationStatus?.error ?? "";
        const last = seen[seen.length - 1];
        if (!last || last.state !== state || last.error !== error) seen.push({ state, error, connectionError, synchronizationError, at: Date.now() });
      } catch {
        // the API server may be unreachable in the test that cuts it off
      }
      await sleep(intervalMs);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** Adds fault rules to the simulator in order (each applies to the next `times` matching calls). */
export async function addFaults(scenario: Scenario, rules: Record<string, unknown>[]): Promise<{ id: string }[]> {
  const added: { id: string }[] = [];
  for (const rule of rules) added.push(await scenario.admin.call("POST", "/admin/faults", rule));
  return added;
}

export async function clearFaults(scenario: Scenario): Promise<void> {
  await scenario.admin.call("DELETE", "/admin/faults");
}

/** Sum of the samples of one Prometheus metric whose labels contain every given `name="value"`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}
