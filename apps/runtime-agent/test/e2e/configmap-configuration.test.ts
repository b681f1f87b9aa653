import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { killAllAgents, startAgentProcess } from "../support/agent-process.js";
import { InProcessAgent } from "../support/in-process.js";
import { CONFIG_SECRET, Scenario } from "../support/scenario.js";

// Earlier Kyma releases configured the agent with a ConfigMap `compass-agent-configuration` (CONNECTOR_URL,
// RUNTIME_ID, TENANT, TOKEN). When the configured Secret does not exist, the agent reads a ConfigMap of the same
// namespace and name, watches it like the Secret, and warns (log and Warning Event) that a token there is readable
// by anyone who can read ConfigMaps. The Secret wins when both exist.
let scenario: Scenario;

const CONFIG_MAPS = `/api/v1/namespaces/${CONFIG_SECRET.namespace}/configmaps`;
const REASON = "ConfigurationInConfigMap";

/** The scenario's configuration with a fresh token, in a ConfigMap instead of the Secret. */
async function configureWithConfigMap(): Promise<string> {
  const { token, connectorURL } = await scenario.admin.issueToken(scenario.runtimeId);
  scenario.tokens.push(token);
  const data = { CONNECTOR_URL: connectorURL, TOKEN: token, RUNTIME_ID: scenario.runtimeId, TENANT: scenario.tenant };
  await scenario.kube.ok("POST", CONFIG_MAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: CONFIG_SECRET.name }, data });
  return token;
}

async function configMapEvents() {
  return (await scenario.kube.events("default")).filter((e) => e.reason === REASON);
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  await scenario.addApplication({ name: "from-configmap" });
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("the ConfigMap configuration of earlier Kyma releases", () => {
  test("no Secret: the agent watches for a ConfigMap, pairs with it at once, and warns once where the token is", async () => {
    await scenario.store.secrets.delete(CONFIG_SECRET.namespace, CONFIG_SECRET.name);
    // A sync period far beyond the test's wait: only the watch can start the cycle that pairs.
    const agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv({ APP_CONTROLLER_SYNC_PERIOD: "30m" }) });
    const failed = await scenario.waitForState("ConnectionFailed");
    expect(failed.status?.connectionStatus?.error).toBe(`Failed to read the configuration Secret ${CONFIG_SECRET.namespace}/${CONFIG_SECRET.name}`);

    const token = await configureWithConfigMap();
    await scenario.waitForState("Synchronized");
    expect((await scenario.managedApplications()).map((a) => a.name)).toEqual(["mp-from-configmap"]);

    const events = await configMapEvents();
    expect(events).toHaveLength(1);
    expect(events[0]?.type).toBe("Warning");
    expect(events[0]?.message).toMatch(/read from ConfigMap kyma-system\/compass-agent-configuration because Secret kyma-system\/compass-agent-configuration does not exist/);
    expect(events[0]?.message).toMatch(/readable by anyone who can read ConfigMaps/);
    expect(JSON.stringify(events)).not.toContain(token);
    const warnings = agent.logs().filter((l) => String(l.msg).includes("read from ConfigMap"));
    expect(warnings).toHaveLength(1);
    expect(agent.output()).not.toContain(token);
    await agent.stop();
  });
});

describe("both a Secret and a ConfigMap", () => {
  let agent: InProcessAgent;
  afterAll(async () => {
    await agent?.close();
  });

  test("the Secret wins: the ConfigMap's values are not used and nothing is said about it", async () => {
    // A new pairing is needed (no CR, no certificate), so the configuration that is read decides whether it works.
    await scenario.store.compassConnections.delete("compass-connection");
    await scenario.store.secrets.delete("kyma-system", "cluster-client-certificates");
    await scenario.store.secrets.delete("istio-system", "ca-certificates");
    await scenario.kube.request("DELETE", `${CONFIG_MAPS}/${CONFIG_SECRET.name}`);
    // A ConfigMap that cannot work (a Connector nobody answers, a made-up token) beside a valid Secret.
    await scenario.kube.ok("POST", CONFIG_MAPS, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: CONFIG_SECRET.name },
      data: { CONNECTOR_URL: "https://connector.invalid/connector/graphql", TOKEN: "made-up", RUNTIME_ID: scenario.runtimeId, TENANT: scenario.tenant },
    });
    await scenario.kube.deleteEvents("default");
    await scenario.writeConfigSecret();
    agent = await InProcessAgent.start(scenario, inject("agentKubeconfig"));
    await agent.cycle();
    expect((await scenario.connection())?.status?.connectionState).toBe("Synchronized");
    expect(await configMapEvents()).toEqual([]);
    expect(agent.logged(/ConfigMap/)).toEqual([]);
  });
});
