/** Command-line parsing for `compass-sim` (kept apart from cli.ts so it can be tested without starting anything). */
import { parseArgs } from "node:util";
import { parseDuration } from "./duration.js";
import { readSeedFile } from "./seed.js";
import type { CompassSimulatorOptions } from "./simulator.js";

export const USAGE = `Usage: compass-sim [options]

  --host HOST            listen address (default 127.0.0.1)
  --advertised-host H    host name used in URLs (default: --host)
  --token-port N         token-secured Connector port (0 = free port, default 0)
  --mtls-port N          mTLS Connector + Director port (0 = free port, default 0)
  --admin-port N         admin API port (0 = free port, default 0)
  --cert-validity D      client certificate lifetime, e.g. 90d, 12h, 15m, 30s (default 90d)
  --token-ttl D          one-time token lifetime (default 60m)
  --seed FILE            JSON seed: tenants, runtimes, applications, formations, hideSelectors
                         (see README and examples/seed.json)
  --generate-apps N      create a runtime (default tenant, formation "generated") and N
                         applications assigned to it; the ready line gets runtimeId, tenant
                         and a one-time token for the runtime
  --bundles B            bundles per generated application (default 1)
  --apis A               API definitions per generated bundle (default 2)
  --events E             event definitions per generated bundle (default 1)
  --credentials-ratio R  fraction 0..1 of generated bundles with credentials (default 0.5)
  --serial2              issue every certificate with serial number 2, like Compass
  --strict-not-before    notBefore = simulator now even after the clock was advanced (such
                         certificates fail real-clock TLS until real time catches up); default
                         is notBefore = min(simulator now, real now)
  --quiet                no request log lines on stderr
  -h, --help             this text
`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new UsageError(`${flag} must be a port number 0-65535, got "${value}"`);
  return Number(value);
}

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 1_000_000) throw new UsageError(`${flag} must be a whole number 0-1000000, got "${value}"`);
  return Number(value);
}

function duration(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
}

export function parseCli(argv: string[]): { options: CompassSimulatorOptions; help: boolean; quiet: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        "advertised-host": { type: "string" },
        "token-port": { type: "string" },
        "mtls-port": { type: "string" },
        "admin-port": { type: "string" },
        "cert-validity": { type: "string" },
        "token-ttl": { type: "string" },
        seed: { type: "string" },
        "generate-apps": { type: "string" },
        bundles: { type: "string" },
        apis: { type: "string" },
        events: { type: "string" },
        "credentials-ratio": { type: "string" },
        serial2: { type: "boolean" },
        "strict-not-before": { type: "boolean" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  const options: CompassSimulatorOptions = {};
  if (v.host !== undefined) {
    if (v.host === "") throw new UsageError("--host must not be empty");
    options.host = v.host;
  }
  if (v["advertised-host"] !== undefined) options.advertisedHost = v["advertised-host"];
  const tokenPort = port(v["token-port"], "--token-port");
  const mtlsPort = port(v["mtls-port"], "--mtls-port");
  const adminPort = port(v["admin-port"], "--admin-port");
  if (tokenPort !== undefined) options.tokenPort = tokenPort;
  if (mtlsPort !== undefined) options.mtlsPort = mtlsPort;
  if (adminPort !== undefined) options.adminPort = adminPort;
  const certValidity = duration(v["cert-validity"], "--cert-validity");
  if (certValidity !== undefined) {
    if (certValidity < 1) throw new UsageError("--cert-validity must be at least 1s");
    options.certValidity = certValidity;
  }
  const tokenTtl = duration(v["token-ttl"], "--token-ttl");
  if (tokenTtl !== undefined) options.tokenTtl = tokenTtl;
  if (v.serial2) options.serial2 = true;
  if (v["strict-not-before"]) options.realTimeNotBefore = false;
  if (v.seed !== undefined) {
    try {
      options.seed = readSeedFile(v.seed) as CompassSimulatorOptions["seed"];
    } catch (error) {
      throw new UsageError(`--seed: ${(error as Error).message}`);
    }
  }
  const generateApps = count(v["generate-apps"], "--generate-apps");
  const shape = { bundles: count(v.bundles, "--bundles"), apis: count(v.apis, "--apis"), events: count(v.events, "--events") };
  let ratio: number | undefined;
  if (v["credentials-ratio"] !== undefined) {
    ratio = Number(v["credentials-ratio"]);
    if (v["credentials-ratio"].trim() === "" || !(ratio >= 0 && ratio <= 1)) {
      throw new UsageError(`--credentials-ratio must be a number from 0 to 1, got "${v["credentials-ratio"]}"`);
    }
  }
  if (generateApps === undefined) {
    const stray = Object.entries({ ...shape, "credentials-ratio": ratio }).find(([, value]) => value !== undefined);
    if (stray) throw new UsageError(`--${stray[0]} needs --generate-apps`);
  } else {
    options.generate = {
      applications: generateApps,
      ...(shape.bundles !== undefined ? { bundles: shape.bundles } : {}),
      ...(shape.apis !== undefined ? { apis: shape.apis } : {}),
      ...(shape.events !== undefined ? { events: shape.events } : {}),
      ...(ratio !== undefined ? { credentialsRatio: ratio } : {}),
    };
  }
  return { options, help: v.help ?? false, quiet: v.quiet ?? false };
}
