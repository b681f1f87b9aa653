import { loadKubeConfig } from "@runtime-agent/k8s-store";
import type { Logger } from "../observability/logger.js";

/**
 * A kubeconfig with `insecure-skip-tls-verify: true` turns off the verification of the API server's certificate:
 * like every other disabled check, that is logged as a warning at start-up. A kubeconfig that cannot be loaded is
 * left to the store, which reports it with its own error.
 */
export function warnAboutInsecureKubeconfig(log: Logger, kubeconfigPath: string | undefined): void {
  let loaded;
  try {
    loaded = loadKubeConfig(kubeconfigPath ? { kubeconfigPath } : {});
  } catch {
    return;
  }
  if (!loaded.tls.rejectUnauthorized) {
    log.warn({ server: loaded.server, source: loaded.source }, "the kubeconfig sets insecure-skip-tls-verify: the API server's certificate is NOT verified");
  }
}
