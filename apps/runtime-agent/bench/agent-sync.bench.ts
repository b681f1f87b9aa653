// pnpm bench — the agent process against kube-testenv and the Compass simulator:
// first pairing + full sync of 1,000 applications (5 bundles × (3 APIs + 2 events), half with credentials),
// then a cycle with no change in Compass, then a cycle with one application changed; then, with the agent stopped,
// the physical floor of the full sync (bench/floor.ts): the same Applications and Secrets the agent created,
// created again under fresh names by a plain POST loop at the agent's write concurrency against the same API
// server, and the full sync as a ratio of it (fullSyncRatioToFloor; the full sync includes pairing and fetching).
// The agent runs as the image runs it: the esbuild bundle (build/bundle.mjs, built here into a temp dir) with the
// Node flags and environment of build/node-flags.json (the Dockerfile must use the same). BENCH_AGENT_ENTRY=dist
// runs the unbundled tsc output (dist/cli.js) instead; BENCH_AGENT_NODE_ARGS adds flags (profiling).
// Options: --apps N (default 1000), --bundles B (5), --apis A (3), --events E (2) set the simulator's tenant (each
// application B bundles × (A APIs + E events), half with credentials); --no-floor skips step 4 (bench:scale).
// Prints a table, then one JSON record as the last line.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import { createK8sStore, DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import { startControlPlane } from "@runtime-agent/kube-testenv";
import { freePort, waitFor } from "../test/support/agent-process.js";
import { CONFIG_SECRET } from "../test/support/scenario.js";
import { floorCreate } from "./floor.js";
import { diff, parseCounters, sumBy } from "./metrics-scrape.js";
import { round } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    apps: { type: "string", default: "1000" },
    bundles: { type: "string", default: "5" },
    apis: { type: "string", default: "3" },
    events: { type: "string", default: "2" },
    floor: { type: "boolean", default: true },
  },
  allowNegative: true,
});
function count(name: "apps" | "bundles" | "apis" | "events", min: number): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min}, not ${JSON.stringify(args[name])}`);
  return value;
}
const APPS = count("apps", 1);
const shape = { bundles: count("bundles", 0), apis: count("apis", 0), events: count("events", 0) };
const appDir = fileURLToPath(new URL("..", import.meta.url));

// What ships: the bundle and the image's Node flags.
const ENTRY = process.env.BENCH_AGENT_ENTRY ?? "bundle";
const image = JSON.parse(readFileSync(join(appDir, "build", "node-flags.json"), "utf8")) as { flags: string[]; env: Record<string, string> };
const imageFlags = image.flags;
const bundleDir = mkdtempSync(join(tmpdir(), "bench-agent-bundle-"));
let entryFile = join(appDir, "dist", "cli.js");
if (ENTRY === "bundle") {
  entryFile = join(bundleDir, "runtime-agent.mjs");
  const { bundle } = (await import(new URL("../build/bundle.mjs", import.meta.url).href)) as { bundle: (o: { outfile: string }) => Promise<unknown> };
  await bundle({ outfile: entryFile });
} else if (ENTRY !== "dist") {
  throw new Error(`BENCH_AGENT_ENTRY must be "bundle" or "dist", not ${ENTRY}`);
}

const cp = await startControlPlane({
  crds: [fileURLToPath(new URL("../../../schemas/crds", import.meta.url))],
  rbacDir: fileURLToPath(new URL("../deploy", import.meta.url)),
});
const sim = await startCompassSimulator({
  generate: { applications: APPS, ...shape, credentialsRatio: 0.5 },
  requestLogLimit: 1_000_000,
});
const store = createK8sStore({ kubeconfigPath: cp.kubeconfigPath });

/** CPU seconds (user + system) of a process, from /proc; 0 when it is gone. */
function cpuSeconds(pid: number | string | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
/** The kube-apiserver and etcd of this control plane (their CPU is what a full synchronization mostly costs). */
const serverPids = (() => {
  const port = new URL(cp.server).port;
  const cmdline = (pid: string): string[] => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      return [];
    }
  };
  const pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  const apiserver = pids.find((pid) => cmdline(pid).includes("kube-apiserver") && cmdline(pid).includes(`--secure-port=${port}`));
  const etcdUrl = cmdline(apiserver ?? "").find((a) => a.startsWith("--etcd-servers="))?.slice("--etcd-servers=".length);
  const etcd = pids.find((pid) => etcdUrl !== undefined && cmdline(pid).includes("etcd") && cmdline(pid).includes(etcdUrl));
  return [apiserver, etcd].filter((p): p is string => p !== undefined);
})();
const serverCpu = (): number => serverPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
const generated = sim.generated!;
const { token } = sim.issueToken(generated.runtimeId);
await store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, {
  CONNECTOR_URL: sim.connectorUrl,
  TOKEN: token,
  RUNTIME_ID: generated.runtimeId,
  TENANT: generated.tenant,
});

const metricsPort = await freePort();
const healthPort = await freePort();
const started = performance.now();
const serverCpuAtStart = serverCpu();
// BENCH_AGENT_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the agent process.
const nodeArgs = [...(ENTRY === "bundle" ? imageFlags : []), ...(process.env.BENCH_AGENT_NODE_ARGS ?? "").split(" ").filter(Boolean)];
console.log(`agent: node ${[...nodeArgs, ENTRY === "bundle" ? "<bundle>" : "dist/cli.js"].join(" ")} run`);
const agent = spawn(process.execPath, [...nodeArgs, entryFile, "run", "--kubeconfig", cp.agentKubeconfigPath], {
  cwd: appDir,
  env: {
    ...process.env,
    ...(ENTRY === "bundle" ? image.env : {}),
    APP_COMPASS_CA_FILE: sim.serverCaFile,
    APP_CONTROLLER_SYNC_PERIOD: "300s", // only the measured cycles run
    APP_MINIMAL_COMPASS_SYNC_TIME: "1s",
    APP_HEALTH_PORT: String(healthPort),
    APP_METRICS_PORT: String(metricsPort),
    APP_LOG_LEVEL: process.env.BENCH_AGENT_LOG_LEVEL ?? "warn",
  },
  stdio: ["ignore", "inherit", "inherit"],
});

const agentExited = new Promise((resolve) => agent.once("exit", resolve));
async function stopAgent(): Promise<void> {
  if (agent.exitCode === null && agent.signalCode === null) agent.kill("SIGTERM");
  await agentExited;
}

/** The floor (see the header) against this control plane; the agent must be stopped. */
async function measureFloor() {
  const integrationNamespace = process.env.APP_INTEGRATION_NAMESPACE ?? "kyma-system";
  const agentApps = await store.applications.listManaged();
  const agentSecrets = await store.applications.listManagedSecrets(integrationNamespace);
  const serverCpuBefore = serverCpu();
  const clientCpuBefore = process.cpuUsage();
  const floor = await floorCreate(cp.agentKubeconfigPath, agentApps, agentSecrets);
  const clientCpuUs = process.cpuUsage(clientCpuBefore);
  return { ...floor, cpu: { agent: (clientCpuUs.user + clientCpuUs.system) / 1e6, server: serverCpu() - serverCpuBefore } };
}

const scrape = async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
const compassRequests = () => sim.state.snapshot().requestLog.filter((r) => r.api !== undefined).length;
const writesOf = (text: string) => sumBy(parseCounters(text, "cra_kubernetes_writes_total"), "kind");
const requestsByVerb = (text: string) => sumBy(parseCounters(text, "cra_kubernetes_requests_total"), "verb");
const totalWrites = (w: Record<string, number>) => (w["Application"] ?? 0) + (w["Secret"] ?? 0);

// BENCH_TIMELINE=1 samples the agent's request counters and RSS every 500 ms (BENCH_TIMELINE_MS) during the full
// sync and prints them (BENCH_TIMELINE_ALL=1: until the end).
const timeline: string[] = [];
let midSnapshot = false;
const sampler =
  process.env.BENCH_TIMELINE === "1"
    ? setInterval(() => {
        void scrape()
          .then((text) => {
            const r = requestsByVerb(text);
            // BENCH_AGENT_HEAP_SNAPSHOT=mid: one heap snapshot of the agent in the middle of the full sync's writes
            // (with BENCH_AGENT_NODE_ARGS=--heapsnapshot-signal=SIGUSR2; written to the agent's working directory).
            if (process.env.BENCH_AGENT_HEAP_SNAPSHOT === "mid" && !midSnapshot && (r["create"] ?? 0) > 2500) {
              midSnapshot = true;
              agent.kill("SIGUSR2");
            }
            const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, "utf8"))?.[1] ?? "0";
            const mb = (name: string) => Math.round(Number(new RegExp(`^cra_${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0) / 2 ** 20);
            timeline.push(
              `${((performance.now() - started) / 1000).toFixed(2).padStart(6)} s ${phase.padEnd(20)} list ${r["list"] ?? 0}  create ${r["create"] ?? 0}  patch ${r["patch"] ?? 0}  update ${r["update"] ?? 0}  compass ${compassRequests()}  rss ${Math.round(Number(rss) / 1024)} MB  heap ${mb("nodejs_heap_size_used_bytes")}/${mb("nodejs_heap_size_total_bytes")} MB  external ${mb("nodejs_external_memory_bytes")} MB`,
            );
          })
          .catch(() => undefined);
      }, Number(process.env.BENCH_TIMELINE_MS ?? 500))
    : undefined;

