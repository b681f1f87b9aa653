/**
 * One real control plane (kube-apiserver + etcd from kube-testenv) for the k8s-store tests, with the project's
 * CRDs from schemas/crds and the RBAC the store needs (test/fixtures/rbac) bound to the agent identity.
 */
import { fileURLToPath } from "node:url";
import { startControlPlane } from "@runtime-agent/kube-testenv";

declare module "vitest" {
  export interface ProvidedContext {
    k8sStoreAdminKubeconfig: string;
    k8sStoreAgentKubeconfig: string;
  }
}

interface Project {
  provide(key: "k8sStoreAdminKubeconfig" | "k8sStoreAgentKubeconfig", value: string): void;
}

export const CRD_DIR = fileURLToPath(new URL("../../../schemas/crds", import.meta.url));
export const RBAC_DIR = fileURLToPath(new URL("./fixtures/rbac", import.meta.url));

export default async function setup(project: Project): Promise<() => Promise<void>> {
  const cp = await startControlPlane({ crds: [CRD_DIR], rbacDir: RBAC_DIR });
  project.provide("k8sStoreAdminKubeconfig", cp.kubeconfigPath);
  project.provide("k8sStoreAgentKubeconfig", cp.agentKubeconfigPath);
  return async () => {
    await cp.stop();
  };
}
