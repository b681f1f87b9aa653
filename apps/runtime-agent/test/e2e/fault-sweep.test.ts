import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { Worker } from "../faults/life.js";
import { representativeCases } from "../faults/points.js";
import { createWorker, formatReport, runSweep } from "../faults/run-sweep.js";

// The representative subset of the fault-point sweep (test/faults, `pnpm test:faults` runs all of it): one
// fault-free life records every Kubernetes request and Compass call; then a few seeded points — Kubernetes writes
// of two phases, one Kubernetes read or watch and one Compass call — each get every kind of fault that applies
// (5xx, reset, applied-but-answer-lost, SIGKILL of the agent process right after the request; the 30 s timeout at
// one of them), each in a whole life from scratch. Every invariant must hold: no token lost, nothing deleted that
// Compass lists, nothing foreign touched, convergence within two sync periods, never two agent processes.
const SEED = 13;
let worker: Worker & { close(): Promise<void> };

beforeAll(async () => {
  worker = await createWorker("vitest", { adminKubeconfig: inject("adminKubeconfig"), agentKubeconfig: inject("agentKubeconfig") });
});

afterAll(async () => {
  await worker?.close();
});

describe("fault-point sweep, representative subset", () => {
  test(
    `seed ${SEED}: every fault kind at four recorded points, zero violations`,
    async () => {
      const lines: string[] = [];
      const result = await runSweep([worker], { cases: (points) => representativeCases(points, SEED), log: (line) => lines.push(line) });
      const report = formatReport(result);
      expect(result.recordingViolations, report).toEqual([]);
      // The life has 20 applications with credentials, a renewal, a change and a removal: over a hundred points.
      expect(result.points.length).toBeGreaterThan(100);
      expect(new Set(result.cases.map((c) => c.case.kind))).toEqual(new Set(["status", "timeout", "reset", "reset-after-forward", "kill", "503"]));
      expect(result.cases.filter((c) => c.violations.length > 0).map((c) => `${c.id}: ${c.violations.join("; ")}`), `${lines.join("\n")}\n${report}`).toEqual([]);
      // A point recorded once is met again in a run of the same life (a sweep that injects nothing proves nothing).
      expect(result.cases.filter((c) => !c.reached).map((c) => c.id)).toEqual([]);
    },
    // A cap so a hang fails instead of blocking the run; not a performance assertion.
    600_000,
  );
});
