// Entry point of `pnpm codegen:refresh` (tsx scripts/codegen-refresh/main.ts). See USAGE in args.ts.
import { fileURLToPath } from "node:url";
import { parseRefreshArgs, USAGE, UsageError } from "./args.js";
import { EXIT_ERROR, refresh } from "./refresh.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseRefreshArgs(argv, REPO_ROOT);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`codegen:refresh: ${error.message}\n\n${USAGE}`);
      return EXIT_ERROR;
    }
    throw error;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    return (await refresh(parsed.options)).exitCode;
  } catch (error) {
    console.error(`✗ ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT_ERROR;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // pnpm passes a literal "--" through when called as `pnpm codegen:refresh -- --flags`.
  const argv = process.argv.slice(2);
  process.exitCode = await main(argv[0] === "--" ? argv.slice(1) : argv);
}
