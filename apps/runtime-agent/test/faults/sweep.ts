/**
 * Fault-point sweep (docs/reliability.md, "Fault-point sweep"): one fault-free life of the agent records every
 * Kubernetes request (write, read, watch) and every Compass call; then, for each of them and each fault kind, a
 * whole life runs from scratch with that one fault, and the invariants are checked. Prints the count and every violation; exits 1 on
 * a violation, 2 on bad arguments.
 *
 *   pnpm test:faults                                   the full sweep (every point × every kind), 3 workers
 *   pnpm test:faults -- --workers 1                    one control plane (about twice as long)
 *   pnpm test:faults -- --every 10 --seed 7            every 10th point (seeded offset) + one per phase and side
 *   pnpm test:faults -- --kinds kill,reset --phase pair --limit 20 --record-only
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startControlPlane } from "@runtime-agent/kube-testenv";
import type { ControlPlane } from "@runtime-agent/kube-testenv";
import { COMPASS_KINDS, KUBE_KINDS, PHASES, pointId, selectPoints } from "./points.js";
import type { FaultPoint } from "./points.js";
import { createWorker, formatReport, runSweep } from "./run-sweep.js";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    // Three by default: a third of the cases mostly wait (a timeout holds a request 30 s), so three lives share
    // two cores well; one control plane each.
    workers: { type: "string", default: "3" },
    every: { type: "string" },
    seed: { type: "string", default: "1" },
    kinds: { type: "string" },
    phase: { type: "string" },
    side: { type: "string" },
    match: { type: "string" },
    limit: { type: "string" },
    "record-only": { type: "boolean", default: false },
    json: { type: "string" },
  },
  strict: true,
});

const workers = Number(values.workers);
const every = values.every === undefined ? undefined : Number(values.every);
const seed = Number(values.seed);
const kinds = values.kinds?.split(",");
const limit = values["record-only"] ? 0 : values.limit === undefined ? undefined : Number(values.limit);
const allKinds: string[] = [...KUBE_KINDS, ...COMPASS_KINDS];
if (
  !(Number.isInteger(workers) && workers >= 1 && workers <= 8) ||
  (every !== undefined && !(Number.isInteger(every) && every >= 1)) ||
  !Number.isInteger(seed) ||
  (kinds && kinds.some((k) => !allKinds.includes(k))) ||
  (values.phase && !(PHASES as readonly string[]).includes(values.phase)) ||
  (values.side && values.side !== "kube" && values.side !== "compass")
) {
  console.error(`usage: sweep.ts [--workers 1..8] [--every N] [--seed S] [--kinds ${[...new Set(allKinds)].join(",")}] [--phase ${PHASES.join("|")}] [--side kube|compass] [--match REGEX] [--limit N] [--record-only] [--json FILE]`);
  process.exit(2);
}

const log = (line: string) => console.log(`[sweep ${new Date().toISOString().slice(11, 19)}] ${line}`);
const planes: ControlPlane[] = [];
const closers: (() => Promise<void>)[] = [];
process.exitCode = 1;
try {
  // Each worker needs its own cluster: the CompassConnection is a cluster-wide singleton.
  for (let i = 0; i < workers; i++) {
    const cp = await startControlPlane({
      crds: [fileURLToPath(new URL("../../../../schemas/crds", import.meta.url))],
      rbacDir: fileURLToPath(new URL("../../deploy", import.meta.url)),
    });
    planes.push(cp);
  }
  const pool = await Promise.all(planes.map((cp, i) => createWorker(`w${i + 1}`, { adminKubeconfig: cp.kubeconfigPath, agentKubeconfig: cp.agentKubeconfigPath })));
  closers.push(...pool.map((w) => () => w.close()));
  const matcher = values.match ? new RegExp(values.match) : undefined;
  const select = (points: FaultPoint[]): FaultPoint[] => {
    let chosen = points.filter((p) => (!values.phase || p.phase === values.phase) && (!values.side || p.side === values.side));
    if (matcher) chosen = chosen.filter((p) => matcher.test(pointId(p)));
    return every === undefined ? chosen : selectPoints(chosen, { every, seed });
  };
  const result = await runSweep(pool, { select, ...(kinds ? { kinds } : {}), ...(limit !== undefined ? { limit } : {}), log });
  console.log(`\n${formatReport(result)}`);
  if (values.json) {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(values.json, JSON.stringify({ points: result.points, cases: result.cases, ms: result.ms }, null, 2));
  }
  const violations = result.recordingViolations.length + result.cases.filter((c) => c.violations.length > 0).length;
  console.log(JSON.stringify({ sweep: violations === 0 ? "pass" : "fail", points: result.points.length, cases: result.cases.length, reached: result.cases.filter((c) => c.reached).length, violations, unavoidable: result.cases.filter((c) => c.unavoidable.length > 0).length, seconds: Math.round(result.ms / 1000) }));
  process.exitCode = violations === 0 ? 0 : 1;
} finally {
  for (const close of closers) await close().catch(() => undefined);
  for (const cp of planes) await cp.stop().catch(() => undefined);
}
// Leftover sockets (watches being torn down) must not keep the process alive.
process.exit();
