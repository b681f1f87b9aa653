import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

/**
 * JSON with object keys sorted at every level (undefined members dropped, as JSON.stringify does).
 * Written out directly rather than by building sorted copies: plans hash thousands of objects every cycle.
 */
export function stableStringify(value: unknown): string {
  return write(value) ?? "null";
}

const ARRAY_INDEX = /^(0|[1-9]\d{0,9})$/;

/**
 * The key order of JSON.stringify on a copy with sorted keys: JavaScript lists integer-like keys first, in
 * numeric order, then the others in insertion (here: sorted) order.
 */
function orderedKeys(value: object): string[] {
  const sorted = Object.keys(value).sort();
  const indices = sorted.filter((key) => ARRAY_INDEX.test(key) && Number(key) < 4294967295);
  if (indices.length === 0) return sorted;
  const indexSet = new Set(indices);
  return [...indices.sort((a, b) => Number(a) - Number(b)), ...sorted.filter((key) => !indexSet.has(key))];
}

function write(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (Array.isArray(value)) return `[${value.map((item) => write(item) ?? "null").join(",")}]`;
      const keys = orderedKeys(value);
      let out = "{";
      for (const key of keys) {
        const member = write((value as Record<string, unknown>)[key]);
        if (member === undefined) continue;
        out += `${out.length > 1 ? "," : ""}${JSON.stringify(key)}:${member}`;
      }
      return `${out}}`;
    }
    default:
      return undefined; // undefined, functions, symbols: absent, as in JSON.stringify
  }
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The subset of `labels` at `keys`, missing ones as absent. */
export function pickLabels(labels: Readonly<Record<string, string>> | undefined, keys: Iterable<string>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const key of keys) {
    const value = labels?.[key];
    if (value !== undefined) picked[key] = value;
  }
  return picked;
}

/** Hash of what the agent manages in an Application: its own labels and the whole spec. */
export function applicationContentHash(managedLabels: Record<string, string>, spec: unknown): string {
  return sha256Hex(stableStringify({ labels: managedLabels, spec }));
}

/** Hash of what the agent manages in a Secret: its own labels and the data. */
export function secretContentHash(managedLabels: Record<string, string>, data: unknown): string {
  return sha256Hex(stableStringify({ labels: managedLabels, data: data ?? {} }));
}

/** base64 of the UTF-8 text, as Secret `data` holds it. */
export function toBase64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** The text of a base64 Secret value (for tests and diagnostics). */
export function fromBase64(value: string): string {
  return Buffer.from(value, "base64").toString("utf8");
}

/**
 * `json.Marshal` of a Go `map[string][]string`, byte for byte: keys sorted by their UTF-8 bytes, and `<`, `>`, `&`,
 * U+2028, U+2029 escaped as Go does, so Secrets written by the Go agent compare equal.
 */
export function goJsonMultiMap(map: Readonly<Record<string, readonly string[]>>): string {
  const keys = Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
  const body = keys.map((key) => `${goString(key)}:[${(map[key] ?? []).map(goString).join(",")}]`).join(",");
  return `{${body}}`;
}

function goString(value: string): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
