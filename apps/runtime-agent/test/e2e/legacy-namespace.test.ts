import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { InProcessAgent } from "../support/in-process.js";
import { Scenario } from "../support/scenario.js";

// Kyma moved the agent's Secrets from compass-system to kyma-system. On a cluster upgraded without moving them, the
// configured client certificate and CA Secrets are missing while Secrets of the same names are in compass-system:
// the agent uses that certificate (renews over mTLS and writes the configured Secrets) instead of needing a new
// one-time token. The RBAC for it is the optional component deploy/components/legacy-namespace (kube-testenv
// applies every RBAC object under deploy/).
const LEGACY = "compass-system";
const CLIENT = { namespace: "kyma-system", name: "cluster-client-certificates" };
const CA = { namespace: "istio-system", name: "ca-certificates" };

let scenario: Scenario;

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  await scenario.addApplication({ name: "legacy" });
});

afterAll(async () => {
  for (const name of [CLIENT.name, CA.name]) await scenario?.kube.request("DELETE", `/api/v1/namespaces/${LEGACY}/secrets/${name}`);
  await scenario?.close();
});

/** Moves a Secret's data to compass-system as an earlier Kyma release left it (no annotations of this agent). */
async function moveToLegacy(ref: { namespace: string; name: string }): Promise<void> {
  const secret = await scenario.store.secrets.get(ref.namespace, ref.name);
  const data = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  await scenario.kube.ok("POST", `/api/v1/namespaces/${LEGACY}/secrets`, { apiVersion: "v1", kind: "Secret", metadata: { name: ref.name }, type: "Opaque", data });
  await scenario.store.secrets.delete(ref.namespace, ref.name);
}

test("the configured credential Secrets missing, the same names in compass-system: renewed with that certificate, no token", async () => {
  const first = await InProcessAgent.start(scenario, inject("agentKubeconfig"));
  await first.cycle();
  await first.close();
  expect((await scenario.connection())?.status?.connectionState).toBe("Synchronized");
  const legacyFingerprint = await scenario.clientCertificateFingerprint();

  await moveToLegacy(CLIENT);
  await moveToLegacy(CA);
  // A new process: nothing in memory; the configured TOKEN was spent by the first pairing.
  const agent = await InProcessAgent.start(scenario, inject("agentKubeconfig"));
  const mark = scenario.mark();
  agent.advance(agent.config.controllerSyncPeriod);
  await agent.cycle();

  const cc = await scenario.connection();
  expect(cc?.status?.connectionState, cc?.status?.connectionStatus?.error).toBe("Synchronized");
  expect(scenario.requestsSince(mark).filter((r) => r.listener === "token")).toEqual([]);
  expect(scenario.countOperation(mark, "signCertificateSigningRequest", "connector")).toBe(1);
  // The configured Secrets hold the renewed certificate; the legacy ones are left as they were.
  const renewed = await scenario.clientCertificateFingerprint();
  expect(renewed).toBeDefined();
  expect(renewed).not.toBe(legacyFingerprint);
  expect((await scenario.store.secrets.get(CA.namespace, CA.name)).data["cacert"]).toContain("BEGIN CERTIFICATE");
  expect(await scenario.store.secrets.find(LEGACY, CLIENT.name)).toBeDefined();
  expect(agent.logged(/legacy namespace compass-system/)).not.toEqual([]);

  // The next cycle reads the configured Secrets: no second renewal.
  const next = scenario.mark();
  agent.advance(agent.config.controllerSyncPeriod);
  await agent.cycle();
  expect(scenario.countOperation(next, "signCertificateSigningRequest", "connector")).toBe(0);
  expect((await scenario.connection())?.status?.connectionState).toBe("Synchronized");
  await agent.close();
});
