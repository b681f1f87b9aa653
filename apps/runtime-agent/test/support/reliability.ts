/**
 * Helpers of the reliability matrix (test/reliability/, docs/reliability.md): a leak scan that also covers the
 * agents' /metrics and any extra text (CLI output), an API-server outage proxy, and a recorder of the states a
 * CompassConnection goes through.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readKubeconfig } from "@runtime-agent/kube-testenv";
import { parse, stringify } from "yaml";
import { startedAgents } from "./agent-process.js";
import type { AgentProcess } from "./agent-process.js";
import { CLIENT_SECRET } from "./scenario.js";
import type { Scenario } from "./scenario.js";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A one-time token's shape: 88 characters of URL-safe base64 (64 random bytes). */
const TOKEN_SHAPE = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{86}(?:==|[A-Za-z0-9_-]{2})(?![A-Za-z0-9_-])/;

/**
 * Everything a secret could leak into: the full output of every agent process of the file, every Event in
 * `default`, the CompassConnection, every /metrics page the agents served (captured while they ran), and extra
 * texts (CLI output). Secret values: the tokens the scenario issued and the simulator handed out, every private key
 * the client certificate Secret held (remember()), and the values given to add().
 */
export class LeakScan {
  readonly #values = new Set<string>();
  readonly #metrics = new Map<AgentProcess, string[]>();
  readonly #extra: [string, string][] = [];

  constructor(readonly scenario: Scenario) {}

  add(...values: string[]): void {
    for (const value of values) if (value.length >= 6) this.#values.add(value);
  }

  /** Text that is not the agent's (e.g. CLI stdout/stderr) but must not hold secrets either. */
  addText(where: string, text: string): void {
    this.#extra.push([where, text]);
  }

  /** The current private key (its base64 lines) and every token the simulator knows. */
  async remember(): Promise<void> {
    const secret = await this.scenario.store.secrets.find(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
    const key = secret?.data["key"];
    if (key) for (const line of key.split("\n")) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) this.#values.add(line);
    const state = await this.scenario.admin.call<{ systemAuths: { oneTimeToken?: { token: string } }[] }>("GET", "/admin/state");
    for (const systemAuth of state.systemAuths) if (systemAuth.oneTimeToken) this.#values.add(systemAuth.oneTimeToken.token);
    for (const token of this.scenario.tokens) this.#values.add(token);
  }

  /** Keeps the /metrics page of every agent that still runs (call before stopping one, and at the end). */
  async captureMetrics(): Promise<void> {
    for (const agent of startedAgents) {
      if (agent.exitStatus() !== undefined) continue;
      try {
        const text = await agent.metrics();
        const list = this.#metrics.get(agent) ?? [];
        list.push(text);
        this.#metrics.set(agent, list);
      } catch {
        // not serving yet or already stopping
      }
    }
  }

  /** How many /metrics pages were captured (a scan over none would prove nothing). */
  get metricsPages(): number {
    return [...this.#metrics.values()].reduce((n, pages) => n + pages.length, 0);
  }

  /** One line per finding; empty = clean. */
  async scan(): Promise<string[]> {
    await this.remember();
    await this.captureMetrics();
    const sources: [string, string][] = startedAgents.map((agent, i) => [`agent process #${i + 1} output`, agent.output()]);
    for (const [agent, pages] of this.#metrics) sources.push([`agent process #${startedAgents.indexOf(agent) + 1} /metrics`, pages.join("\n")]);
    sources.push(["Events in default", JSON.stringify(await this.scenario.kube.events("default"))]);
    sources.push(["CompassConnection", JSON.stringify(await this.scenario.store.compassConnections.list())]);
    sources.push(...this.#extra);
    const findings: string[] = [];
    for (const [where, text] of sources) {
      for (const value of this.#values) if (text.includes(value)) findings.push(`${where} contains a secret value (${value.slice(0, 4)}…)`);
      if (/PRIVATE KEY/.test(text)) findings.push(`${where} contains a PEM private key`);
      const token = TOKEN_SHAPE.exec(text);
      if (token) findings.push(`${where} contains a token-shaped string (${token[0].slice(0, 4)}…)`);
      if (/"(password|clientSecret|client_secret|TOKEN|token)"\s*:\s*"[^"*[]/.test(text)) findings.push(`${where} contains a credential field with a value`);
    }
    return findings;
  }
}

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
  error: string;
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
        const error = cc?.status?.connectionStatus?.error ?? cc?.status?.synchronizationStatus?.error ?? "";
        const last = seen[seen.length - 1];
        if (!last || last.state !== state || last.error !== error) seen.push({ state, error, at: Date.now() });
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
