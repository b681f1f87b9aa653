/**
 * Compares a recorded real-Compass answer (with templates, see derive-fixtures.ts) with the simulator's answer and
 * lists every difference by JSON path. Same paths, same value types, same values — except where the fixture holds a
 * template: `{{*kind}}` accepts any value of that kind, `{{var}}` captures the simulator's value the first time and
 * must match it afterwards. Nested lists whose order real Compass leaves unspecified are compared as multisets.
 */
import type { JsonValue } from "./fixture-types.js";

/** Values the replay learned from the simulator (tokens, SystemAuth ids) by fixture variable name. */
export class Bindings {
  readonly #values = new Map<string, string>();

  get(name: string): string | undefined {
    return this.#values.get(name);
  }

  bind(name: string, value: string): void {
    const bound = this.#values.get(name);
    if (bound !== undefined && bound !== value) throw new Error(`{{${name}}} is already bound to ${bound}`);
    this.#values.set(name, value);
  }

  /** Replaces `{{var}}` in a request value; every variable must be bound by now. */
  resolve(text: string): string {
    return text.replace(/\{\{([^*}][^}]*)\}\}/g, (_whole, name: string) => {
      const value = this.#values.get(name);
      if (value === undefined) throw new Error(`fixture variable {{${name}}} is not bound before its first use`);
      return value;
    });
  }
}

const KINDS: Record<string, string> = {
  uuid: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
  // 64 random bytes, URL-safe base64 with padding.
  token: "[A-Za-z0-9_-]{86}==",
  b64pem: "[A-Za-z0-9+/]+={0,2}",
  hostport: "[^/\\s]+:[0-9]+",
  timestamp: "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?Z",
};
/** Variables are tokens or SystemAuth ids; both have a fixed shape. */
const VARIABLE_SHAPES: Record<string, string> = { token: KINDS["token"]!, cn: KINDS["uuid"]! };
const TEMPLATE = /\{\{(\*?)([^}]+)\}\}/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Matches one expected string (maybe templated) against the actual one, capturing unbound variables. */
function matchString(expected: string, actual: string, bindings: Bindings): boolean {
  if (!expected.includes("{{")) return expected === actual;
  const captures: string[] = [];
  let pattern = "";
  let last = 0;
  for (const match of expected.matchAll(TEMPLATE)) {
    pattern += escapeRegExp(expected.slice(last, match.index));
    const [, wildcard, name] = match as unknown as [string, string, string];
    if (wildcard) {
      const kind = KINDS[name];
      if (!kind) throw new Error(`unknown template kind {{*${name}}}`);
      pattern += `(?:${kind})`;
    } else {
      const bound = bindings.get(name);
      if (bound !== undefined) pattern += escapeRegExp(bound);
      else {
        captures.push(name);
        pattern += `(${VARIABLE_SHAPES[name.split(":")[0]!] ?? ".+"})`;
      }
    }
    last = match.index + match[0].length;
  }
  pattern += escapeRegExp(expected.slice(last));
  const found = new RegExp(`^${pattern}$`, "s").exec(actual);
  if (!found) return false;
  captures.forEach((name, index) => bindings.bind(name, found[index + 1]!));
  return true;
}

function typeOf(value: JsonValue | undefined): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}

/**
 * `…bundles.data`, `…apiDefinitions.data`, `…eventDefinitions.data`: order unspecified in real Compass (README).
 * `errors`: gqlgen resolves fields concurrently, so errors of different fields come in any order (recorded:
 * director-applications-nested-first-201.json lists `data[1]` before `data[0]`).
 */
function isUnorderedList(path: string): boolean {
  return /\.(bundles|apiDefinitions|eventDefinitions)\.data$/.test(path) || /(^|\.)errors$/.test(path);
}

function sortKey(value: JsonValue): string {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && typeof value["id"] === "string") {
    return value["id"];
  }
  return JSON.stringify(value);
}

function show(value: JsonValue | undefined): string {
  const text = value === undefined ? "<missing>" : JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Every difference between expected and actual, as `path: expected X, actual Y` lines. */
export function compareJson(
  expected: JsonValue | undefined,
  actual: JsonValue | undefined,
  path: string,
  bindings: Bindings,
  differences: string[] = [],
): string[] {
  const expectedType = typeOf(expected);
  const actualType = typeOf(actual);
  if (expectedType !== actualType) {
    differences.push(`${path}: expected ${show(expected)}, actual ${show(actual)}`);
    return differences;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) {
      differences.push(`${path}: expected ${expected.length} items, actual ${actual.length}: expected ${show(expected)}, actual ${show(actual)}`);
      return differences;
    }
    const [e, a] = isUnorderedList(path)
      ? [[...expected].sort((x, y) => sortKey(x).localeCompare(sortKey(y))), [...actual].sort((x, y) => sortKey(x).localeCompare(sortKey(y)))]
      : [expected, actual];
    e.forEach((item, index) => compareJson(item, a[index], `${path}[${index}]`, bindings, differences));
    return differences;
  }
  if (expectedType === "object") {
    const e = expected as Record<string, JsonValue>;
    const a = actual as Record<string, JsonValue>;
    for (const key of new Set([...Object.keys(e), ...Object.keys(a)])) {
      compareJson(e[key], a[key], `${path}.${key}`, bindings, differences);
    }
    return differences;
  }
  if (typeof expected === "string" && typeof actual === "string") {
    if (!matchString(expected, actual, bindings)) differences.push(`${path}: expected ${show(expected)}, actual ${show(actual)}`);
    return differences;
  }
  if (expected !== actual) differences.push(`${path}: expected ${show(expected)}, actual ${show(actual)}`);
  return differences;
}
