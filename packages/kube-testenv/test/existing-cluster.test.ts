import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../src/index.js";
import { clientFor, fixtures } from "./helpers.js";

// USE_EXISTING_CLUSTER=true is exercised against a control plane this test starts itself.
describe("USE_EXISTING_CLUSTER=true", () => {
  let cluster: ControlPlane;
  const saved = { use: process.env["USE_EXISTING_CLUSTER"], kubeconfig: process.env["KUBECONFIG"] };

  beforeAll(async () => {
    delete process.env["USE_EXISTING_CLUSTER"];
    cluster = await startControlPlane({ rbacDir: join(fixtures, "rbac") });
  }, 180_000);

  afterAll(async () => {
    const restore = (k: string, v: string | undefined) =>
      v === undefined ? delete process.env[k] : (process.env[k] = v);
    restore("USE_EXISTING_CLUSTER", saved.use);
    restore("KUBECONFIG", saved.kubeconfig);
    await cluster?.stop();
  }, 60_000);

  it("uses KUBECONFIG's cluster, installs CRDs there and leaves it running on stop()", async () => {
    process.env["USE_EXISTING_CLUSTER"] = "true";
    process.env["KUBECONFIG"] = cluster.kubeconfigPath;
    const cp = await startControlPlane({ crds: [join(fixtures, "crds-extra")] });
    expect(cp.kubeconfigPath).toBe(cluster.kubeconfigPath);
    expect(cp.agentKubeconfigPath).toBe(cluster.kubeconfigPath);
    expect(cp.server).toBe(cluster.server);

    const admin = clientFor(cluster.kubeconfigPath);
    try {
      const discovery = await admin.request("GET", "/apis/testenv.example.com/v1alpha1");
      expect(discovery.status).toBe(200);
      expect((discovery.json as { resources: { name: string }[] }).resources.map((r) => r.name)).toContain(
        "gadgets",
      );

      await cp.stop();
      expect(existsSync(cluster.kubeconfigPath)).toBe(true);
      expect((await admin.request("GET", "/readyz")).status).toBe(200);
    } finally {
      admin.close();
    }
  }, 60_000);

  it("fails clearly without KUBECONFIG", async () => {
    process.env["USE_EXISTING_CLUSTER"] = "true";
    delete process.env["KUBECONFIG"];
    await expect(startControlPlane()).rejects.toMatchObject({
      name: "KubeTestenvError",
      code: "KUBECONFIG_INVALID",
    });
  });
});
