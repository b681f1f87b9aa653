// pnpm --filter @runtime-agent/app-sync bench — fetch and convert 1,000 applications from the Compass simulator.
//
// Three processes: the simulator (`compass-sim --generate-apps …`), this orchestrator (starts it and pairs with
// openssl and node:https — this package depends on the Director client only), and the measured process,
// bench/fetch-run.mjs: plain Node.js on the built libraries with the runtime agent's Node flags and environment
// (apps/runtime-agent/build/node-flags.json), so its peak RSS is what fetching and converting costs in the agent,
// without tsx or the simulator. A measured run is getRuntimeLabels + listApplicationsForRuntime (in parallel, as
// the agent does) + buildDesiredState. One cold run by default (what one sync costs); BENCH_FETCH_RUNS=n for more
// (wallSeconds is then the median). The peak RSS includes what the measured process holds before the first fetch
// (node and the two libraries): `rssBeforeFetchMb` in the JSON record.
// Prints a table, then one JSON record as the last line.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const APPS = Number(process.env["BENCH_FETCH_APPS"] ?? 1000);
const RUNS = Number(process.env["BENCH_FETCH_RUNS"] ?? 1);
const SHAPE = { bundles: 5, apis: 3, events: 2, credentialsRatio: 0.5 };

interface Ready {
  connectorUrl: string;
  serverCaFile: string;
  runtimeId: string;
  tenant: string;
  token: string;
}

const simDir = fileURLToPath(new URL("../../compass-sim/", import.meta.url));

async function startSimulator(): Promise<{ ready: Ready; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      "--conditions=development", "--import", "tsx", "src/cli.ts", "--quiet",
      "--generate-apps", String(APPS), "--bundles", String(SHAPE.bundles), "--apis", String(SHAPE.apis),
      "--events", String(SHAPE.events), "--credentials-ratio", String(SHAPE.credentialsRatio),
    ],
    { cwd: simDir, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`compass-sim exited with ${code} before it was ready`)));
  });
  return {
    ready: JSON.parse(line) as Ready,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function post(url: string, caPem: string, headers: Record<string, string>, body: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", ca: caPem, headers: { "content-type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => {
        const json = JSON.parse(text) as { data?: Record<string, unknown>; errors?: unknown };
        if (!json.data) reject(new Error(`Connector answered ${res.statusCode}: ${text}`));
        else resolve(json.data);
      });
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** The one-time-token flow: configuration → key + CSR (openssl) → signCertificateSigningRequest. */
async function pair(ready: Ready, caPem: string, dir: string) {
  const configuration = (await post(ready.connectorUrl, caPem, { "connector-token": ready.token }, {
    query: "{ result: configuration { token { token } certificateSigningRequestInfo { subject } managementPlaneInfo { directorURL } } }",
  }))["result"] as { token: { token: string }; certificateSigningRequestInfo: { subject: string }; managementPlaneInfo: { directorURL: string } };
  const subject = "/" + configuration.certificateSigningRequestInfo.subject.split(",").join("/");
  const keyPath = join(dir, "key.pem");
  const csrPath = join(dir, "csr.pem");
  await promisify(execFile)("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", csrPath, "-subj", subject]);
  const csr = (await readFile(csrPath)).toString("base64");
  const signed = (await post(ready.connectorUrl, caPem, { "connector-token": configuration.token.token }, {
    query: `mutation { result: signCertificateSigningRequest(csr: "${csr}") { certificateChain } }`,
  }))["result"] as { certificateChain: string };
  return {
    directorUrl: configuration.managementPlaneInfo.directorURL,
    keyPem: await readFile(keyPath, "utf8"),
    certificateChainPem: Buffer.from(signed.certificateChain, "base64").toString("utf8"),
  };
}

/** The runtime agent's Node flags and environment (what the image runs with). */
const agentRuntime = JSON.parse(
  await readFile(fileURLToPath(new URL("../../../apps/runtime-agent/build/node-flags.json", import.meta.url)), "utf8"),
) as { flags: string[]; env: Record<string, string> };

interface Measured {
  rssBeforeFetchMb: number;
  peakRssMb: number;
  runs: Array<{ seconds: number; requests: number; bytes: number; fetched: number; applications: number; secrets: number; conflicts: number }>;
}

/** Runs bench/fetch-run.mjs in its own process and returns what it measured. */
async function measure(input: Record<string, unknown>): Promise<Measured> {
  const child = spawn(process.execPath, [...agentRuntime.flags, fileURLToPath(new URL("fetch-run.mjs", import.meta.url))], {
    env: { ...process.env, ...agentRuntime.env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  child.stdin.end(JSON.stringify(input));
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`bench/fetch-run.mjs exited with ${code}`);
  return JSON.parse(out) as Measured;
}

const { ready, stop } = await startSimulator();
const work = await mkdtemp(join(tmpdir(), "bench-fetch-"));
try {
  const caPem = await readFile(ready.serverCaFile, "utf8");
  const paired = await pair(ready, caPem, work);
  const { rssBeforeFetchMb, peakRssMb, runs } = await measure({
    directorUrl: paired.directorUrl,
    tenant: ready.tenant,
    runtimeId: ready.runtimeId,
    caPem,
    keyPem: paired.keyPem,
    certificateChainPem: paired.certificateChainPem,
    runs: RUNS,
  });
  for (const run of runs) if (run.fetched !== APPS) throw new Error(`expected ${APPS} applications, got ${run.fetched}`);
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const cold = runs[0]!;
  const round = (n: number) => Math.round(n * 1000) / 1000;

  console.log(`fetch + convert: ${APPS} applications × ${SHAPE.bundles} bundles × (${SHAPE.apis} APIs + ${SHAPE.events} events), ${SHAPE.credentialsRatio * 100}% with credentials`);
  console.log("run   wall (s)  requests  bytes       CRs   Secrets  conflicts");
  runs.forEach((r, i) =>
    console.log(
      `${String(i + 1).padEnd(4)}  ${r.seconds.toFixed(3).padStart(8)}  ${String(r.requests).padStart(8)}  ${String(r.bytes).padStart(10)}  ${String(r.applications).padStart(4)}  ${String(r.secrets).padStart(7)}  ${String(r.conflicts).padStart(9)}`,
    ),
  );
  console.log(`peak RSS of the measuring process (node ${agentRuntime.flags.join(" ")}): ${peakRssMb} MB, of which ${rssBeforeFetchMb} MB before the first fetch`);
  console.log(
    JSON.stringify({
      bench: "fetch",
      apps: APPS,
      wallSeconds: round(median.seconds),
      coldWallSeconds: round(cold.seconds),
      runs: RUNS,
      requests: median.requests,
      bytes: median.bytes,
      peakRssMb,
      rssBeforeFetchMb,
      nodeFlags: agentRuntime.flags,
      nodeEnv: agentRuntime.env,
      targetWallSeconds: 2,
      targetPeakRssMb: 150,
    }),
  );
} finally {
  await stop();
  await rm(work, { recursive: true, force: true });
}
