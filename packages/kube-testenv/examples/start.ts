// Starts a control plane with the test CRD fixture, lists namespaces as admin, and stops it.
// Run from packages/kube-testenv: node --conditions=development --import tsx examples/start.ts
import { execFileSync } from "node:child_process";
import { startControlPlane } from "@runtime-agent/kube-testenv";

const cp = await startControlPlane({ crds: ["test/fixtures/crds"] });
try {
  console.log(`server: ${cp.server}`);
  console.log(`admin kubeconfig: ${cp.kubeconfigPath}`);
  console.log(`agent kubeconfig: ${cp.agentKubeconfigPath}`);
  console.log(
    execFileSync("kubectl", ["--kubeconfig", cp.kubeconfigPath, "get", "ns"], { encoding: "utf8" }),
  );
} catch (err) {
  console.error("kubectl failed (is it installed?):", (err as Error).message);
} finally {
  await cp.stop();
}
