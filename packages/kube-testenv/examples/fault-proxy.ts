// Puts the fault proxy in front of a real API server and fails the 2nd Secret create with HTTP 500.
// Run from packages/kube-testenv: node --conditions=development --import tsx examples/fault-proxy.ts
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startControlPlane, startFaultProxy } from "@runtime-agent/kube-testenv";

const cp = await startControlPlane();
const proxy = await startFaultProxy({ kubeconfig: cp.kubeconfigPath });
try {
  const kubeconfig = await proxy.kubeconfigFor(cp.kubeconfigPath); // the same admin identity, via the proxy
  const rule = proxy.arm({
    method: "POST",
    path: "/api/v1/namespaces/default/secrets",
    nth: 2,
    fault: { kind: "status", status: 500 },
  });
  // Asynchronously: the proxy runs in this process, and a spawnSync would block it.
  const kubectl = (...args: string[]) =>
    promisify(execFile)("kubectl", ["--kubeconfig", kubeconfig, ...args]).catch(
      (err: { stdout: string; stderr: string }) => err, // kubectl exits 1 on the injected 500
    );
  console.log((await kubectl("create", "secret", "generic", "a", "--from-literal=k=v")).stdout.trim());
  console.log((await kubectl("create", "secret", "generic", "b", "--from-literal=k=v")).stderr.trim());
  console.log("fault hit:", await rule.hit);
  for (const r of proxy.requests) console.log(r.seq, r.method, r.path, r.status, r.fault?.kind ?? "");
} finally {
  await proxy.close();
  await cp.stop();
}
