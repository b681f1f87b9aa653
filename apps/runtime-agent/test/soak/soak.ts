/**
 * Soak: the agent process against the Compass simulator and a real kube-apiserver (kube-testenv) for N minutes,
 * with faults injected at random in front of the Connector and the Director, applications added, changed and
 * removed all the time, and a forced renewal now and then. Every 10 s it samples the agent's RSS and open file
 * descriptors (/proc/<pid>) and its /metrics. At the end it stops the faults, waits for Synchronized and checks:
 *
 *  - every application Compass assigns is in the cluster, with its description and its credentials; nothing else;
 *  - memory and open handles are flat after warm-up (the last third's average against the second third's);
 *  - no error is left unrecorded: every reconcile that did not end Synchronized is counted in the metrics and has its
 *    log line, every transition into a failure state has its Warning Event, no reconcile threw, the process never
 *    exited.
 *
 * It prints the series, a verdict, and one JSON line last. Exit 0 when every check holds, 1 otherwise.
 *
 *   pnpm test:soak -- --minutes 10          (root script: tsx --conditions=development apps/runtime-agent/test/soak/soak.ts)
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startControlPlane } from "@runtime-agent/kube-testenv";
import { startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { metricSum, sleep } from "../support/reliability.js";
import { Scenario } from "../support/scenario.js";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    minutes: { type: "string", default: "10" },
    seed: { type: "string" },
    "sample-seconds": { type: "string", default: "10" },
    "initial-apps": { type: "string", default: "40" },
  },
  strict: true,
});
const minutes = Number(values.minutes);
const sampleMs = Number(values["sample-seconds"]) * 1000;
const initialApps = Number(values["initial-apps"]);
if (!(minutes > 0) || !(sampleMs >= 1000) || !(initialApps >= 1)) {
  console.error("usage: soak.ts [--minutes N (10)] [--seed S] [--sample-seconds S (10)] [--initial-apps N (40)]");
  process.exit(2);
}

// A small seeded PRNG (mulberry32), so a run can be repeated with --seed.
let seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const random = (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const initialSeed = seed;
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const between = (low: number, high: number): number => low + Math.floor(random() * (high - low + 1));

const log = (text: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${text}`);

interface Sample {
  t: number;
  rssMb: number;
  fds: number;
  heapMb: number;
  handles: number;
  reconciles: number;
  failures: number;
  state: string;
  apps: number;
}

interface SoakApp {
  id: string;
  name: string;
  description: string;
  password: string | undefined;
}

function bundleFor(app: SoakApp) {
  return app.password === undefined
    ? []
    : [
        {
          id: bundleId(app.name),
          name: "main",
          apiDefinitions: [{ name: "api", targetURL: `https://${app.name}.example.com/api` }],
          defaultInstanceAuth: { credential: { username: `user-${app.name}`, password: app.password } },
        },
      ];
}

/** A fixed bundle id per application (the Secret's name derives from it). */
function bundleId(name: string): string {
  const n = name.replace(/\D/g, "").padStart(12, "0").slice(-12);
  return `5a5a5a5a-0000-4000-8000-${n}`;
}