// BENCH_RSS_WATCH=1 notes every rise of the agent's peak RSS (VmHWM, read every 5 ms) with the phase it fell in.
let phase = "pairing + full sync";
const hwmRises: string[] = [];
let lastHwm = 0;
const hwmWatch =
  process.env.BENCH_RSS_WATCH === "1"
    ? setInterval(() => {
        try {
          const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
          if (hwm >= lastHwm + 2) {
            hwmRises.push(`${((performance.now() - started) / 1000).toFixed(2).padStart(7)} s  peak RSS ${hwm.toFixed(1)} MB  (${phase})`);
            lastHwm = hwm;
          }
        } catch {
          // the agent is gone
        }
      }, 5)
    : undefined;

try {
  // 1. From the agent's start to every application applied (pairing included).
  await waitFor(
    "the full synchronization",
    async () => {
      const cc = await store.compassConnections.find(DEFAULT_COMPASS_CONNECTION_NAME);
      return cc?.status?.connectionState === "Synchronized" ? cc : undefined;
    },
    Math.max(300_000, APPS * 200), // a hang guard, not a target
    50,
  );
  const fullSyncSeconds = (performance.now() - started) / 1000;
  if (sampler !== undefined && process.env.BENCH_TIMELINE_ALL !== "1") {
    clearInterval(sampler);
    console.log(timeline.join("\n"));
  }
  phase = "after the full sync";
  const applied = (await store.applications.listManaged()).length;
  if (applied !== APPS) throw new Error(`expected ${APPS} Applications, found ${applied}`);
  const afterFull = await scrape();
  const fullCpu = { agent: cpuSeconds(agent.pid), server: serverCpu() - serverCpuAtStart };
  const peakRssAfterFullMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  const compassFull = compassRequests();

  // 2. and 3. One forced cycle each (spec.resyncNow), measured until the agent resets the flag. Each starts when
  // the agent is idle: pairing's own Secret writes ask for a cycle that runs right after the full sync, and a
  // measured cycle that overlapped it would count part of it.
  const waitForIdle = () => {
    let last = cpuSeconds(agent.pid);
    return waitFor(
      "the agent to be idle",
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const now = cpuSeconds(agent.pid);
        const idle = now - last < 0.02;
        last = now;
        return idle ? true : undefined;
      },
      Math.max(120_000, APPS * 60),
      0,
    );
  };
  const cycle = async () => {
    await waitForIdle();
    const before = await scrape();
    const agentCpuBefore = cpuSeconds(agent.pid);
    const serverCpuBefore = serverCpu();
    const compassBefore = compassRequests();
    const t0 = performance.now();
    await store.compassConnections.mutate(DEFAULT_COMPASS_CONNECTION_NAME, (cc) => {
      cc.spec.resyncNow = true;
    });
    await waitFor(
      "the cycle",
      async () => {
        const cc = await store.compassConnections.find(DEFAULT_COMPASS_CONNECTION_NAME);
        return cc?.spec.resyncNow === false && cc.status?.connectionState === "Synchronized" ? true : undefined;
      },
      Math.max(120_000, APPS * 60),
      20,
    );
    const seconds = (performance.now() - t0) / 1000;
    const after = await scrape();
    return {
      seconds,
      cpu: { agent: cpuSeconds(agent.pid) - agentCpuBefore, server: serverCpu() - serverCpuBefore },
      writes: diff(writesOf(after), writesOf(before)),
      requests: diff(requestsByVerb(after), requestsByVerb(before)),
      compass: compassRequests() - compassBefore,
    };
  };
  phase = "no change";
  const noChange = await cycle();
  phase = "between";
  const app = sim.state.snapshot().applications[0]!;
  sim.updateApplication(app.id, { description: "changed by the benchmark" });
  phase = "one app changed";
  const oneChange = await cycle();
  phase = "after";
  // BENCH_AGENT_HEAP_SNAPSHOT=end: one heap snapshot of the agent after the measured cycles (what it keeps between cycles).
  if (process.env.BENCH_AGENT_HEAP_SNAPSHOT === "end") {
    agent.kill("SIGUSR2");
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
  if (sampler !== undefined && process.env.BENCH_TIMELINE_ALL === "1") {
    clearInterval(sampler);
    console.log(timeline.join("\n"));
  }
  if (hwmWatch !== undefined) {
    clearInterval(hwmWatch);
    console.log(hwmRises.join("\n"));
  }

  if (process.env.BENCH_AGENT_SMAPS === "1") {
    // Where the agent's resident memory is, by mapping (diagnostics).
    const byMapping = new Map<string, number>();
    let current = "";
    for (const line of readFileSync(`/proc/${agent.pid}/smaps`, "utf8").split("\n")) {
      const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (header) current = `${header[2] || "[anon]"} ${header[1]}`;
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss) byMapping.set(current, (byMapping.get(current) ?? 0) + Number(rss[1]));
    }
    for (const [name, kb] of [...byMapping].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`smaps ${String(Math.round(kb / 1024)).padStart(5)} MB  ${name}`);
    // Anonymous mappings by size class: V8 heap pages are 256 KiB each, malloc arenas of threads are 64 MiB regions.
    const classes = new Map<string, { count: number; rssKb: number }>();
    let size = 0;
    let anon = false;
    for (const line of readFileSync(`/proc/${agent.pid}/smaps`, "utf8").split("\n")) {
      const header = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (header) {
        size = (parseInt(header[2]!, 16) - parseInt(header[1]!, 16)) / 1024;
        anon = (header[3] ?? "") === "";
      }
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss && anon) {
        const cls = size >= 65536 ? ">=64M" : size >= 1024 ? "1M-64M" : size >= 256 ? "256K-1M" : "<256K";
        const e = classes.get(cls) ?? { count: 0, rssKb: 0 };
        e.count++;
        e.rssKb += Number(rss[1]);
        classes.set(cls, e);
      }
    }
    for (const [cls, e] of classes) console.log(`smaps anon ${cls.padStart(8)}: ${e.count} mappings, ${Math.round(e.rssKb / 1024)} MB resident`);
  }
  const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

  // 4. The floor: the agent stopped (it would see the copies), the objects it wrote created again by a plain loop.
  await stopAgent();
  phase = "floor";
  const floor = args.floor ? await measureFloor() : undefined;
  const ratioToFloor = floor === undefined ? undefined : fullSyncSeconds / floor.seconds;
  // CPU seconds (client + kube-apiserver + etcd) hold up better than wall-clock seconds when other work loads the machine.
  const cpuRatioToFloor = floor === undefined ? undefined : (fullCpu.agent + fullCpu.server) / (floor.cpu.agent + floor.cpu.server);

  const fullRequests = requestsByVerb(afterFull);
  const verbs = ["get", "list", "watch", "create", "update", "patch", "delete"];
  const row = (name: string, seconds: number, requests: Record<string, number>, writes: number, compass: number, cpu: { agent: number; server: number }) =>
    `${name.padEnd(22)} ${seconds.toFixed(3).padStart(8)} ${verbs.map((v) => String(requests[v] ?? 0).padStart(7)).join("")} ${String(writes).padStart(7)} ${String(compass).padStart(8)} ${cpu.agent.toFixed(2).padStart(10)} ${cpu.server.toFixed(2).padStart(11)}`;
  console.log(
    `${"cycle".padEnd(22)} ${"seconds".padStart(8)} ${verbs.map((v) => v.padStart(7)).join("")} ${"writes".padStart(7)} ${"compass".padStart(8)} ${"agent CPU".padStart(10)} ${"server CPU".padStart(11)}`,
  );
  console.log(row("pairing + full sync", fullSyncSeconds, fullRequests, totalWrites(writesOf(afterFull)), compassFull, fullCpu));
  console.log(row("no change", noChange.seconds, noChange.requests, totalWrites(noChange.writes), noChange.compass, noChange.cpu));
  console.log(row("one app changed", oneChange.seconds, oneChange.requests, totalWrites(oneChange.writes), oneChange.compass, oneChange.cpu));
  if (floor !== undefined) {
    console.log(row(`floor: plain POST loop`, floor.seconds, { create: floor.applications + floor.secrets }, floor.applications + floor.secrets, 0, floor.cpu));
    console.log(
      `(floor: the agent's ${floor.applications} Applications + ${floor.secrets} Secrets created again under fresh names with node:https, ${floor.concurrency} in flight (the agent's write concurrency), each Application's Secrets after it, its client CPU under "agent CPU"; full sync = ${ratioToFloor?.toFixed(2)} × the floor's seconds, ${cpuRatioToFloor?.toFixed(2)} × its CPU)`,
    );
  }
  console.log(`(CPU in seconds: the agent process; kube-apiserver + etcd. Machine load average: ${loadavg().map((l) => l.toFixed(2)).join(" ")})`);
  console.log(`peak RSS of the agent process: ${peakRssMb.toFixed(1)} MB (${peakRssAfterFullMb.toFixed(1)} MB until the end of the full sync)`);
  console.log(
    JSON.stringify({
      bench: "agent-sync",
      apps: APPS,
      ...shape,
      entry: ENTRY,
      nodeFlags: nodeArgs,
      nodeEnv: ENTRY === "bundle" ? image.env : {},
      fullSyncSeconds: round(fullSyncSeconds),
      ...(floor !== undefined && ratioToFloor !== undefined && cpuRatioToFloor !== undefined
        ? {
            floorSeconds: round(floor.seconds),
            fullSyncRatioToFloor: round(ratioToFloor, 2),
            floorObjects: floor.applications + floor.secrets,
            floorConcurrency: floor.concurrency,
            floorClientCpuSeconds: round(floor.cpu.agent),
            floorServerCpuSeconds: round(floor.cpu.server),
            fullSyncCpuRatioToFloor: round(cpuRatioToFloor, 2),
          }
        : {}),
      noChangeSeconds: round(noChange.seconds),
      noChangeAgentCpuSeconds: round(noChange.cpu.agent),
      noChangeWrites: totalWrites(noChange.writes),
      oneChangeWrites: totalWrites(oneChange.writes),
      peakRssMb: round(peakRssMb, 1),
      peakRssFullSyncMb: round(peakRssAfterFullMb, 1),
      fullSyncAgentCpuSeconds: round(fullCpu.agent),
      fullSyncServerCpuSeconds: round(fullCpu.server),
      loadAverage1m: round(loadavg()[0] ?? 0),
    }),
  );
} finally {
  if (process.env.BENCH_AGENT_HEAP_SNAPSHOT === "1") {
    // With BENCH_AGENT_NODE_ARGS="--heapsnapshot-signal=SIGUSR2": a heap snapshot of the agent after the cycles.
    agent.kill("SIGUSR2");
    await new Promise((resolve) => setTimeout(resolve, 15_000));
  }
  await stopAgent();
  await store.close();
  await sim.close();
  await cp.stop();
  rmSync(bundleDir, { recursive: true, force: true });
}
