#!/usr/bin/env node
/**
 * compass-sim: runs the Compass simulator until SIGTERM/SIGINT.
 *
 * On start it prints ONE JSON line on stdout:
 *   {"event":"ready","connectorUrl":…,"certSecuredConnectorUrl":…,"directorUrl":…,"adminUrl":…,"serverCaFile":…,"clientCaFile":…}
 * With --generate-apps also "runtimeId", "tenant", "token" (one-time, for the generated runtime) and "generated".
 * Everything else goes to stderr. Bad flags: message on stderr, exit code 2.
 */
import { parseCli, USAGE } from "./cli-args.js";
import { SeedError } from "./seed.js";
import { startCompassSimulator, type CompassSimulator } from "./simulator.js";

async function main(): Promise<void> {
  let cli;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`compass-sim: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (cli.help) {
    process.stdout.write(USAGE);
    return;
  }
  const log = (line: string) => process.stderr.write(`compass-sim: ${line}\n`);

  // Signal handlers first, so a signal during start-up still closes listeners and removes the temporary files.
  let sim: CompassSimulator | undefined;
  let stopSignal: NodeJS.Signals | undefined;
  const shutDown = (simulator: CompassSimulator, signal: NodeJS.Signals) => {
    log(`${signal}: shutting down`);
    simulator
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        process.stderr.write(`compass-sim: close failed: ${(error as Error).message}\n`);
        process.exit(1);
      });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal) return;
    stopSignal = signal;
    if (sim) shutDown(sim, signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  try {
    sim = await startCompassSimulator({ ...cli.options, ...(cli.quiet ? {} : { log }) });
  } catch (error) {
    // Seed content errors are usage errors too (the file is an input).
    const code = error instanceof SeedError || error instanceof RangeError ? 2 : 1;
    process.stderr.write(`compass-sim: ${(error as Error).message}\n`);
    process.exit(code);
  }
  if (stopSignal) {
    shutDown(sim, stopSignal);
    return;
  }
  if (sim.seedReport) {
    log(`seed loaded: ${JSON.stringify(sim.seedReport.loaded)}`);
    if (sim.seedReport.ignored.length > 0) log(`seed sections not loaded: ${sim.seedReport.ignored.join(", ")}`);
  }
  const generated = sim.generated;
  if (generated) log(`generated: ${JSON.stringify(generated)}`);
  process.stdout.write(
    `${JSON.stringify({
      event: "ready",
      connectorUrl: sim.connectorUrl,
      certSecuredConnectorUrl: sim.certSecuredConnectorUrl,
      directorUrl: sim.directorUrl,
      adminUrl: sim.adminUrl,
      serverCaFile: sim.serverCaFile,
      clientCaFile: sim.clientCaFile,
      ...(generated
        ? {
            runtimeId: generated.runtimeId,
            tenant: generated.tenant,
            token: sim.issueToken(generated.runtimeId).token,
            generated: {
              applications: generated.applications,
              bundles: generated.bundles,
              apiDefinitions: generated.apiDefinitions,
              eventDefinitions: generated.eventDefinitions,
              credentials: generated.credentials,
            },
          }
        : {}),
    })}\n`,
  );
}

await main();
