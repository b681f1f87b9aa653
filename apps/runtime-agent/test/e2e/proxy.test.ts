import { startConnectProxy } from "@runtime-agent/compass-sim";
import type { ConnectProxy } from "@runtime-agent/compass-sim";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { Scenario } from "../support/scenario.js";

// The agent process behind an HTTP CONNECT proxy (HTTPS_PROXY), against the simulator and a real kube-apiserver. The
// simulator is advertised as compass.proxy.test, a name only the proxy resolves: every Compass call that succeeds went
// through the proxy. (Loopback addresses are never proxied, as in Go, so 127.0.0.1 would prove nothing.) The
// Kubernetes API is reached directly. The steps build on each other: a refusing proxy, then pairing, synchronization
// and renewal through the proxy, then NO_PROXY.
const HOST = "compass.proxy.test";
const PASSWORD = "pr0xy-s3cret-e2e";
let scenario: Scenario;
let proxy: ConnectProxy;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"), { advertisedHost: HOST });
  proxy = await startConnectProxy({ hosts: { [HOST]: "127.0.0.1" }, credentials: { username: "agent", password: PASSWORD } });
  await scenario.addApplication({ name: "erp", bundles: [] });
  await scenario.addApplication({ name: "crm", bundles: [] });
});

afterAll(async () => {
  await agent?.kill();
  await proxy?.close();
  await scenario?.close();
});

/** The agent with these proxy variables; every other proxy variable of the test's environment is cleared. */
async function startBehindProxy(variables: Record<string, string>): Promise<AgentProcess> {
  await agent?.kill(); // one agent at a time, also when a step failed
  const cleared = Object.fromEntries(["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"].map((name) => [name, ""]));
  agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv({ ...cleared, ...variables }) });
  return agent;
}

const tokenTarget = () => `${HOST}:${scenario.sim.tokenPort}`;
const mtlsTarget = () => `${HOST}:${scenario.sim.mtlsPort}`;

describe("behind a proxy", () => {
  test("a proxy that refuses: ConnectionFailed with CONNECTOR_PROXY_FAILED in the status and the log, never the credentials", async () => {
    const running = await startBehindProxy({ https_proxy: `http://agent:wr0ng-pa55@127.0.0.1:${proxy.port}` });
    const cc = await waitFor(
      "ConnectionFailed with CONNECTOR_PROXY_FAILED",
      async () => {
        const current = await scenario.connection();
        return current?.status?.connectionStatus?.error?.includes("CONNECTOR_PROXY_FAILED") ? current : undefined;
      },
      60_000,
    );
    expect(cc.status?.connectionState).toBe("ConnectionFailed");
    expect(cc.status?.connectionStatus?.error).toContain(`answered CONNECT ${tokenTarget()} with HTTP 407`);
    await running.waitForLog((line) => line.msg === "connection to Compass failed" && String(line["reason"]).includes("CONNECTOR_PROXY_FAILED"));
    // The lower-case variable was read (HTTPS_PROXY was empty); the start-up line shows the proxy without credentials.
    const started = await running.waitForLog(/starting runtime-agent/);
    expect((started["config"] as Record<string, unknown>)["HTTPS_PROXY"]).toBe(`http://127.0.0.1:${proxy.port}`);
    await running.stop();
    expect(running.output()).not.toContain("wr0ng-pa55");
    expect(JSON.stringify(cc)).not.toContain("wr0ng-pa55");
    expect(proxy.connects.every((c) => c.target === tokenTarget() && c.status === 407)).toBe(true);
    expect(scenario.requestsSince(0).filter((r) => r.listener !== "admin")).toEqual([]);
  });

  test("pairing with the same token, the Director synchronization and a renewal all go through CONNECT tunnels", async () => {
    const before = proxy.connects.length;
    const running = await startBehindProxy({ HTTPS_PROXY: `http://agent:${PASSWORD}@127.0.0.1:${proxy.port}`, NO_PROXY: "kubernetes.default.svc,.cluster.local,10.0.0.0/8" });
    const cc = await scenario.waitForState("Synchronized");
    expect(cc.spec.managementInfo).toEqual({ connectorUrl: scenario.sim.certSecuredConnectorUrl, directorUrl: scenario.sim.directorUrl });
    expect((await scenario.managedApplications()).map((a) => a.name).sort()).toEqual(["mp-crm", "mp-erp"]);
    // Nothing had reached Compass before: the token the refused attempts carried paired now.
    const requests = scenario.requestsSince(0);
    expect(requests.filter((r) => r.listener === "token").map((r) => [r.operations[0], r.status])).toEqual([
      ["configuration", 200],
      ["signCertificateSigningRequest", 200],
    ]);
    expect(requests.some((r) => r.api === "director" && r.status === 200)).toBe(true);
    const paired = proxy.connects.slice(before);
    expect(new Set(paired.map((c) => `${c.target} ${c.status}`))).toEqual(new Set([`${tokenTarget()} 200`, `${mtlsTarget()} 200`]));
    expect(paired.every((c) => c.proxyAuthorization === `Basic ${Buffer.from(`agent:${PASSWORD}`).toString("base64")}`)).toBe(true);

    // Renewal over mTLS through the proxy, then the Director with the new certificate (the transport's new Agent).
    const oldFingerprint = await scenario.clientCertificateFingerprint();
    const mark = scenario.mark();
    const tunnels = proxy.connects.filter((c) => c.target === mtlsTarget()).length;
    await scenario.patchSpec({ refreshCredentialsNow: true });
    const newFingerprint = await waitFor(
      "a renewed certificate",
      async () => {
        const fingerprint = await scenario.clientCertificateFingerprint();
        return fingerprint !== undefined && fingerprint !== oldFingerprint ? fingerprint : undefined;
      },
      60_000,
    );
    await waitFor("a Director call with the renewed certificate", async () =>
      scenario.requestsSince(mark).find((r) => r.api === "director" && r.status === 200 && r.certificateFingerprint === newFingerprint),
    );
    expect(scenario.requestsSince(mark).some((r) => r.listener === "mtls" && r.operations.includes("signCertificateSigningRequest") && r.status === 200)).toBe(true);
    expect(proxy.connects.filter((c) => c.target === mtlsTarget()).length).toBeGreaterThan(tunnels);
    expect((await scenario.connection())?.status?.connectionState).toBe("Synchronized");
    await running.stop();
    expect(running.output()).not.toContain(PASSWORD);
  });

  test("NO_PROXY: the proxy sees nothing; the agent goes direct (and cannot resolve the name)", async () => {
    const before = proxy.connects.length;
    const running = await startBehindProxy({ HTTPS_PROXY: `http://agent:${PASSWORD}@127.0.0.1:${proxy.port}`, NO_PROXY: `.cluster.local,.proxy.test` });
    const direct = new RegExp(`CONNECTOR_UNAVAILABLE.*(ENOTFOUND|EAI_AGAIN) ${HOST.replace(/\./g, "\\.")}`);
    // This process's own failed cycle (the status may still hold an earlier one).
    await running.waitForLog((line) => line.msg === "connection maintenance failed" && direct.test(String(line["reason"])), 60_000);
    // The status is written at the end of that cycle, after the log line.
    const cc = await waitFor("the failed cycle's status", async () => {
      const current = await scenario.connection();
      return direct.test(current?.status?.connectionStatus?.error ?? "") ? current : undefined;
    });
    expect(cc.status?.connectionState).toBe("ConnectionMaintenanceFailed");
    await running.stop();
    expect(proxy.connects.length).toBe(before);
  });
});
