// pnpm demo — pairs a runtime with the Compass simulator through the real CLI, renews, and shows the result.
// (The full agent demo against a real kube-apiserver replaces this once the controller exists.)
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import { SimAdmin } from "../test/support/admin.js";

const appDir = fileURLToPath(new URL("..", import.meta.url));

function cli(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=development", "--import", "tsx", "src/cli.ts", ...args], {
      cwd: appDir,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

function step(text: string): void {
  process.stdout.write(`\n==> ${text}\n`);
}

const sim = await startCompassSimulator({});
const work = await mkdtemp(join(tmpdir(), "runtime-agent-demo-"));
try {
  const admin = new SimAdmin(sim.adminUrl);
  step(`Compass simulator ready: connector ${sim.connectorUrl}`);
  const runtime = await admin.createRuntime("demo-runtime");
  const { token, connectorURL, expiresAt } = await admin.issueToken(runtime.id);
  step(`Runtime ${runtime.id} registered; one-time token issued (expires ${expiresAt})`);

  const dir = join(work, "certs");
  step("runtime-agent pair");
  if ((await cli(["pair", "--connector-url", connectorURL, "--token", token, "--out", dir, "--ca-file", sim.serverCaFile])) !== 0) {
    throw new Error("pairing failed");
  }
  step("runtime-agent renew (over mTLS with the new certificate)");
  if ((await cli(["renew", "--cert-dir", dir, "--ca-file", sim.serverCaFile])) !== 0) throw new Error("renewal failed");

  const connection = JSON.parse(await readFile(join(dir, "connection.json"), "utf8")) as { fingerprint: string };
  const state = await admin.state();
  step(`Compass has issued ${state.issuedCertificates.length} certificates; current one ${connection.fingerprint.slice(0, 16)}…`);
  step("Reusing the spent token is refused (exit code 3):");
  const reused = await cli(["pair", "--connector-url", connectorURL, "--token", token, "--out", join(work, "again"), "--ca-file", sim.serverCaFile]);
  process.stdout.write(`exit code ${reused}\n`);
  step("Demo finished.");
} finally {
  await sim.close();
  await rm(work, { recursive: true, force: true });
}
