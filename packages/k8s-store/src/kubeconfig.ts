import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { K8sStoreError } from "./errors.js";

export interface KubeConfigOptions {
  /** An explicit kubeconfig file; wins over everything else. */
  kubeconfigPath?: string;
  /** Force the in-cluster configuration (ServiceAccount token and CA under /var/run/secrets). */
  inCluster?: boolean;
  /** Context to use instead of the file's current-context. */
  context?: string;
  /** Environment to read KUBECONFIG / KUBERNETES_SERVICE_HOST from (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Where a KubeConfig came from, for logs. */
export type KubeConfigSource = "file" | "KUBECONFIG" | "in-cluster" | "home";

export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  source: KubeConfigSource;
  /** The API server URL of the current context. */
  server: string;
}

/**
 * Loads the Kubernetes client configuration, in this order: `kubeconfigPath`; `inCluster: true`; the
 * `KUBECONFIG` environment variable (a path list, merged as kubectl does); the in-cluster configuration when
 * `KUBERNETES_SERVICE_HOST` is set; `~/.kube/config`. Throws K8S_CONFIG when nothing usable is found.
 */
export function loadKubeConfig(options: KubeConfigOptions = {}): LoadedKubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  let source: KubeConfigSource;
  try {
    if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== "") {
      if (!existsSync(options.kubeconfigPath)) {
        throw new K8sStoreError("K8S_CONFIG", `kubeconfig file ${options.kubeconfigPath} does not exist`);
      }
      kc.loadFromFile(options.kubeconfigPath);
      source = "file";
    } else if (options.inCluster === true) {
      kc.loadFromCluster();
      source = "in-cluster";
    } else if (env["KUBECONFIG"] !== undefined && env["KUBECONFIG"] !== "") {
      const files = env["KUBECONFIG"].split(process.platform === "win32" ? ";" : ":").filter((f) => f !== "");
      const existing = files.filter((f) => existsSync(f));
      if (existing.length === 0) throw new K8sStoreError("K8S_CONFIG", `no file of KUBECONFIG=${env["KUBECONFIG"]} exists`);
      const [first, ...rest] = existing;
      kc.loadFromFile(first as string);
      for (const f of rest) {
        const more = new KubeConfig();
        more.loadFromFile(f);
        kc.mergeConfig(more);
      }
      source = "KUBECONFIG";
    } else if (env["KUBERNETES_SERVICE_HOST"] !== undefined && env["KUBERNETES_SERVICE_HOST"] !== "") {
      kc.loadFromCluster();
      source = "in-cluster";
    } else {
      const home = join(homedir(), ".kube", "config");
      if (!existsSync(home)) {
        throw new K8sStoreError(
          "K8S_CONFIG",
          "no Kubernetes configuration: pass a kubeconfig path, set KUBECONFIG, or run in a cluster (KUBERNETES_SERVICE_HOST)",
        );
      }
      kc.loadFromFile(home);
      source = "home";
    }
    if (options.context !== undefined) kc.setCurrentContext(options.context);
  } catch (err) {
    if (err instanceof K8sStoreError) throw err;
    throw new K8sStoreError("K8S_CONFIG", `cannot load the Kubernetes configuration: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      retryable: false,
    });
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null || cluster.server === "") {
    throw new K8sStoreError("K8S_CONFIG", `the Kubernetes configuration (${source}) has no current cluster`);
  }
  return { kubeConfig: kc, source, server: cluster.server };
}
