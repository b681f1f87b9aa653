/**
 * The container image's entry point: src/cli.ts plus one compatibility rule for Kyma.
 *
 * Kyma's `compass-runtime-agent` Deployment (application-connector-manager) starts the Go binary with
 * `args: ["/app/compass-runtime-agent"]`. So that swapping the image is the only change to that Deployment, a first
 * argument that is exactly this path is dropped; everything else goes to the CLI unchanged (no argument: `run`).
 */
import { main } from "../src/cli/main.js";
import { processIo } from "../src/cli/io.js";

export const KYMA_BINARY_ARGUMENT = "/app/compass-runtime-agent";

const argv = process.argv.slice(2);
if (argv[0] === KYMA_BINARY_ARGUMENT) argv.shift();
process.exitCode = await main(argv, processIo);
