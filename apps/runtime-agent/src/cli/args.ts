import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import type { ProxyConfig, TlsTrust } from "@runtime-agent/connector-client";
import { ConfigError } from "../config/load.js";
import { compassProxyFromEnvironment } from "../config/proxy.js";
import { UsageError } from "./exit-codes.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Strict flag parsing: unknown flags and stray arguments are usage errors (exit 2), never ignored. A string flag
 * takes the next argument as its value even when that begins with "-", as Go's flag package does: a one-time token
 * may (parseArgs alone refuses `--token -abc` as ambiguous).
 */
export function parseFlags<T extends Options>(argv: string[], options: T) {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (next !== undefined && arg.startsWith("--") && options[arg.slice(2)]?.type === "string") {
      args.push(`${arg}=${next}`);
      i++;
    } else args.push(arg);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function requireFlag(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === "") throw new UsageError(`--${flag} is required`);
  return value;
}

export function httpsUrlFlag(value: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--${flag} is not a URL: ${value}`);
  }
  if (url.protocol !== "https:") throw new UsageError(`--${flag} must be an https URL`);
  return value;
}

/** Usage line of `--key-size` (run, pair, renew). */
export const KEY_SIZE_USAGE = "--key-size N: RSA bits of new keys, 2048-8192 (default: the size the Connector's keyAlgorithm names; Compass sends rsa2048).";

export function positiveIntFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  return optionalIntFlag(value, flag, min, max) ?? fallback;
}

export function optionalIntFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be an integer from ${min} to ${max}`);
  return n;
}

/** The flags every command that talks to Compass accepts. */
export const TLS_FLAGS = {
  "ca-file": { type: "string" },
  "insecure-skip-tls-verify": { type: "boolean" },
} as const;

/**
 * The trust for Compass's server certificate from --ca-file / --insecure-skip-tls-verify. Turning verification off
 * is said on stderr (through `warn`) every time, before anything is sent.
 */
export async function tlsTrustFrom(
  values: { "ca-file"?: string | undefined; "insecure-skip-tls-verify"?: boolean | undefined },
  warn: (line: string) => void,
): Promise<TlsTrust> {
  const trust: TlsTrust = {};
  if (values["ca-file"] !== undefined) {
    try {
      trust.caPem = await readFile(values["ca-file"], "utf8");
    } catch (error) {
      throw new UsageError(`cannot read --ca-file ${values["ca-file"]}: ${(error as Error).message}`);
    }
    if (!trust.caPem.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`--ca-file ${values["ca-file"]} holds no PEM certificate`);
  }
  if (values["insecure-skip-tls-verify"] === true) {
    trust.insecureSkipTlsVerify = true;
    warn("warning: --insecure-skip-tls-verify: Compass's server certificate is NOT verified\n");
  }
  return trust;
}

/** The proxy for Compass from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read as the agent reads them; an invalid one is a usage error. */
export function compassProxy(env: NodeJS.ProcessEnv = process.env): ProxyConfig | undefined {
  try {
    return compassProxyFromEnvironment(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
