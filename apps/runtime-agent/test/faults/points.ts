import type { ProxiedRequest } from "@runtime-agent/kube-testenv";
import type { CompassRequest } from "./compass-observer.js";

/** The phases of one life, in order; each starts with the sweep's action and ends when the agent has converged. */
export const PHASES = ["pair", "renew", "change", "remove"] as const;
export type Phase = (typeof PHASES)[number];

/**
 * A fault point: one request of the life, named so that the same request can be found again in another run — by
 * its phase, what it is (method and path pattern; target and operation) and its ordinal among the requests of the
 * phase that match the same way (counted from the phase's start, as the fault proxy and the simulator count).
 */
export type FaultPoint = KubePoint | CompassPoint;

export interface KubePoint {
  side: "kube";
  phase: Phase;
  /** The HTTP method; `WATCH` for a GET with `watch=true` (a watch fails differently from a read). */
  method: string;
  /**
   * The path, `*` standing for one generated name segment (Events), plus the query parameters that say what is
   * asked for (`labelSelector`, `fieldSelector`): reads of one path with different selectors are different points.
   */
  pattern: string;
  nth: number;
}

export interface CompassPoint {
  side: "compass";
  phase: Phase;
  /** The simulator's fault target: `connector` covers both Connector listeners. */
  target: "connector" | "director";
  /** The root field, as the simulator's fault rules match it. */
  operation: string;
  nth: number;
  /** The listener the recorded call went to (token or mtls), for the report. */
  listener: string;
}

export const KUBE_KINDS = ["status", "timeout", "reset", "reset-after-forward", "kill"] as const;
/**
 * A failed read or watch: the API server answers 5xx, or the connection is cut. (A read that times out fails like a
 * reset, only 30 s later; a kill after a read is a restart at a moment the kills after writes already cover.)
 */
export const KUBE_READ_KINDS = ["status", "reset"] as const;
export const COMPASS_KINDS = ["503", "reset", "timeout", "kill"] as const;
export type KubeKind = (typeof KUBE_KINDS)[number];
export type CompassKind = (typeof COMPASS_KINDS)[number];
export type FaultKind = KubeKind | CompassKind;

/** One run of the sweep: a point and what happens there. */
export interface FaultCase {
  point: FaultPoint;
  kind: FaultKind;
}

export function pointId(p: FaultPoint): string {
  return p.side === "kube" ? `${p.phase} kube ${p.method} ${p.pattern} #${p.nth}` : `${p.phase} compass ${p.target}/${p.operation} #${p.nth} (${p.listener})`;
}

export function caseId(c: FaultCase): string {
  return `${pointId(c.point)} × ${c.kind}`;
}

export const isWrite = (method: string): boolean => ["POST", "PUT", "PATCH", "DELETE"].includes(method.toUpperCase());

/** The query parameters that make two requests to one path different requests. */
const SELECTORS = ["labelSelector", "fieldSelector"] as const;

const isWatch = (target: string): boolean => (target.split("?")[1] ?? "").split("&").includes("watch=true");

/** The point's method for a request: `WATCH` for a watch, else the HTTP method. */
export function pointMethod(r: { method: string; path: string }): string {
  const method = r.method.toUpperCase();
  return method === "GET" && isWatch(r.path) ? "WATCH" : method;
}

/**
 * A request's pattern: its path, with generated names (Events') replaced by `*`, and its non-empty selectors
 * (`?labelSelector=…&fieldSelector=…`, as the client encoded them).
 */
