import { createRequire } from "node:module";
import { describeError, exitCodeFor, ExitCode } from "./exit-codes.js";
import type { CommandIo } from "./io.js";
import { PAIR_USAGE, pairCommand } from "./pair.js";
import { RENEW_USAGE, renewCommand, REVOKE_USAGE, revokeCommand } from "./renew.js";
import { RUN_USAGE, runCommand } from "./run.js";
import { STATUS_USAGE, statusCommand } from "./status.js";
import { SYNC_USAGE, syncCommand } from "./sync.js";

type Command = (argv: string[], io: CommandIo) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  run: { run: runCommand, usage: RUN_USAGE },
  status: { run: statusCommand, usage: STATUS_USAGE },
  pair: { run: pairCommand, usage: PAIR_USAGE },
  renew: { run: renewCommand, usage: RENEW_USAGE },
  revoke: { run: revokeCommand, usage: REVOKE_USAGE },
  sync: { run: syncCommand, usage: SYNC_USAGE },
};

/** Defined by the bundle (build/bundle.mjs), where package.json is not beside the code. */
declare const RUNTIME_AGENT_VERSION: string | undefined;

export function version(): string {
  if (typeof RUNTIME_AGENT_VERSION === "string") return RUNTIME_AGENT_VERSION;
  const require = createRequire(import.meta.url);
  return (require("../../package.json") as { version: string }).version;
}

function usage(): string {
  return [
    "runtime-agent — keeps a Kyma runtime connected to Compass.",
    "",
    "Commands:",
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.split("\n")[0]}`),
    "",
    "`runtime-agent COMMAND --help` describes a command; without a command the controller runs.",
    "",
    "Exit codes: 0 ok, 2 usage, 3 Compass refused, 4 Compass unreachable/timeout/TLS, 5 bad response or certificate check failed.",
    "",
  ].join("\n");
}

/** Runs one CLI invocation and returns the exit code; never throws. */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  // No command, or only flags: run the controller, as the container image does.
  const runsController = argv.length === 0 || (argv[0]?.startsWith("--") === true && argv[0] !== "--help" && argv[0] !== "--version");
  const [name, ...rest] = runsController ? ["run", ...argv] : argv;
  if (name === "--version" || name === "-v") {
    io.out(`${version()}\n`);
    return ExitCode.OK;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(usage());
    return ExitCode.OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`runtime-agent: unknown command "${name}"\n\n${usage()}`);
    return ExitCode.USAGE;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(`${command.usage}\n`);
    return ExitCode.OK;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    const code = exitCodeFor(error);
    io.err(`runtime-agent ${name}: ${describeError(error)}\n`);
    if (code === ExitCode.USAGE) io.err(`usage: ${command.usage}\n`);
    return code;
  }
}
