import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const appDir = fileURLToPath(new URL("../..", import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface AgentProcess {
  child: ChildProcess;
  healthPort: number;
  metricsPort: number;
  /** Every line the agent logged so far (stdout and stderr). */
  output(): string;
  /** The JSON log lines parsed (other lines are skipped). */
  logs(): AgentLogLine[];
  /** Undefined while the process runs; its exit code (or the signal name) afterwards. */
  exitStatus(): number | string | null | undefined;
  /** Resolves when a log line matches (message or the whole line), with that line. */
  waitForLog(match: RegExp | ((line: AgentLogLine) => boolean), timeoutMs?: number): Promise<AgentLogLine>;
  /** The agent's /metrics text. */
  metrics(): Promise<string>;
  /** The last `n` output lines (for failure messages). */
  tail(n?: number): string;
  /** SIGTERM, then the exit code and how long the agent took to stop. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  kill(): Promise<void>;
}

/** Starts `runtime-agent run` as its own process, the way the container runs it. */
export interface AgentLogLine {
  level?: number;
  /** ISO 8601 (the agent's log timestamp). */
  time?: string;
  msg?: string;
  [key: string]: unknown;
}

/** Every agent process started in this test file (each file has its own module instance), for the leak scans. */
export const startedAgents: AgentProcess[] = [];

/** Without `keySize` the agent uses the size the simulator's keyAlgorithm names (rsa2048), as in production. */
export async function startAgentProcess(options: { kubeconfig: string; env: Record<string, string>; keySize?: number }): Promise<AgentProcess> {
  const healthPort = await freePort();
  const metricsPort = await freePort();
  const child = spawn(
    process.execPath,
    ["--conditions=development", "--import", "tsx", "src/cli.ts", "run", "--kubeconfig", options.kubeconfig, ...(options.keySize !== undefined ? ["--key-size", String(options.keySize)] : [])],
    {
      cwd: appDir,
      env: {
        ...process.env,
        APP_HEALTH_PORT: String(healthPort),
        APP_METRICS_PORT: String(metricsPort),
        APP_LOG_LEVEL: "debug",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let status: number | string | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code, signal) => {
      status = code ?? signal;
      resolve(code);
    }),
  );
  const logs = (): AgentLogLine[] =>
    output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as AgentLogLine];
        } catch {
          return [];
        }
      });
  const agent: AgentProcess = {
    child,
    healthPort,
    metricsPort,
    output: () => output,
    logs,
    exitStatus: () => status,
    waitForLog(match, timeoutMs = 30_000) {
      const test = typeof match === "function" ? match : (line: AgentLogLine) => match.test(line.msg ?? "") || match.test(JSON.stringify(line));
      return waitFor(`agent log line ${String(match)}`, async () => logs().find(test), timeoutMs, 100);
    },
    tail(n = 20) {
      return output.split("\n").slice(-n - 1).join("\n");
    },
    async metrics() {
      return (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    },
    async stop(signal = "SIGTERM") {
      const started = Date.now();
      if (status === undefined) child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
    async kill() {
      if (status === undefined) child.kill("SIGKILL");
      await exited;
    },
  };
  startedAgents.push(agent);
  return agent;
}

/** SIGTERM to every agent process of this file that still runs (they release the lease). */
export async function stopAllAgents(): Promise<void> {
  await Promise.all(startedAgents.map((a) => a.stop()));
}

/** Kills every agent process of this file that still runs (afterAll). */
export async function killAllAgents(): Promise<void> {
  await Promise.all(startedAgents.map((a) => a.kill()));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
