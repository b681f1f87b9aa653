import { buildDesiredState } from "@runtime-agent/app-sync";
import type { DesiredState } from "@runtime-agent/app-sync";
import { DirectorClient } from "@runtime-agent/director-client";
import { stringify } from "yaml";
import { readCertDir } from "../cert-dir.js";
import { SETTINGS } from "../config/schema.js";
import { compassProxy, httpsUrlFlag, parseFlags, positiveIntFlag, requireFlag, TLS_FLAGS, tlsTrustFrom } from "./args.js";
import { UsageError } from "./exit-codes.js";
import type { CommandIo } from "./io.js";

export const SYNC_USAGE = `runtime-agent sync --dry-run --cert-dir DIR --runtime-id ID [--tenant T] [--director-url URL] [--ca-file F]
    [--insecure-skip-tls-verify] [--output yaml|json] [--page-size N] [--central-gateway-url URL]
    [--integration-namespace NS] [--skip-apps-tls-verify]
  Fetches every application Compass assigns to the runtime and prints the Application CRs and Secrets the agent
  would write (Secret values redacted) on stdout; a summary on stderr.`;

export async function syncCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parseFlags(argv, {
    "dry-run": { type: "boolean" },
    "cert-dir": { type: "string" },
    "runtime-id": { type: "string" },
    tenant: { type: "string" },
    "director-url": { type: "string" },
    output: { type: "string" },
    "page-size": { type: "string" },
    "central-gateway-url": { type: "string" },
    "integration-namespace": { type: "string" },
    "skip-apps-tls-verify": { type: "boolean" },
    ...TLS_FLAGS,
  });
  if (flags["dry-run"] !== true) {
    throw new UsageError("sync writes nothing by itself: pass --dry-run (the controller, `runtime-agent run`, applies)");
  }
  const output = flags.output ?? "yaml";
  if (output !== "yaml" && output !== "json") throw new UsageError("--output must be yaml or json");
  const dir = requireFlag(flags["cert-dir"], "cert-dir");
  const runtimeId = requireFlag(flags["runtime-id"], "runtime-id");
  const pageSize = positiveIntFlag(flags["page-size"], "page-size", 100, 1, 200);
  const tls = await tlsTrustFrom(flags, (line) => io.err(line));
  if (flags["skip-apps-tls-verify"] === true) io.err("warning: --skip-apps-tls-verify: the Applications are written with spec.skipVerify=true\n");
  let credentials;
  try {
    credentials = await readCertDir(dir);
  } catch (error) {
    throw new UsageError(`--cert-dir: ${(error as Error).message}`);
  }
  const directorUrl = httpsUrlFlag(flags["director-url"] ?? credentials.connection.directorUrl, "director-url");

  const client = new DirectorClient({
    url: directorUrl,
    tenant: flags.tenant,
    clientCertificate: { keyPem: credentials.keyPem, certificateChainPem: credentials.chainPem },
    tls,
    proxy: compassProxy(),
  });
  let desired: DesiredState;
  try {
    const [labels, listing] = await Promise.all([
      client.getRuntimeLabels(runtimeId),
      client.listApplicationsForRuntime(runtimeId, { pageSize }),
    ]);
    desired = buildDesiredState(listing.applications, labels, {
      centralGatewayUrl: flags["central-gateway-url"] ?? (SETTINGS.centralGatewayServiceUrl.default as string),
      skipAppsTlsVerify: flags["skip-apps-tls-verify"] === true,
      integrationNamespace: flags["integration-namespace"] ?? (SETTINGS.integrationNamespace.default as string),
    });
  } finally {
    await client.close();
  }

  const objects = [...desired.applications, ...desired.secrets.map((s) => redactSecret(s.secret))];
  io.out(
    output === "json"
      ? `${JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }, null, 2)}\n`
      : objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n"),
  );
  for (const conflict of desired.conflicts) io.err(`conflict: application ${conflict.applicationId} (${conflict.name}): ${conflict.reason}\n`);
  for (const warning of desired.warnings) io.err(`warning: application ${warning.applicationId} (${warning.name}): ${warning.reason}\n`);
  io.err(`applications=${desired.applications.length} conflicts=${desired.conflicts.length}\n`);
  return 0;
}

/** Keeps names and keys, replaces every value: a dry run must not print credentials. */
function redactSecret<T extends { data?: Record<string, string> }>(secret: T): T {
  const data = Object.fromEntries(Object.keys(secret.data ?? {}).map((key) => [key, "<redacted>"]));
  return { ...secret, data };
}
