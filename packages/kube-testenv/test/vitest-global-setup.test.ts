import { existsSync } from "node:fs";
import { describe, expect, inject, it } from "vitest";
import type {} from "../src/vitest-global-setup.js"; // types of inject()
import { clientFor } from "./helpers.js";

describe("vitest global setup", () => {
  it("provides the shared control plane's kubeconfigs to tests", async () => {
    const kubeconfigPath = inject("kubeconfigPath");
    const agentKubeconfigPath = inject("agentKubeconfigPath");
    const server = inject("kubeServer");
    expect(existsSync(kubeconfigPath)).toBe(true);
    expect(existsSync(agentKubeconfigPath)).toBe(true);
    expect(server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const admin = clientFor(kubeconfigPath);
    const agent = clientFor(agentKubeconfigPath);
    try {
      expect((await admin.request("GET", "/api/v1/namespaces/kyma-system")).status).toBe(200);
      expect((await admin.request("GET", "/api/v1/namespaces/istio-system")).status).toBe(200);
      // The agent identity gets no more than the repository's RBAC grants (none for cluster nodes here).
      expect((await agent.request("GET", "/api/v1/namespaces/kube-system/secrets")).status).toBe(403);
    } finally {
      admin.close();
      agent.close();
    }
  });

  it("also exports them as environment variables", () => {
    expect(process.env["KUBE_TESTENV_KUBECONFIG"]).toBe(inject("kubeconfigPath"));
    expect(process.env["KUBE_TESTENV_AGENT_KUBECONFIG"]).toBe(inject("agentKubeconfigPath"));
    expect(process.env["KUBE_TESTENV_SERVER"]).toBe(inject("kubeServer"));
  });
});
