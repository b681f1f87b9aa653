/**
 * Fault injection (compass-contract.md §7.9-7.10): what a misbehaving gateway in front of the Connector or the
 * Director does. A rule applies to the next `times` matching calls, before authentication (a faulted call never
 * burns a one-time token or marks a runtime CONNECTED), in the order the rules were added.
 *
 * | rule                       | answer                                                                        |
 * |----------------------------|-------------------------------------------------------------------------------|
 * | `status: 503`              | HTTP 503, plain-text Envoy body (`no healthy upstream`; 502/504 similar)       |
 * | `delayMs: 2000`            | waits, then answers normally (or applies the rule's other action)              |
 * | `reset: true`              | closes the connection without an answer                                       |
 * | `emptyJson: true`          | `200 {}`                                                                      |
 * | `rateLimit: true` or 429   | HTTP 429 `local_rate_limited`, `x-local-rate-limit: true`, `Retry-After`       |
 */
import { STATUS_CODES } from "node:http";
import { getOperationAST, parse } from "graphql";
import type { AnyResponse } from "./http-util.js";
import type { FaultRule, FaultRuleInput } from "./state.js";

export class FaultInputError extends Error {
  override readonly name = "FaultInputError";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonNegativeInteger(value: unknown, key: string, min = 0): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new FaultInputError(`"${key}" must be an integer ≥ ${min}`);
  }
  return value;
}

function flag(value: unknown, key: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw new FaultInputError(`"${key}" must be a boolean`);
  return value;
}

/** Checks a `POST /admin/faults` body. */
export function parseFaultRule(body: unknown): FaultRuleInput {
  if (!isObject(body)) throw new FaultInputError("a fault rule must be a JSON object");
  const target = body["target"];
  if (target !== "connector" && target !== "director") throw new FaultInputError('"target" must be "connector" or "director"');
  const operation = body["operation"];
  if (operation !== undefined && operation !== null && (typeof operation !== "string" || operation === "")) {
    throw new FaultInputError('"operation" must be a non-empty string');
  }
  const status = nonNegativeInteger(body["status"], "status", 100);
  if (status !== undefined && status > 599) throw new FaultInputError('"status" must be an HTTP status 100-599');
  const delayMs = nonNegativeInteger(body["delayMs"], "delayMs");
  const reset = flag(body["reset"], "reset");
  const emptyJson = flag(body["emptyJson"], "emptyJson");
  const rateLimit = flag(body["rateLimit"], "rateLimit");
  const retryAfter = nonNegativeInteger(body["retryAfter"], "retryAfter");
  const times = nonNegativeInteger(body["times"], "times", 1);
  const actions = [status !== undefined, reset === true, emptyJson === true, rateLimit === true].filter(Boolean).length;
  if (actions > 1) throw new FaultInputError('give at most one of "status", "reset", "emptyJson", "rateLimit" (plus "delayMs")');
  if (actions === 0 && delayMs === undefined) {
    throw new FaultInputError('a fault rule needs "status", "delayMs", "reset", "emptyJson" or "rateLimit"');
  }
  return {
    target,
    ...(typeof operation === "string" ? { operation } : {}),
    ...(delayMs !== undefined ? { delayMs } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(reset ? { reset } : {}),
    ...(emptyJson ? { emptyJson } : {}),
    ...(rateLimit ? { rateLimit } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    ...(times !== undefined ? { times } : {}),
  };
}

/** The names a rule's `operation` may match: the request's `operationName` and the root fields of its operation. */
export function operationNames(raw: Buffer): string[] {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    return [];
  }
  if (!isObject(json)) return [];
  const names: string[] = [];
  const operationName = typeof json["operationName"] === "string" ? json["operationName"] : undefined;
  if (operationName) names.push(operationName);
  if (typeof json["query"] === "string") {
    try {
      const operation = getOperationAST(parse(json["query"]), operationName);
      if (operation?.name) names.push(operation.name.value);
      for (const selection of operation?.selectionSet.selections ?? []) {
        if (selection.kind === "Field") names.push(selection.name.value);
      }
    } catch {
      // Unparsable queries match only rules without an operation.
    }
  }
  return names;
}

/** One line for logs and the request log, e.g. `fault-2: delay 500 ms, then status 503`. */
export function describeFault(rule: FaultRule): string {
  const parts: string[] = [];
  if (rule.delayMs !== undefined) parts.push(`delay ${rule.delayMs} ms`);
  if (isRateLimit(rule)) parts.push("rate limited (429)");
  else if (rule.status !== undefined) parts.push(`status ${rule.status}`);
  if (rule.reset) parts.push("connection reset");
  if (rule.emptyJson) parts.push("200 {}");
  return `${rule.id}: ${parts.join(", then ")}`;
}

function isRateLimit(rule: FaultRule): boolean {
  return rule.rateLimit === true || rule.status === 429;
}

/** Envoy's plain-text bodies for the statuses a gateway produces itself. */
function envoyBody(status: number): string {
  switch (status) {
    case 502:
      return "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
    case 503:
      return "no healthy upstream";
    case 504:
      return "upstream request timeout";
    default:
      return `${status} ${STATUS_CODES[status] ?? "Unknown"}`;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Writes the rule's answer. Returns the status written (0 for a reset), or undefined when the request should go on
 * normally (a pure delay, already waited for by the caller).
 */
export function answerFault(rule: FaultRule, res: AnyResponse): number | undefined {
  if (res.writableEnded || res.socket?.destroyed) return 0;
  if (rule.reset) {
    const socket = res.socket;
    if (socket && typeof (socket as { resetAndDestroy?: () => void }).resetAndDestroy === "function") {
      try {
        (socket as unknown as { resetAndDestroy: () => void }).resetAndDestroy();
        return 0;
      } catch {
        // A TLS socket may not support RST; destroying it closes the connection without an answer too.
      }
    }
    socket?.destroy();
    return 0;
  }
  if (isRateLimit(rule)) {
    const body = "local_rate_limited";
    res.writeHead(429, {
      "content-type": "text/plain",
      "content-length": Buffer.byteLength(body),
      "x-local-rate-limit": "true",
      "retry-after": String(rule.retryAfter ?? 1),
    });
    res.end(body);
    return 429;
  }
  if (rule.status !== undefined) {
    const body = envoyBody(rule.status);
    res.writeHead(rule.status, {
      "content-type": "text/plain",
      "content-length": Buffer.byteLength(body),
      server: "envoy",
    });
    res.end(body);
    return rule.status;
  }
  if (rule.emptyJson) {
    res.writeHead(200, { "content-type": "application/json", "content-length": 2 });
    res.end("{}");
    return 200;
  }
  return undefined;
}
