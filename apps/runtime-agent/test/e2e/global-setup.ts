/**
 * One real control plane (kube-apiserver + etcd from kube-testenv) for the agent's end-to-end tests, with the
 * project's CRDs and the agent's RBAC from deploy/ bound to its ServiceAccount identity.
 */
import { fileURLToPath } from "node:url";
import { startControlPlane } from "@runtime-agent/kube-testenv";

declare module "vitest" {
  export interface ProvidedContext {
    adminKubeconfig: string;
    agentKubeconfig: string;
  }
}

interface Project {
  provide(key: "adminKubeconfig" | "agentKubeconfig", value: string): void;
}

export default async function setup(project: Project): Promise<() => Promise<void>> {
  const cp = await startControlPlane({
    crds: [fileURLToPath(new URL("../../../../schemas/crds", import.meta.url))],
    rbacDir: fileURLToPath(new URL("../../deploy", import.meta.url)),
  });
  project.provide("adminKubeconfig", cp.kubeconfigPath);
  project.provide("agentKubeconfig", cp.agentKubeconfigPath);
  return async () => {
    await cp.stop();
  };
}
