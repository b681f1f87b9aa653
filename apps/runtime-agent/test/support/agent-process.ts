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
  /** SIGTERM, then the exit code and how long the agent took to stop. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  kill(): Promise<void>;
}

/** Starts `runtime-agent run` as its own process, the way the container runs it. */
export async function startAgentProcess(options: { kubeconfig: string; env: Record<string, string>; keySize?: number }): Promise<AgentProcess> {
  const healthPort = await freePort();
  const metricsPort = await freePort();
  const child = spawn(
    process.execPath,
    ["--conditions=development", "--import", "tsx", "src/cli.ts", "run", "--kubeconfig", options.kubeconfig, "--key-size", String(options.keySize ?? 2048)],
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
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    healthPort,
    metricsPort,
    output: () => output,
    async stop(signal = "SIGTERM") {
      const started = Date.now();
      child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
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
