// pnpm bench:scale — how the agent's time, CPU and memory grow with the number of applications.
// Runs bench/agent-sync.bench.ts (the image's bundle and flags, its own kube-testenv and simulator each time,
// no floor) for each size, in this order:
//   200 applications × 2 bundles × (2 APIs + 1 event)   the workload Kyma's Go agent was compared on
//   1,000 applications × 5 bundles × (3 APIs + 2 events)  the `pnpm bench` workload
//   5,000 applications × 5 bundles × (3 APIs + 2 events)  the same shape, five times larger
// Half of the applications have credentials. `--runs K` repeats each size K times and reports the median of each
// figure (sizes interleaved, so a slow moment of the machine does not hit one size only); `--apps 200,1000` picks sizes.
// Prints a table, then one JSON record as the last line:
//   {"bench":"agent-scale","runs":[{"apps":200,"fullSyncSeconds":…,"noChangeAgentCpuSeconds":…,"peakRssMb":…},…]}
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { round } from "./stats.js";

const SHAPES: Record<number, { bundles: number; apis: number; events: number }> = {
  200: { bundles: 2, apis: 2, events: 1 },
  1000: { bundles: 5, apis: 3, events: 2 },
  5000: { bundles: 5, apis: 3, events: 2 },
};
const DEFAULT_SHAPE = SHAPES[1000]!;

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "1" }, apps: { type: "string", default: "200,1000,5000" } } });
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be an integer ≥ 1, not ${JSON.stringify(args.runs)}`);
const sizes = args.apps.split(",").map((s) => Number(s.trim()));
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--apps must be a comma-separated list of integers ≥ 1, not ${JSON.stringify(args.apps)}`);

interface SyncRecord {
  apps: number;
  fullSyncSeconds: number;
  fullSyncAgentCpuSeconds: number;
  noChangeAgentCpuSeconds: number;
  noChangeWrites: number;
  peakRssMb: number;
}

/** One `agent-sync` run as a child process; its output passes through, its last line is the record. */
function runOnce(apps: number): Promise<SyncRecord> {
  const shape = SHAPES[apps] ?? DEFAULT_SHAPE;
  const script = fileURLToPath(new URL("agent-sync.bench.ts", import.meta.url));
  const argv = ["--conditions=development", "--import", "tsx", script, "--no-floor", "--apps", String(apps)];
  argv.push("--bundles", String(shape.bundles), "--apis", String(shape.apis), "--events", String(shape.events));
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    out += chunk;
    process.stdout.write(chunk);
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      const last = out.trimEnd().split("\n").at(-1) ?? "";
      if (code !== 0) return reject(new Error(`agent-sync --apps ${apps} exited with ${code}`));
      try {
        resolve(JSON.parse(last) as SyncRecord);
      } catch {
        reject(new Error(`agent-sync --apps ${apps} did not end with a JSON record: ${last}`));
      }
    });
  });
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const samples = new Map<number, SyncRecord[]>(sizes.map((n) => [n, []]));
for (let i = 0; i < runs; i++) for (const apps of sizes) samples.get(apps)!.push(await runOnce(apps));

const results = sizes.map((apps) => {
  const records = samples.get(apps)!;
  const m = (pick: (r: SyncRecord) => number) => median(records.map(pick));
  const fullSyncSeconds = m((r) => r.fullSyncSeconds);
  const fullSyncAgentCpuSeconds = m((r) => r.fullSyncAgentCpuSeconds);
  return {
    apps,
    ...(SHAPES[apps] ?? DEFAULT_SHAPE),
    samples: records.length,
    fullSyncSeconds: round(fullSyncSeconds),
    fullSyncMsPerApp: round((fullSyncSeconds * 1000) / apps),
    fullSyncAgentCpuSeconds: round(fullSyncAgentCpuSeconds),
    fullSyncAgentCpuMsPerApp: round((fullSyncAgentCpuSeconds * 1000) / apps),
    noChangeAgentCpuSeconds: round(m((r) => r.noChangeAgentCpuSeconds)),
    noChangeWrites: Math.max(...records.map((r) => r.noChangeWrites)),
    peakRssMb: round(m((r) => r.peakRssMb), 1),
    peakRssKbPerApp: round((m((r) => r.peakRssMb) * 1024) / apps, 1),
  };
});

console.log("");
console.log(`${"apps".padStart(6)} ${"full sync s".padStart(12)} ${"ms/app".padStart(7)} ${"agent CPU s".padStart(12)} ${"CPU ms/app".padStart(11)} ${"no-change CPU s".padStart(16)} ${"no-change writes".padStart(17)} ${"peak RSS MB".padStart(12)}`);
for (const r of results) {
  console.log(
    `${String(r.apps).padStart(6)} ${r.fullSyncSeconds.toFixed(2).padStart(12)} ${r.fullSyncMsPerApp.toFixed(2).padStart(7)} ${r.fullSyncAgentCpuSeconds.toFixed(2).padStart(12)} ${r.fullSyncAgentCpuMsPerApp.toFixed(2).padStart(11)} ${r.noChangeAgentCpuSeconds.toFixed(2).padStart(16)} ${String(r.noChangeWrites).padStart(17)} ${r.peakRssMb.toFixed(1).padStart(12)}`,
  );
}
console.log(`(median of ${runs} run${runs === 1 ? "" : "s"} per size; machine load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")})`);
console.log(JSON.stringify({ bench: "agent-scale", runs: results }));
