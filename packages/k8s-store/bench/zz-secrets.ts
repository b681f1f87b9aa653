import { performance } from "node:perf_hooks";
import { startControlPlane } from "@runtime-agent/kube-testenv";
import { createK8sStore, type DesiredSecret } from "../src/index.js";
const cp = await startControlPlane({ crds: ["/work/main/schemas/crds"], rbacDir: "/work/main/packages/k8s-store/test/fixtures/rbac" });
const store = createK8sStore({ kubeconfigPath: cp.agentKubeconfigPath });
const N = 2500;
const mk = (p: string, owner: boolean): DesiredSecret[] => Array.from({ length: N }, (_, i) => ({ namespace: "kyma-system", name: `${p}-${i}`, labels: { app: `a-${i}`, bundleId: "b" }, data: { username: `u${i}`, password: `p${i}xxxxxxxxxxxxxxxx` }, ...(owner ? { ownerReferences: [{ apiVersion: "applicationconnector.kyma-project.io/v1alpha1", kind: "Application", name: `a-${i}`, uid: "6d1d7e2c-1111-2222-3333-444455556666" }] } : {}) }));
for (const [label, list, live] of [["warm", mk("w", false).slice(0, 200), "none"], ["plain none", mk("x", false), "none"], ["plain list", mk("y", false), "list"], ["owner list", mk("z", true), "list"]] as const) {
  const c = process.cpuUsage(); const t = performance.now();
  const r = await store.secrets.applyAll(list, { concurrency: 16, live });
  const cpu = process.cpuUsage(c);
  console.log(label, ((performance.now() - t) / 1000).toFixed(2), "s cpu", ((cpu.user + cpu.system) / 1e6).toFixed(2), "fails", r.filter((x) => !x.ok).length, r[0]?.ok ? r[0].outcome : "");
}
await store.close(); await cp.stop();
