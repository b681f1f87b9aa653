import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { HOSTILE_VARIANTS, startHostileConnector } from "../support/hostile-connector.js";
import type { HostileConnector } from "../support/hostile-connector.js";
import { SecretWatch } from "../support/leaks.js";
import { CONFIG_SECRET, Scenario } from "../support/scenario.js";

// Reliability matrix, bad input from the Connector (docs/reliability.md): an agent that was synchronized is sent to
// pair with a hostile Connector (CONNECTOR_URL and TOKEN changed, CR deleted), which answers with subjects the agent
// must refuse and certificates that are malformed, for another key or CN, out of their validity, or with a chain
// that does not verify. Each is refused with its code in the status; nothing is written (the credential Secrets and
// the Applications stay as they were); the process stays up; pairing with the real Compass afterwards works.
let scenario: Scenario;
let hostile: HostileConnector;
let agent: AgentProcess;
let leaks: SecretWatch;
let caDir: string;
let realConnectorUrl: string;
let fingerprint: string | undefined;
let uids: Map<string, string>;

const PASSWORD = "rel-hostile-p4ssw0rd";

async function applicationUids(): Promise<Map<string, string>> {
  return new Map((await scenario.store.applications.listManaged()).map((a) => [a.metadata.name, a.metadata.uid ?? ""]));
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  leaks = new SecretWatch(scenario);
  leaks.add(PASSWORD);
  hostile = await startHostileConnector();
  caDir = mkdtempSync(join(tmpdir(), "hostile-ca-"));
  const caFile = join(caDir, "ca.pem");
  writeFileSync(caFile, readFileSync(scenario.sim.serverCaFile, "utf8") + hostile.serverCertPem);
  realConnectorUrl = (await scenario.store.secrets.readAgentConfiguration(CONFIG_SECRET)).connectorUrl;
  await scenario.addApplication({ name: "erp" });
  await scenario.addApplication({
    name: "crm",
    bundles: [{ name: "b", apiDefinitions: [{ name: "a", targetURL: "https://crm.example.com" }], defaultInstanceAuth: { credential: { username: "u", password: PASSWORD } } }],
  });
  agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv({ APP_COMPASS_CA_FILE: caFile }) });
  await scenario.waitForState("Synchronized");
  fingerprint = await scenario.clientCertificateFingerprint();
  uids = await applicationUids();
  await leaks.remember();
  // To the hostile Connector: the CR is deleted, so the agent pairs with the configured token.
  await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { CONNECTOR_URL: hostile.url, TOKEN: "none-yet" });
  await scenario.store.compassConnections.delete();
});

afterAll(async () => {
  await killAllAgents();
  await hostile?.close();
  await scenario?.close();
  if (caDir) rmSync(caDir, { recursive: true, force: true });
});

describe("a hostile Connector", () => {
  test.each(Object.entries(HOSTILE_VARIANTS).map(([name, v]) => [name, v.expect] as const))(
    "%s: ConnectionFailed with %s; nothing written, the process stays up",
    async (variant, expected) => {
      const logged = agent.logs().length;
      await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { TOKEN: variant });
      // This variant's attempt failed with its code (the log), and the status says so (also once later cycles
      // only find the same spent token again).
      await waitFor(`the ${variant} answer refused`, async () =>
        hostile.requests.some((r) => r.variant === variant) &&
        agent.logs().slice(logged).some((l) => l.msg === "connection to Compass failed" && expected.test(String(l["reason"])))
          ? true
          : undefined,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n${agent.tail(5)}`, { cause: error });
      });
      const cc = await waitFor("the status", async () => {
        const current = await scenario.connection();
        const error = current?.status?.connectionStatus?.error ?? "";
        return current?.status?.connectionState === "ConnectionFailed" && expected.test(error) ? current : undefined;
      });
      expect(cc.status?.connectionStatus?.error).toMatch(/Failed to establish connection with the one-time token/);
      expect(cc.status?.connectionStatus?.error).toMatch(/one-time token/);
      expect(hostile.requests.some((r) => r.variant === variant)).toBe(true);
      // Nothing written: the credentials and the Applications of the last good pairing are untouched.
      expect(await scenario.clientCertificateFingerprint()).toBe(fingerprint);
      expect(await applicationUids()).toEqual(uids);
      expect((await scenario.appSecrets()).map((s) => s.data["password"])).toEqual([PASSWORD]);
      expect(agent.exitStatus()).toBeUndefined();
    },
  );

  test("the refused token is not sent again", async () => {
    const before = hostile.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(hostile.requests.length).toBe(before);
  });

  test("back to the real Compass with a new token: pairs and synchronizes; the Applications are the same objects", async () => {
    const { token } = await scenario.admin.issueToken(scenario.runtimeId);
    scenario.tokens.push(token);
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { CONNECTOR_URL: realConnectorUrl, TOKEN: token });
    await scenario.waitForState("Synchronized");
    expect(await scenario.clientCertificateFingerprint()).not.toBe(fingerprint);
    expect(await applicationUids()).toEqual(uids);
    await leaks.remember();
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events, the CR or /metrics", async () => {
    expect(agent.exitStatus()).toBeUndefined();
    expect(await leaks.scan()).toEqual([]);
  });
});
