export { startControlPlane, DEFAULT_NAMESPACES } from "./control-plane.js";
export type { ControlPlane, ControlPlaneOptions } from "./control-plane.js";
export {
  ensureBinaries,
  ensureManifestReader,
  cacheRoot,
  binaryVersion,
  manifestReaderVersion,
  KUBERNETES_VERSION,
  ETCD_VERSION,
} from "./build.js";
export type { BinaryInfo } from "./build.js";
export { readKubeconfig } from "./kubeconfig.js";
export type { KubeCredentials } from "./kubeconfig.js";
export { AGENT_USER, AGENT_GROUPS } from "./pki.js";
export { readManifests, RBAC_KINDS } from "./manifests.js";
export type { ManifestObject } from "./manifests.js";
export { startFaultProxy } from "./fault-proxy.js";
export type { FaultProxy, FaultProxyOptions } from "./fault-proxy.js";
export type { ArmedRule, Fault, FaultRule, ProxiedRequest, RequestMatch } from "./fault-rules.js";
export { KubeTestenvError } from "./errors.js";
export type { KubeTestenvErrorCode } from "./errors.js";

import { fileURLToPath } from "node:url";

/**
 * Absolute path of the vitest global setup module (src/*.ts in development, dist/*.js when built), for
 * `test.globalSetup` in a vitest config.
 */
export const vitestGlobalSetupPath: string = fileURLToPath(
  new URL(
    import.meta.url.endsWith(".ts") ? "./vitest-global-setup.ts" : "./vitest-global-setup.js",
    import.meta.url,
  ),
);