export function pathPattern(target: string): string {
  const [bare = "", query = ""] = target.split("?", 2);
  const path = bare.replace(/^(\/api\/v1\/namespaces\/[^/]+\/events\/)[^/]+$/, "$1*").replace(/^(\/apis\/events\.k8s\.io\/v1\/namespaces\/[^/]+\/events\/)[^/]+$/, "$1*");
  const params = query.split("&");
  const selectors = SELECTORS.flatMap((k) => params.filter((p) => p.startsWith(`${k}=`) && p.length > k.length + 1));
  return selectors.length === 0 ? path : `${path}?${selectors.join("&")}`;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The proxy rule's path for a point: the pattern's path, anchored; each of its selectors present in the query, and
 * no other non-empty selector; `watch=true` present for a watch and absent otherwise.
 */
export function patternRegExp(pattern: string, method: string): RegExp {
  const [path = "", selectorPart = ""] = pattern.split("?", 2);
  const escaped = path.split("*").map(escapeRegExp).join("[^/?]+");
  const present = selectorPart === "" ? [] : selectorPart.split("&");
  // Lookaheads right after the `?`: `(?:[^&]*&)*` skips whole parameters, so each one tests a parameter from its start.
  const has = (param: string) => `(?=(?:[^&]*&)*${param}(?:&|$))`;
  const lacks = (param: string) => `(?!(?:[^&]*&)*${param})`;
  const checks = [
    ...present.map((p) => has(escapeRegExp(p))),
    ...SELECTORS.filter((k) => !present.some((p) => p.startsWith(`${k}=`))).map((k) => lacks(`${k}=[^&]`)),
    method === "WATCH" ? has("watch=true") : lacks("watch=true(?:&|$)"),
  ];
  const withoutQuery = present.length === 0 && method !== "WATCH";
  return new RegExp(`^${escaped}(?:\\?${checks.join("")}.*${withoutQuery ? "|" : ""})$`);
}

/** Every Kubernetes request of one phase, as points (the requests the agent sent through the proxy, in arrival order). */
export function kubePoints(phase: Phase, requests: readonly ProxiedRequest[]): KubePoint[] {
  const seen = new Map<string, number>();
  const points: KubePoint[] = [];
  for (const r of requests) {
    const method = pointMethod(r);
    const pattern = pathPattern(r.path);
    const key = `${method} ${pattern}`;
    const nth = (seen.get(key) ?? 0) + 1;
    seen.set(key, nth);
    points.push({ side: "kube", phase, method, pattern, nth });
  }
  return points;
}

/** The fault kinds that apply to a point. */
export function kindsFor(point: FaultPoint): readonly FaultKind[] {
  return point.side === "compass" ? COMPASS_KINDS : isWrite(point.method) ? KUBE_KINDS : KUBE_READ_KINDS;
}

/** The Compass operation a logged request counts for, as the simulator's fault rules match it. */
export function compassOperation(entry: CompassRequest): { target: "connector" | "director"; operation: string } | undefined {
  if (entry.api === undefined || entry.operations.length === 0) return undefined;
  return { target: entry.api, operation: entry.operations[0] as string };
}

/** Every Compass call of one phase, as points. */
export function compassPoints(phase: Phase, entries: readonly CompassRequest[]): CompassPoint[] {
  const seen = new Map<string, number>();
  const points: CompassPoint[] = [];
  for (const entry of entries) {
    const op = compassOperation(entry);
    if (!op) continue;
    const key = `${op.target}/${op.operation}`;
    const nth = (seen.get(key) ?? 0) + 1;
    seen.set(key, nth);
    points.push({ side: "compass", phase, ...op, nth, listener: entry.listener });
  }
  return points;
}

/** Every point × every kind that applies to it. */
export function allCases(points: readonly FaultPoint[], kinds?: readonly string[]): FaultCase[] {
  return points.flatMap((point) =>
    kindsFor(point).filter((kind) => kinds === undefined || kinds.includes(kind)).map((kind): FaultCase => ({ point, kind })),
  );
}

/**
 * A representative subset: every `every`-th point (from a seeded offset) with all its kinds, plus, so that each
 * phase and each side is represented, the first point of every phase × side not yet picked (seeded choice).
 */
export function selectPoints(points: readonly FaultPoint[], options: { every: number; seed: number }): FaultPoint[] {
  const random = mulberry32(options.seed);
  const offset = Math.floor(random() * options.every);
  const picked = new Set(points.filter((_, i) => i % options.every === offset));
  for (const side of ["kube", "compass"] as const) {
    for (const phase of new Set(points.map((p) => p.phase))) {
      const group = points.filter((p) => p.side === side && p.phase === phase);
      if (group.length > 0 && !group.some((p) => picked.has(p))) picked.add(group[Math.floor(random() * group.length)] as FaultPoint);
    }
  }
  return points.filter((p) => picked.has(p));
}

/** A small seeded PRNG, so a selection can be repeated. */
export function mulberry32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The representative subset for the default test run: a few points chosen with a seed — Kubernetes writes from two
 * different phases, one Kubernetes read or watch and one Compass call — each with every kind of fault that applies,
 * except the timeout (a 30 s wait for the agent's client to give up), which is run at one of them only.
 */
export function representativeCases(points: readonly FaultPoint[], seed: number): FaultCase[] {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  // Concurrent writes arrive in a different order each run: pick from a canonical order, so a seed names the same points.
  const ordered = [...points].sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase) || pointId(a).localeCompare(pointId(b), "en", { numeric: true }));
  const writes = ordered.filter((p) => p.side === "kube" && isWrite(p.method));
  const first = pick(writes);
  const second = pick(writes.filter((p) => p.phase !== first.phase));
  const read = pick(ordered.filter((p) => p.side === "kube" && !isWrite(p.method)));
  const compass = pick(ordered.filter((p) => p.side === "compass"));
  const chosen = [first, second, read, compass];
  const timeoutAt = pick([first, second, compass]);
  return allCases(chosen).filter((c) => c.kind !== "timeout" || c.point === timeoutAt);
}
