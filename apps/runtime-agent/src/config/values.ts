/** Parsers for configuration values. Each throws a plain Error whose message says what is expected. */

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration syntax ("20s", "1m30s", "1.5h", "300ms"), returned in milliseconds. */
export function parseGoDuration(text: string): number {
  const value = text.trim();
  if (value === "0") return 0;
  const pattern = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of value.matchAll(pattern)) {
    total += Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
    consumed += match[0].length;
  }
  if (value === "" || consumed !== value.length) {
    throw new Error(`"${text}" is not a duration (examples: 20s, 1m30s, 2h)`);
  }
  return total;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Go's strconv.ParseBool. */
export function parseBool(text: string): boolean {
  const value = text.trim();
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw new Error(`"${text}" is not a boolean (true or false)`);
}

export function parsePort(text: string): number {
  const port = Number(text.trim());
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${text}" is not a port (1-65535)`);
  return port;
}

export interface NamespacedName {
  namespace: string;
  name: string;
}

/**
 * "namespace/name" as the Go agent parses it: a value without "/" or with an empty part is a name in "default".
 * Unlike Go, an empty name is refused: it can only be a mistake.
 */
export function parseNamespacedName(text: string): NamespacedName {
  const parts = text.split("/");
  let result: NamespacedName;
  if (parts.length === 1) result = { namespace: "default", name: parts[0] as string };
  else if (parts.length === 2 && parts[1] === "") result = { namespace: "default", name: parts[0] as string };
  else if (parts.length === 2) result = { namespace: parts[0] || "default", name: parts[1] as string };
  else throw new Error(`"${text}" is not namespace/name`);
  const dns = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (!dns.test(result.name) || result.name.length > 253) throw new Error(`"${text}": "${result.name}" is not a valid Kubernetes name`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(result.namespace) || result.namespace.length > 63) {
    throw new Error(`"${text}": "${result.namespace}" is not a valid namespace`);
  }
  return result;
}

export function parseUrl(text: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(`"${text}" is not a URL`);
  }
  if (!protocols.includes(url.protocol)) throw new Error(`"${text}" must use ${protocols.join(" or ")}`);
  return text.trim();
}

export function parseFraction(text: string): number {
  const value = Number(text.trim());
  if (!Number.isFinite(value) || value <= 0 || value >= 1 || text.trim() === "") {
    throw new Error(`"${text}" is not a number between 0 and 1 (exclusive)`);
  }
  return value;
}
