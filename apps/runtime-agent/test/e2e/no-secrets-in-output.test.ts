import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch, secretiveApplication } from "../support/leaks.js";
import { CONFIG_SECRET, Scenario } from "../support/scenario.js";

// With APP_QUERY_LOGGING=true and debug logs, through pairing, synchronization of every credential kind, renewal,
// refused tokens, a revoked certificate and Director faults: no key, token, password or client secret reaches the
// agent's output, the Events or the CompassConnection.
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;

const { values: VALUES, application: SECRETIVE } = secretiveApplication("hyg");

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  secrets.add(...Object.values(VALUES));
  await scenario.addApplication(SECRETIVE);
  agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv({ APP_QUERY_LOGGING: "true", APP_LOG_LEVEL: "debug" }) });
  await scenario.waitForState("Synchronized");
  await secrets.remember();
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("secrets stay secret", () => {
  test("query logging logs every Compass call by operation and outcome", async () => {
    const calls = agent.logs().filter((l) => l.msg === "Compass call");
    expect(calls.map((l) => l.operation)).toEqual(expect.arrayContaining(["pair", "applicationsForRuntime", "runtimeLabels", "setRuntimeLabel"]));
    expect(calls.every((l) => typeof l.ms === "number" && typeof l.outcome === "string")).toBe(true);
    // The credentials did reach the cluster (so there was something to leak).
    const appSecrets = await scenario.appSecrets();
    expect(appSecrets.some((s) => Object.values(s.data).includes(VALUES.basicPassword))).toBe(true);
  });

  test("through renewal, Director faults, a revoked certificate and refused tokens", async () => {
    await scenario.patchSpec({ refreshCredentialsNow: true });
    await waitFor("renewed", async () => ((await scenario.connection())?.spec.refreshCredentialsNow === false ? true : undefined));
    await secrets.remember();

    await scenario.admin.call("POST", "/admin/faults", { target: "director", status: 503, times: 2 });
    await scenario.admin.call("POST", "/admin/faults", { target: "director", emptyJson: true, times: 2 });
    await scenario.waitForState("SynchronizationFailed");
    await scenario.waitForState("Synchronized");

    await scenario.admin.revoke((await scenario.clientCertificateFingerprint())!);
    await scenario.patchSpec({ resyncNow: true });
    await scenario.waitForState("ConnectionFailed");
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { TOKEN: VALUES.invalidToken });
    await waitFor("invalid token refused", async () => (agent.logs().some((l) => JSON.stringify(l).includes("did not accept")) ? true : undefined));
    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized");
    await secrets.remember();
  });

  test("no key, token, password or client secret in the full output, the Events or the CR", async () => {
    const findings = await secrets.scan();
    expect(findings).toEqual([]);
    expect(agent.output().length).toBeGreaterThan(10_000); // debug + query logs: there was plenty to scan
    expect((await scenario.kube.events("default")).length).toBeGreaterThan(2);
  });
});
