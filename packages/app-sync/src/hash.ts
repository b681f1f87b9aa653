import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { MANAGED_BY_LABEL, type ContentHash } from "./types.js";

/**
 * JSON with object keys sorted at every level (undefined members dropped, as JSON.stringify does).
 * Written out directly rather than by building sorted copies: plans hash thousands of objects every cycle.
 */
export function stableStringify(value: unknown): string {
  return write(value) ?? "null";
}

const ARRAY_INDEX = /^(0|[1-9]\d{0,9})$/;

/** The serialization order of an object's own keys, and the keys as JSON strings. */
interface Shape {
  own: readonly string[];
  ordered: readonly string[];
  quoted: readonly string[];
}

/**
 * Shapes seen so far, by their own keys in insertion order: objects of one kind (entries, services, labels)
 * share a shape, so the sort and the key quoting run once per shape instead of once per object. Bounded.
 */
const shapes = new Map<string, Shape>();
const MAX_SHAPES = 10_000;

function shapeOf(value: object): Shape {
  const own = Object.keys(value);
  const id = own.join("\u0000");
  const cached = shapes.get(id);
  // The id is ambiguous only for keys containing U+0000: a hit is checked key by key.
  if (cached !== undefined && cached.own.length === own.length && cached.own.every((key, i) => key === own[i])) return cached;
  const ordered = orderedKeys(own);
  const shape: Shape = { own, ordered, quoted: ordered.map((key) => JSON.stringify(key)) };
  if (cached === undefined && shapes.size < MAX_SHAPES) shapes.set(id, shape);
  return shape;
}

/**
 * The key order of JSON.stringify on a copy with sorted keys: JavaScript lists integer-like keys first, in
 * numeric order, then the others in insertion (here: sorted) order.
 */
function orderedKeys(own: readonly string[]): string[] {
  const sorted = [...own].sort();
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
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) out += `${i > 0 ? "," : ""}${write(value[i]) ?? "null"}`;
        return `${out}]`;
      }
      const { ordered, quoted } = shapeOf(value);
      let out = "{";
      for (let i = 0; i < ordered.length; i++) {
        const member = write((value as Record<string, unknown>)[ordered[i] as string]);
        if (member === undefined) continue;
        out += `${out.length > 1 ? "," : ""}${quoted[i] as string}:${member}`;
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

/** The label keys an object's content hash covers: sorted, joined with ",". */
export function labelKeysOf(labels: Readonly<Record<string, string>>): string {
  return joinKeys(Object.keys(labels));
}

function joinKeys(keys: readonly string[]): string {
  return keys.length === 1 ? (keys[0] as string) : [...keys].sort().join(",");
}

/** joinKeys of a key list the caller keeps (the agent's constants): one string for every hash remembered with it. */
const joinedKeyLists = new WeakMap<readonly string[], string>();
function joinKeysOnce(keys: readonly string[]): string {
  let joined = joinedKeyLists.get(keys);
  if (joined === undefined) joinedKeyLists.set(keys, (joined = joinKeys(keys)));
  return joined;
}

/** The agent's own label keys of an Application (what `buildDesiredState` sets). */
export const APPLICATION_LABEL_KEYS: readonly string[] = [MANAGED_BY_LABEL];
/** The agent's own label keys of a credential or request-parameter Secret (what `buildDesiredState` sets). */
export const SECRET_LABEL_KEYS: readonly string[] = ["app", "bundleId", MANAGED_BY_LABEL];

/** The content hash of an Application as read, for `ActualApplication.contentHash` (default: the agent's label keys). */
export function applicationContentHashOf(
  app: { metadata?: { labels?: Record<string, string> | undefined } | undefined; spec?: unknown },
  labelKeys: readonly string[] = APPLICATION_LABEL_KEYS,
): ContentHash {
  const labels = pickLabels(app.metadata?.labels, labelKeys);
  return { labelKeys: joinKeysOnce(labelKeys), value: applicationContentHash(labels, app.spec) };
}

/** The content hash of a Secret as read (`data` base64, as the API returns it), for `ActualSecret.contentHash`. */
export function secretContentHashOf(
  secret: { metadata?: { labels?: Record<string, string> | undefined } | undefined; data?: unknown },
  labelKeys: readonly string[] = SECRET_LABEL_KEYS,
): ContentHash {
  const labels = pickLabels(secret.metadata?.labels, labelKeys);
  return { labelKeys: joinKeysOnce(labelKeys), value: secretContentHash(labels, secret.data) };
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
