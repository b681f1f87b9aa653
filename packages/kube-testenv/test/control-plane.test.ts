import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readManifests, startControlPlane, type ControlPlane } from "../src/index.js";
import type { KubeClient } from "../src/client.js";
import { clientFor, fixtures, hasKubectl, portOpen } from "./helpers.js";

describe("startControlPlane", () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let agent: KubeClient;

  beforeAll(async () => {
    cp = await startControlPlane({ crds: [join(fixtures, "crds")], rbacDir: join(fixtures, "rbac") });
    admin = clientFor(cp.kubeconfigPath);
    agent = clientFor(cp.agentKubeconfigPath);
  }, 180_000);

  afterAll(async () => {
    admin?.close();
    agent?.close();
    await cp?.stop();
  }, 60_000);

  it("serves https on loopback with the admin client certificate", async () => {
    expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await admin.request("GET", "/api/v1/namespaces");
    expect(res.status).toBe(200);
    const names = (res.json as { items: { metadata: { name: string } }[] }).items.map((n) => n.metadata.name);
    expect(names).toEqual(expect.arrayContaining(["default", "kube-system", "kyma-system", "istio-system"]));
  });

  it("authenticates the admin as system:masters", async () => {
    const res = await admin.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });
    expect(res.status).toBe(201);
    const user = (res.json as { status: { userInfo: { username: string; groups: string[] } } }).status
      .userInfo;
    expect(user.groups).toContain("system:masters");
  });

  it.skipIf(!hasKubectl())("works with kubectl", () => {
    const out = execFileSync("kubectl", ["--kubeconfig", cp.kubeconfigPath, "get", "ns", "-o", "name"], {
      encoding: "utf8",
    });
    expect(out).toContain("namespace/kyma-system");
    expect(out).toContain("namespace/istio-system");
  });

  // kubectl is required like Go (the agent's deploy tests need it too): missing, this test fails instead of skipping.
  it(
    "reads manifests as kubectl reads them (kubectl create --dry-run=client)",
    async () => {
      for (const file of [
        join(fixtures, "crds-kyma-style", "compassconnections.yaml"),
        join(fixtures, "crds", "widgets.yaml"),
      ]) {
        const kubectl = JSON.parse(
          execFileSync(
            "kubectl",
            [
              "--kubeconfig",
              cp.kubeconfigPath,
              "create",
              "--dry-run=client",
              "--validate=false",
              "-o",
              "json",
              "-f",
              file,
            ],
            { encoding: "utf8" },
          ),
        ) as unknown;
        expect((await readManifests([file])).map((m) => m.object)).toEqual([kubectl]);
      }
    },
  );

  it("installs the CRD and serves it (Established + discovery)", async () => {
    const crd = await admin.request(
      "GET",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.testenv.example.com",
    );
    expect(crd.status).toBe(200);
    const conditions = (
      crd.json as { status: { conditions: { type: string; status: string; lastTransitionTime: string }[] } }
    ).status.conditions;
    expect(conditions).toContainEqual(expect.objectContaining({ type: "Established", status: "True" }));
    // Established 2 s or more ago: the API server no longer holds creates back (customresource_handler.go).
    const established = conditions.find((c) => c.type === "Established")!;
    expect(Date.now() - Date.parse(established.lastTransitionTime)).toBeGreaterThanOrEqual(2_000);

    const discovery = await admin.request("GET", "/apis/testenv.example.com/v1");
    expect(discovery.status).toBe(200);
    expect((discovery.json as { resources: { name: string }[] }).resources.map((r) => r.name)).toContain(
      "widgets",
    );

    const created = await admin.request("POST", "/apis/testenv.example.com/v1/namespaces/default/widgets", {
      apiVersion: "testenv.example.com/v1",
      kind: "Widget",
      metadata: { name: "w1" },
      spec: { size: 3 },
    });
    expect(created.status).toBe(201);
    // The schema is enforced.
    const invalid = await admin.request("POST", "/apis/testenv.example.com/v1/namespaces/default/widgets", {
      apiVersion: "testenv.example.com/v1",
      kind: "Widget",
      metadata: { name: "w2" },
      spec: { size: 0 },
    });
    expect(invalid.status).toBe(422);
  });

  it("authenticates the agent kubeconfig as the agent's ServiceAccount, with a bearer token", async () => {
    // A token, as an in-cluster ServiceAccount has (the API server caches token authentication).
    const kubeconfig = readFileSync(cp.agentKubeconfigPath, "utf8");
    expect(kubeconfig).toMatch(/^\s+token: [0-9a-f]{64}$/m);
    expect(kubeconfig).not.toContain("client-certificate-data");
    const res = await agent.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });
    expect(res.status).toBe(201);
    const user = (res.json as { status: { userInfo: { username: string; groups: string[] } } }).status
      .userInfo;
    expect(user.username).toBe("system:serviceaccount:kyma-system:compass-runtime-agent");
    expect(user.groups).toEqual(
      expect.arrayContaining([
        "system:serviceaccounts",
        "system:serviceaccounts:kyma-system",
        "system:authenticated",
      ]),
    );
  });

  it("enforces RBAC on the agent kubeconfig", async () => {
    // Granted by the fixture Role/RoleBinding and ClusterRole/ClusterRoleBinding.
    expect((await agent.request("GET", "/api/v1/namespaces/kyma-system/secrets")).status).toBe(200);
    expect(
      (await agent.request("GET", "/apis/testenv.example.com/v1/namespaces/default/widgets")).status,
    ).toBe(200);
    // Not granted.
    const forbidden = await agent.request("GET", "/api/v1/namespaces/default/secrets");
    expect(forbidden.status).toBe(403);
    expect((forbidden.json as { reason: string }).reason).toBe("Forbidden");
    expect((await agent.request("DELETE", "/api/v1/namespaces/kyma-system/secrets/x")).status).toBe(403);
    expect((await agent.request("GET", "/api/v1/nodes")).status).toBe(403);
    expect(
      (
        await agent.request("POST", "/apis/testenv.example.com/v1/namespaces/default/widgets", {
          apiVersion: "testenv.example.com/v1",
          kind: "Widget",
          metadata: { name: "nope" },
          spec: { size: 1 },
        })
      ).status,
    ).toBe(403);
  });

  it("applies only RBAC kinds from rbacDir (recursively, List items included)", async () => {
    expect(
      (
        await admin.request(
          "GET",
          "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/testenv-agent-widgets",
        )
      ).status,
    ).toBe(200);
    expect(
      (await admin.request("GET", "/api/v1/namespaces/kyma-system/serviceaccounts/compass-runtime-agent"))
        .status,
    ).toBe(200);
    expect(
      (await admin.request("GET", "/apis/apps/v1/namespaces/kyma-system/deployments/compass-runtime-agent"))
        .status,
    ).toBe(404);
  });

  it("stop() kills both processes, closes the ports and removes the temp dir", async () => {
    const dir = dirname(cp.kubeconfigPath);
    const port = Number(new URL(cp.server).port);
    // etcd's client port is in the apiserver's command line; read it from the admin kubeconfig's neighbour log.
    expect(existsSync(dir)).toBe(true);
    expect(await portOpen(port)).toBe(true);
    const etcdLog = readFileSync(join(dir, "etcd.log"), "utf8");
    const etcdPort = Number(/ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(etcdLog)?.[1]);
    expect(await portOpen(etcdPort)).toBe(true);
    admin.close();
    agent.close();

    await cp.stop();
    expect(existsSync(dir)).toBe(false);
    expect(await portOpen(port)).toBe(false);
    expect(await portOpen(etcdPort)).toBe(false);
    await cp.stop(); // idempotent
  }, 60_000);
});