function procStatus(pid: number): { rssMb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssMb: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

const average = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

async function main(): Promise<number> {
  const started = Date.now();
  log(`seed ${initialSeed}, ${minutes} min, samples every ${sampleMs / 1000} s, ${initialApps} applications to start with`);
  const cp = await startControlPlane({
    crds: [fileURLToPath(new URL("../../../../schemas/crds", import.meta.url))],
    rbacDir: fileURLToPath(new URL("../../deploy", import.meta.url)),
  });
  let scenario: Scenario | undefined;
  let agent: AgentProcess | undefined;
  try {
    scenario = await Scenario.start(cp.kubeconfigPath);
    const s = scenario;
    const apps = new Map<string, SoakApp>();
    let counter = 0;
    const newApp = async (): Promise<void> => {
      counter++;
      const app: SoakApp = { id: "", name: `soak-${counter}`, description: `soak application ${counter}`, password: random() < 0.5 ? `soak-pw-${counter}-0` : undefined };
      app.id = await s.addApplication({ name: app.name, description: app.description, bundles: bundleFor(app) });
      apps.set(app.id, app);
    };
    for (let i = 0; i < initialApps; i++) await newApp();

    agent = await startAgentProcess({
      kubeconfig: cp.agentKubeconfigPath,
      env: s.agentEnv({ APP_CONTROLLER_SYNC_PERIOD: "3s", APP_MINIMAL_COMPASS_SYNC_TIME: "1s", APP_LOG_LEVEL: "info" }),
    });
    const a = agent;
    const pid = a.child.pid as number;
    await s.waitForState("Synchronized", 120_000);
    log(`paired and synchronized in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${pid})`);

    const samples: Sample[] = [];
    const injected: Record<string, number> = {};
    const changes: Record<string, number> = {};
    const sample = async (): Promise<void> => {
      const proc = procStatus(pid);
      const metrics = await a.metrics();
      const cc = await s.connection();
      samples.push({
        t: Math.round((Date.now() - runStart) / 1000),
        rssMb: Number(proc.rssMb.toFixed(1)),
        fds: proc.fds,
        heapMb: Number((metricSum(metrics, "cra_nodejs_heap_size_used_bytes") / 1048576).toFixed(1)),
        handles: metricSum(metrics, "cra_nodejs_active_handles_total"),
        reconciles: metricSum(metrics, "cra_reconcile_total"),
        failures: failedReconciles(metrics),
        state: cc?.status?.connectionState ?? "",
        apps: (await s.store.applications.listManaged()).length,
      });
    };

    const runStart = Date.now();
    const end = runStart + minutes * 60_000;
    let nextFault = runStart + between(2_000, 5_000);
    let nextChange = runStart + between(1_000, 3_000);
    let nextSample = runStart;
    let nextRenewal = runStart + 60_000;
    while (Date.now() < end) {
      const now = Date.now();
      if (now >= nextSample) {
        await sample();
        const last = samples[samples.length - 1] as Sample;
        log(`t=${last.t}s rss=${last.rssMb}MB fds=${last.fds} heap=${last.heapMb}MB handles=${last.handles} reconciles=${last.reconciles} failed=${last.failures} state=${last.state} apps=${last.apps}/${apps.size}`);
        nextSample += sampleMs;
      }
      if (now >= nextFault) {
        const fault = pick([
          { name: "director 503", rule: { target: "director", status: 503, times: between(1, 3) } },
          { name: "director reset", rule: { target: "director", reset: true, times: between(1, 2) } },
          { name: "director 200 {}", rule: { target: "director", emptyJson: true } },
          { name: "director delay", rule: { target: "director", delayMs: between(500, 4_000) } },
          { name: "director 429", rule: { target: "director", rateLimit: true, retryAfter: between(1, 3) } },
          { name: "connector 503", rule: { target: "connector", status: 503 } },
          { name: "connector 429", rule: { target: "connector", rateLimit: true, retryAfter: between(1, 3) } },
          { name: "connector reset", rule: { target: "connector", reset: true } },
        ]);
        await s.admin.call("POST", "/admin/faults", fault.rule);
        injected[fault.name] = (injected[fault.name] ?? 0) + 1;
        nextFault = now + between(3_000, 8_000);
      }
      if (now >= nextChange) {
        const list = [...apps.values()];
        const kind = list.length < 30 ? "add" : list.length > 60 ? "delete" : pick(["add", "delete", "description", "password", "description", "password"]);
        if (kind === "add") {
          await newApp();
        } else {
          const app = pick(list);
          if (kind === "delete") {
            await s.admin.removeApplication(app.id);
            apps.delete(app.id);
          } else if (kind === "description") {
            app.description = `${app.description.split(" (")[0]} (changed ${counter++})`;
            await s.admin.call("PATCH", `/admin/applications/${app.id}`, { description: app.description });
          } else {
            app.password = app.password === undefined ? `soak-pw-${app.name}-${counter++}` : random() < 0.2 ? undefined : `soak-pw-${app.name}-${counter++}`;
            await s.admin.call("PATCH", `/admin/applications/${app.id}`, { bundles: bundleFor(app) });
          }
        }
        changes[kind] = (changes[kind] ?? 0) + 1;
        nextChange = now + between(1_500, 4_000);
      }
      if (now >= nextRenewal) {
        await s.patchSpec({ refreshCredentialsNow: true });
        changes["renewal"] = (changes["renewal"] ?? 0) + 1;
        nextRenewal = now + 90_000;
      }
      await sleep(100);
    }

    // ---- the end: no more faults; the agent must converge ----
    await s.admin.call("DELETE", "/admin/faults");
    const settleStart = Date.now();
    await s.patchSpec({ resyncNow: true });
    await waitFor("no fault left and a Synchronized cycle after the last change", async () => {
      const cc = await s.connection();
      return cc?.status?.connectionState === "Synchronized" && cc.spec.resyncNow === false && cc.spec.refreshCredentialsNow !== true ? true : undefined;
    }, 120_000);
    await s.waitForNextCycle("Synchronized", 60_000);
    const settleMs = Date.now() - settleStart;
    await sample();

    // Every application present and correct, nothing else.
    const problems: string[] = [];
    const managed = await s.store.applications.listManaged();
    const byName = new Map(managed.map((m) => [m.metadata.name, m]));
    const secrets = await s.appSecrets();
    for (const app of apps.values()) {
      const name = `mp-${app.name}`;
      const found = byName.get(name);
      if (!found) {
        problems.push(`${name} missing`);
        continue;
      }
      if ((found.spec as { description?: string }).description !== app.description) problems.push(`${name}: description ${JSON.stringify((found.spec as { description?: string }).description)} instead of ${JSON.stringify(app.description)}`);
      const secret = secrets.find((x) => x.metadata.labels?.["app"] === name);
      if (app.password === undefined && secret) problems.push(`${name}: a credential Secret although Compass has none`);
      if (app.password !== undefined && secret?.data["password"] !== app.password) problems.push(`${name}: credential ${secret ? "differs" : "missing"}`);
    }
    const expectedNames = new Set([...apps.values()].map((x) => `mp-${x.name}`));
    for (const m of managed) if (!expectedNames.has(m.metadata.name)) problems.push(`${m.metadata.name}: in the cluster but not in Compass`);
    for (const x of secrets) if (!expectedNames.has(x.metadata.labels?.["app"] ?? "")) problems.push(`Secret ${x.metadata.name}: no application`);

    // No error unrecorded.
    const metrics = await a.metrics();
    const logs = a.logs();
    const failedInMetrics = failedReconciles(metrics);
    const failureLines = logs.filter(
      (l) =>
        l.msg === "synchronization failed" ||
        l.msg === "connection to Compass failed" ||
        l.msg === "connection maintenance failed" ||
        (l.msg === "synchronization done" && l["state"] !== "Synchronized"),
    ).length;
    const crashes = logs.filter((l) => l.msg === "reconcile failed; retrying").length;
    const eventFailures = logs.filter((l) => l.msg === "cannot record an Event").length;
    // Transitions into a failure state, from the log's sequence of end states.
    const endStates = logs
      .map((l) =>
        l.msg === "synchronization failed"
          ? "SynchronizationFailed"
          : l.msg === "connection to Compass failed"
            ? "ConnectionFailed"
            : l.msg === "connection maintenance failed"
              ? "ConnectionMaintenanceFailed"
              : l.msg === "synchronization done"
                ? String(l["state"])
                : undefined,
      )
      .filter((x): x is string => x !== undefined);
    let transitions = 0;
    for (let i = 0; i < endStates.length; i++) if (endStates[i] !== "Synchronized" && endStates[i] !== endStates[i - 1]) transitions++;
    const warnings = (await s.kube.events("default")).filter((e) => e.type === "Warning" && e.involvedObject.kind === "CompassConnection").reduce((n, e) => n + (e.count ?? 1), 0);
    const faultsApplied = s.sim.state.requestLog.filter((r) => r.fault !== undefined).length;
    const unrecorded: string[] = [];
    if (failedInMetrics !== failureLines) unrecorded.push(`failed reconciles: ${failedInMetrics} in the metrics, ${failureLines} in the log`);
    if (warnings + eventFailures < transitions) unrecorded.push(`${transitions} transitions into a failure state, ${warnings} Warning Events (+${eventFailures} logged as not recordable)`);
    if (crashes > 0) unrecorded.push(`${crashes} reconciles threw (reconcile failed; retrying)`);
    if (a.exitStatus() !== undefined) unrecorded.push(`the agent exited (${String(a.exitStatus())})`);

    // Flat after warm-up: the last third against the second third.
    const thirds = Math.floor(samples.length / 3);
    const mid = samples.slice(thirds, 2 * thirds);
    const tail = samples.slice(2 * thirds);
    const flat = (key: "rssMb" | "fds" | "heapMb" | "handles", relative: number, absolute: number) => {
      const before = average(mid.map((x) => x[key]));
      const after = average(tail.map((x) => x[key]));
      return { before: Number(before.toFixed(1)), after: Number(after.toFixed(1)), ok: after <= before * (1 + relative) + absolute };
    };
    const trend = { rssMb: flat("rssMb", 0.1, 5), heapMb: flat("heapMb", 0.15, 3), fds: flat("fds", 0, 3), handles: flat("handles", 0, 3) };
    const flatOk = samples.length >= 6 && Object.values(trend).every((x) => x.ok);

    // ---- report ----
    console.log("\n   t(s)  rss(MB)  heap(MB)  fds  handles  reconciles  failed  state                       apps");
    for (const x of samples) {
      console.log(
        `${String(x.t).padStart(7)}  ${x.rssMb.toFixed(1).padStart(7)}  ${x.heapMb.toFixed(1).padStart(8)}  ${String(x.fds).padStart(3)}  ${String(x.handles).padStart(7)}  ${String(x.reconciles).padStart(10)}  ${String(x.failures).padStart(6)}  ${x.state.padEnd(26)}  ${x.apps}`,
      );
    }
    console.log(`\nfaults injected: ${JSON.stringify(injected)} (${faultsApplied} requests answered by a fault)`);
    console.log(`application changes: ${JSON.stringify(changes)}; ${apps.size} applications at the end`);
    console.log(`converged ${(settleMs / 1000).toFixed(1)} s after the faults stopped; problems: ${problems.length === 0 ? "none" : problems.join("; ")}`);
    console.log(`flat after warm-up (second third → last third): ${JSON.stringify(trend)} → ${flatOk ? "yes" : "NO"}`);
    console.log(`errors recorded: ${failedInMetrics} failed reconciles (metrics) = ${failureLines} log lines; ${transitions} transitions into failure, ${warnings} Warning Events; ${crashes} crashes → ${unrecorded.length === 0 ? "all recorded" : unrecorded.join("; ")}`);
    const ok = problems.length === 0 && flatOk && unrecorded.length === 0;
    console.log(`verdict: ${ok ? "PASS" : "FAIL"}`);
    console.log(
      JSON.stringify({
        soak: ok ? "pass" : "fail",
        seed: initialSeed,
        minutes,
        samples: samples.length,
        rssMb: { first: samples[0]?.rssMb, secondThird: trend.rssMb.before, lastThird: trend.rssMb.after, max: Math.max(...samples.map((x) => x.rssMb)) },
        heapMb: { secondThird: trend.heapMb.before, lastThird: trend.heapMb.after },
        fds: { first: samples[0]?.fds, secondThird: trend.fds.before, lastThird: trend.fds.after, max: Math.max(...samples.map((x) => x.fds)) },
        handles: { secondThird: trend.handles.before, lastThird: trend.handles.after },
        reconciles: samples[samples.length - 1]?.reconciles,
        failedReconciles: failedInMetrics,
        faultsInjected: Object.values(injected).reduce((x, y) => x + y, 0),
        faultedRequests: faultsApplied,
        applicationChanges: changes,
        applicationsAtEnd: apps.size,
        convergedSeconds: Number((settleMs / 1000).toFixed(1)),
        problems: problems.length,
        unrecorded,
      }),
    );
    return ok ? 0 : 1;
  } finally {
    await agent?.stop().catch(() => undefined);
    await scenario?.close().catch(() => undefined);
    await cp.stop();
  }
}

/** Reconciles whose result was a failure state (neither Synchronized nor Skipped). */
function failedReconciles(metrics: string): number {
  return metrics
    .split("\n")
    .filter((line) => line.startsWith("cra_reconcile_total{"))
    .filter((line) => !/result="(Synchronized|Skipped)"/.test(line))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
