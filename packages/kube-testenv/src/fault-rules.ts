/**
 * Rules of the fault proxy: which request gets which fault. Pure (no sockets), so the counting rules are
 * tested without a server; src/fault-proxy.ts applies them.
 */
import { KubeTestenvError } from "./errors.js";

/**
 * What happens to a request a rule applies to.
 *
 * - `status`: answer with this status (and body, default a Kubernetes `Status` object) without forwarding.
 * - `reset`: destroy the client's connection without answering; the request is not forwarded.
 * - `reset-after-forward`: forward; once the API server has answered (the change is applied), destroy the
 *   client's connection instead of passing the answer on. The write happened, the client does not know.
 * - `timeout`: never answer and never forward; the request hangs until the client gives up or the proxy closes.
 * - `delay`: wait `ms`, then forward as usual.
 */
export type Fault =
  | { kind: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: "reset" }
  | { kind: "reset-after-forward" }
  | { kind: "timeout" }
  | { kind: "delay"; ms: number };

/** Which requests a rule looks at, and which of them it applies to. */
export interface RequestMatch {
  /** HTTP method, case-insensitive; omitted or `"*"`: any method. */
  method?: string;
  /**
   * Matched against the request target as the client sent it, path and query
   * (`/api/v1/namespaces/x/secrets?watch=true`): a string is a prefix, a RegExp is tested (flags `g`/`y` ignored).
   */
  path: string | RegExp;
  /** The rule applies to the Nth matching request, 1-based, counted from arm(). Default 1. */
  nth?: number;
  /** Apply to every matching request from the Nth on instead of only the Nth. */
  every?: boolean;
}

/** A match plus the fault to inject; without `fault` the rule only observes (see FaultProxy.nextMatch). */
export interface FaultRule extends RequestMatch {
  fault?: Fault;
}

/** One request through the proxy, appended when it arrives and updated as it proceeds. */
export interface ProxiedRequest {
  /** 1-based order of arrival. */
  readonly seq: number;
  readonly method: string;
  /** Request target: path and query. */
  readonly path: string;
  /** Status sent to the client; undefined when none was (reset, timeout, cut before the answer). */
  readonly status: number | undefined;
  /** The fault injected, if any. */
  readonly fault: Fault | undefined;
  /** Whether the request was sent on to the API server. */
  readonly forwarded: boolean;
  /** Status the API server answered with (also when the client never saw it: `reset-after-forward`). */
  readonly upstreamStatus: number | undefined;
  /**
   * `open`: in progress (a watch stays open); `answered`: the whole answer was written to the client;
   * `cut`: the client connection ended without a complete answer (a fault, the client gave up, or the proxy closed).
   */
  readonly state: "open" | "answered" | "cut";
  /** Why the proxy could not forward (connection error to the API server). */
  readonly error: string | undefined;
}

/** The handle of an armed rule. */
export interface ArmedRule {
  readonly rule: FaultRule;
  /** Matching requests seen since arm(). */
  readonly matched: number;
  /** The requests the rule applied to. */
  readonly hits: readonly ProxiedRequest[];
  /**
   * The first request the rule applied to, once the proxy is done with it: the answer written or the
   * connection cut (for `timeout`: as soon as the request is being held). Rejects (`PROXY_CLOSED`) when the
   * proxy closes first.
   */
  readonly hit: Promise<ProxiedRequest>;
  /** Stop applying and counting. Idempotent. */
  disarm(): void;
}

function usage(message: string): never {
  throw new KubeTestenvError("USAGE", `fault proxy rule: ${message}`);
}

/** Throws USAGE for a rule that could never work as meant. */
export function validateRule(rule: FaultRule): void {
  if (typeof rule.path === "string" && !rule.path.startsWith("/")) {
    usage(`path prefix ${JSON.stringify(rule.path)} must start with "/"`);
  }
  if (!(rule.path instanceof RegExp) && typeof rule.path !== "string")
    usage("path must be a string or RegExp");
  if (rule.nth !== undefined && !(Number.isInteger(rule.nth) && rule.nth >= 1)) {
    usage(`nth must be an integer >= 1, got ${rule.nth}`);
  }
  const f = rule.fault;
  if (f === undefined) return;
  switch (f.kind) {
    case "status":
      // 1xx are not final answers; anything else a client may meet.
      if (!(Number.isInteger(f.status) && f.status >= 200 && f.status <= 599)) {
        usage(`status must be an integer 200..599, got ${f.status}`);
      }
      return;
    case "delay":
      if (!(Number.isFinite(f.ms) && f.ms >= 0)) usage(`delay ms must be >= 0, got ${f.ms}`);
      return;
    case "reset":
    case "reset-after-forward":
    case "timeout":
      return;
    default:
      usage(`unknown fault kind ${JSON.stringify((f as { kind: unknown }).kind)}`);
  }
}

/** Whether a request is one the rule looks at. */
export function requestMatches(match: RequestMatch, method: string, target: string): boolean {
  if (
    match.method !== undefined &&
    match.method !== "*" &&
    match.method.toUpperCase() !== method.toUpperCase()
  ) {
    return false;
  }
  if (typeof match.path === "string") return target.startsWith(match.path);
  // A fresh RegExp without g/y: test() on a global RegExp is stateful (lastIndex) and would skip matches.
  return new RegExp(match.path.source, match.path.flags.replace(/[gy]/g, "")).test(target);
}

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** The Kubernetes `Status` object the API server would send for this code (what clients parse for errors). */
export function statusBody(code: number): Record<string, unknown> {
  const failure = code >= 400;
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: failure ? "Failure" : "Success",
    message: `kube-testenv fault proxy: injected HTTP ${code}`,
    reason: REASONS[code] ?? (failure ? "Unknown" : ""),
    code,
  };
}

/** Counting state of one armed rule. */
export class RuleCounter {
  matched = 0;
  active = true;
  constructor(readonly rule: FaultRule) {}

  /** Counts the request if it matches; returns whether the rule applies to it. */
  offer(method: string, target: string): boolean {
    if (!this.active || !requestMatches(this.rule, method, target)) return false;
    this.matched++;
    const nth = this.rule.nth ?? 1;
    if (this.rule.every) return this.matched >= nth;
    if (this.matched !== nth) return false;
    // A one-shot rule is spent: it stops counting, so it costs nothing from now on.
    this.active = false;
    return true;
  }
}
