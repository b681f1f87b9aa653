import { afterAll, describe, expect, it } from "vitest";
import { createK8sStore, K8sStoreError, loadKubeConfig } from "../src/index.js";
import { agentKubeconfig, agentStore, ApiServerProxy } from "./helpers.js";

const store = agentStore();
afterAll(() => store.close());

describe("store basics against the real API server", () => {
  it("loads KUBECONFIG and an explicit file", () => {
    const fromEnv = loadKubeConfig({ env: { KUBECONFIG: agentKubeconfig() } });
    expect(fromEnv.source).toBe("KUBECONFIG");
    expect(fromEnv.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(loadKubeConfig({ kubeconfigPath: agentKubeconfig() }).source).toBe("file");
    expect(() => loadKubeConfig({ kubeconfigPath: "/nonexistent/kubeconfig" })).toThrow(K8sStoreError);
  });

  it("maps an unreachable API server to K8S_UNAVAILABLE (retryable)", async () => {
    const proxy = await ApiServerProxy.start(agentKubeconfig());
    await proxy.down();
    const s = createK8sStore({ kubeconfigPath: proxy.kubeconfigPath, requestTimeoutMs: 2_000 });
    try {
      const err = await s.compassConnections.get().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(K8sStoreError);
      expect(err).toMatchObject({ code: "K8S_UNAVAILABLE", retryable: true });
      expect(s.counter.errors()).toEqual({ K8S_UNAVAILABLE: 1 });
    } finally {
      await s.close();
    }
  });

  it("maps RBAC denials to K8S_FORBIDDEN and counts requests by verb", async () => {
    const before = store.counter.snapshot();
    await expect(store.secrets.list("default")).rejects.toMatchObject({ code: "K8S_FORBIDDEN" });
    await expect(store.compassConnections.find("does-not-exist")).resolves.toBeUndefined();
    const after = store.counter.snapshot();
    expect(after.list - before.list).toBe(1);
    expect(after.get - before.get).toBe(1);
  });
});
