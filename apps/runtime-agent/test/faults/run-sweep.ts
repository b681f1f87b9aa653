import { startFaultProxy } from "@runtime-agent/kube-testenv";
import { injectionFor } from "./inject.js";
import { judge } from "./invariants.js";
import { Life } from "./life.js";
import type { Worker } from "./life.js";
import { allCases, caseId, compassPoints, isWrite, kubePoints, pointId } from "./points.js";
import type { FaultCase, FaultPoint } from "./points.js";

export interface SweepOptions {
  /** Which of the recorded points to exercise (default: all). */
  select?: (points: FaultPoint[]) => FaultPoint[];
  /** Fault kinds to use (default: all that apply to a point). */
  kinds?: readonly string[];
  /** Chooses the cases directly (instead of select × kinds), e.g. the representative subset. */
  cases?: (points: FaultPoint[]) => FaultCase[];
  /** At most this many cases (after selection), for a quick look. */
  limit?: number;
  log?: (line: string) => void;
}

export interface CaseResult {
  case: FaultCase;
  id: string;
  reached: boolean;
  violations: string[];
  unavoidable: string[];
  ms: number;
  worker: string;
}

export interface SweepResult {
  points: FaultPoint[];
  cases: CaseResult[];
  /** Violations of the fault-free recording run itself (the sweep cannot start from a broken life). */
  recordingViolations: string[];
  recordingMs: number;
  ms: number;
}

/** A worker on a cluster: the fault proxy in front of its API server and the agent's kubeconfig through it. */
export async function createWorker(name: string, cluster: { adminKubeconfig: string; agentKubeconfig: string }): Promise<Worker & { close(): Promise<void> }> {
  const proxy = await startFaultProxy({ kubeconfig: cluster.agentKubeconfig });
  return { name, adminKubeconfig: cluster.adminKubeconfig, agentKubeconfig: await proxy.kubeconfigFor(cluster.agentKubeconfig), proxy, close: () => proxy.close() };
}

/**
 * The sweep: one fault-free life records every Kubernetes request and every Compass call as fault points; then
 * every selected point × kind runs a whole life from scratch with that one fault, and its invariants are judged.
 * Workers (each with its own cluster: the CompassConnection is a cluster-wide singleton) take cases in turn.
 */
export async function runSweep(workers: readonly Worker[], options: SweepOptions = {}): Promise<SweepResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const recording = await Life.run(workers[0] as Worker);
  const recordingVerdict = judge(recording, undefined);
  const recordingMs = Date.now() - started;
  const points: FaultPoint[] = recording.phases.flatMap((p) => [...kubePoints(p.phase, p.kube), ...compassPoints(p.phase, p.compass)]);
  log(`recorded ${points.length} fault points in ${(recordingMs / 1000).toFixed(1)} s (${recording.phases.map((p) => `${p.phase} ${(p.ms / 1000).toFixed(1)} s`).join(", ")})`);
  if (recordingVerdict.violations.length > 0) {
    return { points, cases: [], recordingViolations: recordingVerdict.violations, recordingMs, ms: Date.now() - started };
  }
  const selected = options.select ? options.select(points) : points;
  let cases = options.cases ? options.cases(points) : allCases(selected, options.kinds);
  if (options.limit !== undefined) cases = cases.slice(0, options.limit);
  log(`${options.cases ? new Set(cases.map((c) => c.point)).size : selected.length} points selected, ${cases.length} cases (point × kind) on ${workers.length} worker(s)`);

  const results: CaseResult[] = [];
  let next = 0;
  await Promise.all(
    workers.map(async (worker) => {
      while (next < cases.length) {
        const c = cases[next++] as FaultCase;
        const t0 = Date.now();
        let result: CaseResult;
        try {
          const life = await Life.run(worker, injectionFor(c));
          const verdict = judge(life, c);
          result = { case: c, id: caseId(c), reached: life.fault.reached, ...verdict, ms: Date.now() - t0, worker: worker.name };
        } catch (error) {
          result = { case: c, id: caseId(c), reached: false, violations: [`the run itself failed: ${(error as Error).stack ?? String(error)}`], unavoidable: [], ms: Date.now() - t0, worker: worker.name };
        }
        results.push(result);
        const mark = result.violations.length > 0 ? "VIOLATION" : result.unavoidable.length > 0 ? "unavoidable" : result.reached ? "ok" : "not reached";
        log(`[${results.length}/${cases.length}] ${mark.padEnd(11)} ${result.id} (${(result.ms / 1000).toFixed(1)} s, ${worker.name})${result.violations.map((v) => `\n      - ${v}`).join("")}`);
      }
    }),
  );
  const order = new Map(cases.map((c, i) => [c, i]));
  results.sort((a, b) => (order.get(a.case) ?? 0) - (order.get(b.case) ?? 0));
  return { points, cases: results, recordingViolations: [], recordingMs, ms: Date.now() - started };
}

/** The report: counts, every violation with its point and kind, the unavoidable windows apart. */
export function formatReport(result: SweepResult): string {
  const lines: string[] = [];
  const reached = result.cases.filter((c) => c.reached);
  const violating = result.cases.filter((c) => c.violations.length > 0);
  const unavoidable = result.cases.filter((c) => c.unavoidable.length > 0);
  const kube = result.points.filter((p) => p.side === "kube");
  const writes = kube.filter((p) => isWrite(p.method)).length;
  lines.push(`fault points recorded: ${result.points.length} (${writes} Kubernetes writes, ${kube.length - writes} Kubernetes reads and watches, ${result.points.length - kube.length} Compass calls)`);
  lines.push(`cases run (point × kind): ${result.cases.length}; fault reached: ${reached.length}; not reached: ${result.cases.length - reached.length}`);
  lines.push(`violations: ${violating.length} case(s); unavoidable windows: ${unavoidable.length} case(s); time ${(result.ms / 1000).toFixed(0)} s`);
  if (result.recordingViolations.length > 0) {
    lines.push("", "THE FAULT-FREE LIFE ITSELF FAILED:");
    for (const v of result.recordingViolations) lines.push(`  - ${v}`);
  }
  if (violating.length > 0) {
    lines.push("", "VIOLATIONS:");
    for (const c of violating) {
      lines.push(`  ${c.id}`);
      for (const v of c.violations) lines.push(`    - ${v}`);
    }
  }
  if (unavoidable.length > 0) {
    lines.push("", "UNAVOIDABLE WINDOWS (a kill between receiving a credential from Compass and storing it):");
    for (const c of unavoidable) lines.push(`  ${c.id}: ${c.unavoidable.join("; ")}`);
  }
  const missed = result.cases.filter((c) => !c.reached);
  if (missed.length > 0) {
    lines.push("", "NOT REACHED (the request did not come again in that phase; no fault was injected):");
    for (const c of missed) lines.push(`  ${c.id}`);
  }
  lines.push("", "POINTS:");
  for (const p of result.points) lines.push(`  ${pointId(p)}`);
  return lines.join("\n");
}
