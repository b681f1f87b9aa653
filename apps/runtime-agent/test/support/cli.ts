import { fileURLToPath } from "node:url";
import { run, type RunResult } from "./run.js";

const appDir = fileURLToPath(new URL("../..", import.meta.url));

export type CliResult = RunResult;

/** Runs the real CLI in its own process (from source through tsx), as a user would. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return run(process.execPath, ["--conditions=development", "--import", "tsx", "src/cli.ts", ...args], { cwd: appDir, env });
}
