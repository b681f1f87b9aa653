/**
 * Vitest global setup: one real control plane per test run (per vitest project that lists it), with the
 * repository's CRDs from `schemas/crds/` (skipped when that folder does not exist) and the agent RBAC from
 * `apps/runtime-agent/deploy/`.
 *
 * vitest.config.ts of a package:
 *
 *     test: { globalSetup: ["@runtime-agent/kube-testenv/vitest-global-setup"], hookTimeout: 60_000 }
 *
 * In a test:
 *
 *     import { inject } from "vitest";
 *     import type {} from "@runtime-agent/kube-testenv/vitest-global-setup"; // types of inject()
 *     const kubeconfig = inject("kubeconfigPath");           // admin (system:masters)
 *     const agentKubeconfig = inject("agentKubeconfigPath"); // the agent's ServiceAccount identity
 *
 * The same values are in the environment of the test workers as KUBE_TESTENV_KUBECONFIG,
 * KUBE_TESTENV_AGENT_KUBECONFIG and KUBE_TESTENV_SERVER.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type {} from "vitest"; // makes the module augmentation below resolvable; erased at run time
import { repoRoot, startControlPlane } from "./control-plane.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin kubeconfig of the control plane started by kube-testenv's global setup. */
    kubeconfigPath: string;
    /** Kubeconfig of the agent's ServiceAccount identity (RBAC enforced). */
    agentKubeconfigPath: string;
    /** https URL of the kube-apiserver. */
    kubeServer: string;
  }
}

/** What vitest passes to a global setup (a structural subset of vitest/node's TestProject). */
export interface GlobalSetupContext {
  provide(key: "kubeconfigPath" | "agentKubeconfigPath" | "kubeServer", value: string): void;
}

/** The CRD directories the global setup installs: `schemas/crds/` of the repository when it exists. */
export function repoCrdPaths(): string[] {
  const root = repoRoot();
  if (!root) return [];
  const dir = join(root, "schemas", "crds");
  return existsSync(dir) ? [dir] : [];
}

export default async function setup(project: GlobalSetupContext): Promise<() => Promise<void>> {
  const cp = await startControlPlane({ crds: repoCrdPaths() });
  project.provide("kubeconfigPath", cp.kubeconfigPath);
  project.provide("agentKubeconfigPath", cp.agentKubeconfigPath);
  project.provide("kubeServer", cp.server);
  process.env["KUBE_TESTENV_KUBECONFIG"] = cp.kubeconfigPath;
  process.env["KUBE_TESTENV_AGENT_KUBECONFIG"] = cp.agentKubeconfigPath;
  process.env["KUBE_TESTENV_SERVER"] = cp.server;
  return async () => {
    await cp.stop();
  };
}
