// pnpm bench — the agent process (built dist) against kube-testenv and the Compass simulator:
// first pairing + full sync of 1,000 applications (5 bundles × (3 APIs + 2 events), half with credentials),
// then a cycle with no change in Compass, then a cycle with one application changed.
// Prints a table, then one JSON record as the last line.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import { createK8sStore, DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import { startControlPlane } from "@runtime-agent/kube-testenv";
import { freePort, waitFor } from "../test/support/agent-process.js";
import { CONFIG_SECRET } from "../test/support/scenario.js";
import { diff, parseCounters, sumBy } from "./metrics-scrape.js";
import { round } from "./stats.js";

const APPS = Number(process.env.BENCH_APPS ?? 1000);
const appDir = fileURLToPath(new URL("..", import.meta.url));

const cp = await startControlPlane({
  crds: [fileURLToPath(new URL("../../../schemas/crds", import.meta.url))],
  rbacDir: fileURLToPath(new URL("../deploy", import.meta.url)),
});
const sim = await startCompassSimulator({
  generate: { applications: APPS, bundles: 5, apis: 3, events: 2, credentialsRatio: 0.5 },
  requestLogLimit: 1_000_000,
});
const store = createK8sStore({ kubeconfigPath: cp.kubeconfigPath });
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
// BENCH_AGENT_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the agent process.
const nodeArgs = (process.env.BENCH_AGENT_NODE_ARGS ?? "").split(" ").filter(Boolean);
const agent = spawn(process.execPath, [...nodeArgs, "dist/cli.js", "run", "--kubeconfig", cp.agentKubeconfigPath], {
  cwd: appDir,
  env: {
    ...process.env,
    APP_COMPASS_CA_FILE: sim.serverCaFile,
    APP_CONTROLLER_SYNC_PERIOD: "300s", // only the measured cycles run
    APP_MINIMAL_COMPASS_SYNC_TIME: "1s",
    APP_HEALTH_PORT: String(healthPort),
    APP_METRICS_PORT: String(metricsPort),
    APP_LOG_LEVEL: "warn",
  },
  stdio: ["ignore", "inherit", "inherit"],
});

const scrape = async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
const compassRequests = () => sim.state.snapshot().requestLog.filter((r) => r.api !== undefined).length;
const writesOf = (text: string) => sumBy(parseCounters(text, "cra_kubernetes_writes_total"), "kind");
const requestsByVerb = (text: string) => sumBy(parseCounters(text, "cra_kubernetes_requests_total"), "verb");
const totalWrites = (w: Record<string, number>) => (w["Application"] ?? 0) + (w["Secret"] ?? 0);

try {
  // 1. From the agent's start to every application applied (pairing included).
  await waitFor(
    "the full synchronization",
    async () => {
      const cc = await store.compassConnections.find(DEFAULT_COMPASS_CONNECTION_NAME);
      return cc?.status?.connectionState === "Synchronized" ? cc : undefined;
    },
    300_000,
    50,
  );
  const fullSyncSeconds = (performance.now() - started) / 1000;
  const applied = (await store.applications.listManaged()).length;
  if (applied !== APPS) throw new Error(`expected ${APPS} Applications, found ${applied}`);
  const afterFull = await scrape();
  const compassFull = compassRequests();

  // 2. and 3. One forced cycle each (spec.resyncNow), measured until the agent resets the flag.
  const cycle = async () => {
    const before = await scrape();
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
      120_000,
      20,
    );
    const seconds = (performance.now() - t0) / 1000;
    const after = await scrape();
    return {
      seconds,
      writes: diff(writesOf(after), writesOf(before)),
      requests: diff(requestsByVerb(after), requestsByVerb(before)),
      compass: compassRequests() - compassBefore,
    };
  };
  const noChange = await cycle();
  const app = sim.state.snapshot().applications[0]!;
  sim.updateApplication(app.id, { description: "changed by the benchmark" });
  const oneChange = await cycle();

  const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

  const fullRequests = requestsByVerb(afterFull);
  const verbs = ["get", "list", "watch", "create", "update", "patch", "delete"];
  const row = (name: string, seconds: number, requests: Record<string, number>, writes: number, compass: number) =>
    `${name.padEnd(22)} ${seconds.toFixed(3).padStart(8)} ${verbs.map((v) => String(requests[v] ?? 0).padStart(7)).join("")} ${String(writes).padStart(7)} ${String(compass).padStart(8)}`;
  console.log(`${"cycle".padEnd(22)} ${"seconds".padStart(8)} ${verbs.map((v) => v.padStart(7)).join("")} ${"writes".padStart(7)} ${"compass".padStart(8)}`);
  console.log(row("pairing + full sync", fullSyncSeconds, fullRequests, totalWrites(writesOf(afterFull)), compassFull));
  console.log(row("no change", noChange.seconds, noChange.requests, totalWrites(noChange.writes), noChange.compass));
  console.log(row("one app changed", oneChange.seconds, oneChange.requests, totalWrites(oneChange.writes), oneChange.compass));
  console.log(`peak RSS of the agent process: ${peakRssMb.toFixed(1)} MB`);
  console.log(
    JSON.stringify({
      bench: "agent-sync",
      apps: APPS,
      fullSyncSeconds: round(fullSyncSeconds),
      noChangeSeconds: round(noChange.seconds),
      noChangeWrites: totalWrites(noChange.writes),
      oneChangeWrites: totalWrites(oneChange.writes),
      peakRssMb: round(peakRssMb, 1),
    }),
  );
} finally {
  agent.kill("SIGTERM");
  await new Promise((resolve) => agent.once("exit", resolve));
  await store.close();
  await sim.close();
  await cp.stop();
}
