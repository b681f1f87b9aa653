import type { Fault } from "@runtime-agent/kube-testenv";
import type { Armed, FaultEffect, Injection, Life } from "./life.js";
import { compassOperation, patternRegExp } from "./points.js";
import type { CompassPoint, FaultCase, KubePoint } from "./points.js";

/** Longer than the Connector's and the Director's client timeout (30 s): the agent gives up first. */
const COMPASS_TIMEOUT_DELAY_MS = 31_000;

/** The injection of one fault case: armed at the start of its point's phase. */
export function injectionFor(c: FaultCase): Injection {
  return { phase: c.point.phase, arm: (life) => (c.point.side === "kube" ? armKube(life, c.point, c.kind) : armCompass(life, c.point, c.kind)) };
}

/**
 * Kubernetes: the proxy counts the requests matching method, path and selectors from now on and acts on the nth —
 * fails it, or (kill) only observes it and, once its answer is written, the agent is SIGKILLed and started again.
 */
function armKube(life: Life, point: KubePoint, kind: string): Armed {
  const match = { method: point.method === "WATCH" ? "GET" : point.method, path: patternRegExp(point.pattern, point.method), nth: point.nth };
  if (kind === "kill") {
    const rule = life.worker.proxy.arm(match);
    return { happened: rule.hit.then(() => killed(life)), cancel: () => rule.disarm() };
  }
  // 500 and 503 alike are "the API server failed": alternate them by ordinal so both are exercised.
  const fault: Fault =
    kind === "status" ? { kind: "status", status: point.nth % 2 === 0 ? 500 : 503 } : kind === "timeout" ? { kind: "timeout" } : kind === "reset" ? { kind: "reset" } : { kind: "reset-after-forward" };
  const rule = life.worker.proxy.arm({ ...match, fault });
  return { happened: rule.hit.then((): FaultEffect => ({ at: Date.now() })), cancel: () => rule.disarm() };
}

/**
 * Compass: the simulator's rules act on the next matching call, so `nth - 1` pass-through rules (delay 0) take the
 * calls before it. A kill watches the request log, which is written right after the answer.
 */
function armCompass(life: Life, point: CompassPoint, kind: string): Armed {
  const sim = life.scenario.sim;
  if (kind === "kill") {
    let seen = 0;
    let resolve!: () => void;
    const logged = new Promise<void>((r) => (resolve = r));
    const unsubscribe = life.observer.onRequest((entry) => {
      const op = compassOperation(entry);
      if (op?.target !== point.target || op.operation !== point.operation || ++seen !== point.nth) return;
      unsubscribe();
      // At once, in the same turn as the log entry: the agent has the answer (or is reading it) and nothing more.
      life.agent.child.kill("SIGKILL");
      resolve();
    });
    return { happened: logged.then(() => killed(life)), cancel: unsubscribe };
  }
  if (point.nth > 1) sim.addFault({ target: point.target, operation: point.operation, delayMs: 0, times: point.nth - 1 });
  const action = kind === "503" ? { status: 503 } : kind === "reset" ? { reset: true } : { delayMs: COMPASS_TIMEOUT_DELAY_MS, reset: true };
  const rule = sim.addFault({ target: point.target, operation: point.operation, ...action, times: 1 });
  // A faulted call is logged without its operations, but with the rule that answered it.
  let resolve!: (effect: FaultEffect) => void;
  const happened = new Promise<FaultEffect>((r) => (resolve = r));
  const unsubscribe = life.observer.onRequest((entry) => {
    if (!entry.fault?.startsWith(`${rule.id}:`)) return;
    unsubscribe();
    // A timeout's entry is written when the delay ends; the agent gave up at its own timeout (30 s) already.
    resolve({ at: Date.now() - (kind === "timeout" ? COMPASS_TIMEOUT_DELAY_MS - 30_000 : 0) });
  });
  return {
    happened,
    cancel: () => {
      unsubscribe();
      sim.clearFaults();
    },
  };
}

async function killed(life: Life): Promise<FaultEffect> {
  const at = Date.now();
  const restarted = await life.killAndRestart();
  return { at, restarted };
}
