import { startAgent } from "../agent.js";
import { createLogger } from "../observability/logger.js";
import { compassProxy, KEY_SIZE_USAGE, optionalIntFlag } from "./args.js";
import { configFromArgs, configUsage } from "./config-flags.js";
import { warnAboutInsecureKubeconfig } from "./kubeconfig-check.js";
import type { CommandIo } from "./io.js";

export const RUN_USAGE = `runtime-agent run [--kubeconfig FILE] [--key-size N] [settings...]
  Runs the controller (the default command).
  ${KEY_SIZE_USAGE}
  Every APP_* variable has a flag:
${configUsage()}`;

/** Runs until SIGTERM or SIGINT; stops within 10 s. */
export async function runCommand(argv: string[], _io: CommandIo): Promise<number> {
  const { config, values } = configFromArgs(argv, { kubeconfig: { type: "string" }, "key-size": { type: "string" } });
  // Checked before anything starts: a bad size would otherwise surface only at the next pairing or renewal.
  const keySize = optionalIntFlag(typeof values["key-size"] === "string" ? values["key-size"] : undefined, "key-size", 2048, 8192);
  // HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read as Go reads them; an invalid proxy URL stops the start like a bad setting.
  const proxy = compassProxy();
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  const kubeconfigPath = typeof values.kubeconfig === "string" ? values.kubeconfig : undefined;
  warnAboutInsecureKubeconfig(log, kubeconfigPath);
  let lostLeadership = false;
  const agent = await startAgent({
    config,
    log,
    proxy,
    ...(keySize !== undefined ? { keySize } : {}),
    kubeconfigPath,
    onLostLeadership: () => {
      lostLeadership = true;
      process.kill(process.pid, "SIGTERM");
    },
  });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info({ signal }, "shutting down");
  const deadline = setTimeout(() => {
    log.error("shutdown took longer than 10 s; exiting");
    process.exit(1);
  }, 10_000);
  deadline.unref();
  await agent.stop();
  clearTimeout(deadline);
  return lostLeadership ? 1 : 0;
}
