// Command-line options of `pnpm codegen:refresh`.
import { resolve } from "node:path";
import { parseArgs } from "node:util";

export const TARGETS = ["connector", "director"] as const;
export type Target = (typeof TARGETS)[number];

export interface RefreshOptions {
  /** The repository (or a copy of it) whose schemas/ and packages/*\/src/operations are read and written. */
  root: string;
  /** Where each Compass schema comes from: an http(s) URL (introspection) or a file (SDL, or introspection JSON). */
  sources: Partial<Record<Target, string>>;
  prune: boolean;
  dryRun: boolean;
  caFile?: string | undefined;
  insecureSkipTlsVerify: boolean;
  /** One-time token for the Connector's token listener (header Connector-Token). */
  token?: string | undefined;
  /** A certificate directory as `runtime-agent pair` writes it: key.pem and chain.pem, for mTLS endpoints. */
  certDir?: string | undefined;
  /** Per request, in milliseconds. */
  timeoutMs: number;
}

export const USAGE = `Usage: pnpm codegen:refresh --connector <url|file> --director <url|file> [options]

Reads Compass's Connector and/or Director schema (at least one of the two), checks that every operation in
packages/*/src/operations/*.graphql still validates against it, prints the breaking and dangerous changes that touch
what those operations use, then rewrites schemas/compass/{connector,director}.graphql and regenerates the clients.

Sources:
  --connector <url|file>        https://…/connector/graphql, or a file: SDL (.graphql) or introspection result (.json)
  --director <url|file>         https://…/director/graphql, or a file

Options:
  --prune                       write only what the operations need (reached types, fields with all their arguments,
                                the types those reference, union members and implementations), with descriptions
  --dry-run                     report only: write nothing, run no codegen
  --ca-file F                   PEM CA certificate(s) to trust in addition to the system CAs
  --insecure-skip-tls-verify    do not verify the server certificate
  --token T                     one-time token for the Connector token listener (header Connector-Token)
  --cert-dir DIR                client certificate for mTLS endpoints: DIR/key.pem and DIR/chain.pem
                                (as written by \`runtime-agent pair\`)
  --timeout S                   per request, in seconds (default 30)
  --root DIR                    the repository to read and update (default: this repository)
  -h, --help                    this text

Exit codes: 0 done (or nothing to do); 2 an operation no longer validates against the new schema (nothing written);
1 any other error (bad flags, unreachable URL, unreadable file, invalid schema, codegen failed).`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type ParsedArgs = { help: true } | { help: false; options: RefreshOptions };

const VALUE_OPTIONS = ["connector", "director", "ca-file", "token", "cert-dir", "timeout", "root"];
const FLAGS = ["prune", "dry-run", "insecure-skip-tls-verify", "help"];

/**
 * `--token -abc` → `--token=-abc`: one-time tokens are URL-safe base64 and may start with "-", which parseArgs would
 * take for an option. A value is taken as is unless it is one of this command's own options.
 */
function joinValues(argv: readonly string[]): string[] {
  const own = new Set([...VALUE_OPTIONS, ...FLAGS].map((name) => `--${name}`).concat("-h"));
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (VALUE_OPTIONS.includes(arg.slice(2)) && arg.startsWith("--") && next !== undefined && !own.has(next.split("=")[0]!)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

export function parseRefreshArgs(argv: readonly string[], defaultRoot: string): ParsedArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: joinValues(argv),
      allowPositionals: false,
      strict: true,
      options: {
        connector: { type: "string" },
        director: { type: "string" },
        prune: { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
        "ca-file": { type: "string" },
        "insecure-skip-tls-verify": { type: "boolean", default: false },
        token: { type: "string" },
        "cert-dir": { type: "string" },
        timeout: { type: "string" },
        root: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return { help: true };
  const sources: Partial<Record<Target, string>> = {};
  for (const target of TARGETS) {
    const value = values[target];
    if (value === undefined) continue;
    if (value.trim() === "") throw new UsageError(`--${target} needs a URL or a file`);
    sources[target] = value;
  }
  if (Object.keys(sources).length === 0) throw new UsageError("give --connector and/or --director");
  let timeoutMs = 30_000;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout must be a positive number of seconds`);
    timeoutMs = seconds * 1000;
  }
  if (values.token !== undefined && values.token === "") throw new UsageError("--token is empty");
  return {
    help: false,
    options: {
      root: resolve(values.root ?? defaultRoot),
      sources,
      prune: values.prune,
      dryRun: values["dry-run"],
      caFile: values["ca-file"],
      insecureSkipTlsVerify: values["insecure-skip-tls-verify"],
      token: values.token,
      certDir: values["cert-dir"],
      timeoutMs,
    },
  };
}
