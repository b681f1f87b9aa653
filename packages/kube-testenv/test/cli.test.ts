import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { clientFor, fixtures } from "./helpers.js";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Runs the CLI from source (node + tsx loader, one process, so signals reach it directly). */
function runCli(args: string[]) {
  return spawn(process.execPath, ["--import", "tsx", join(pkgDir, "src", "cli.ts"), ...args], {
    cwd: pkgDir,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, USE_EXISTING_CLUSTER: "" },
  });
}

describe("kube-testenv CLI", () => {
  it("`up` prints exactly one ready line, serves, and exits cleanly on SIGTERM", async () => {
    const child = runCli(["up", "--crds", join(fixtures, "crds")]);
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const firstLine = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
        const nl = stdout.indexOf("\n");
        if (nl >= 0) resolve(stdout.slice(0, nl));
      });
      child.once("exit", (code) => reject(new Error(`cli exited (${code}) before ready:\n${stderr}`)));
    });

    const ready = JSON.parse(firstLine) as { event: string; kubeconfig: string; agentKubeconfig: string };
    expect(Object.keys(ready)).toEqual(["event", "kubeconfig", "agentKubeconfig"]);
    expect(ready.event).toBe("ready");
    expect(existsSync(ready.kubeconfig)).toBe(true);
    expect(existsSync(ready.agentKubeconfig)).toBe(true);

    const admin = clientFor(ready.kubeconfig);
    try {
      expect((await admin.request("GET", "/apis/testenv.example.com/v1/namespaces/default/widgets")).status).toBe(200);
    } finally {
      admin.close();
    }

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout).toBe(`${firstLine}\n`);
    expect(stderr).toContain("stopped");
    expect(existsSync(dirname(ready.kubeconfig))).toBe(false);
  }, 180_000);

  it("rejects unknown arguments with exit code 2", async () => {
    const child = runCli(["up", "--bogus"]);
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).toBe(2);
  }, 60_000);
});
