import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { parse } from "yaml";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { Scenario } from "../support/scenario.js";

// The agent on a cluster with Kyma's own CompassConnection CRD, whose status schema has no `conditions`: the API
// server prunes them from every write. Our CRD minus that property stands in for Kyma's (same wire format).
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;
let ours: CrdDocument;

const CRD_FILE = fileURLToPath(new URL("../../../../schemas/crds/compassconnections.compass.kyma-project.io.yaml", import.meta.url));
const CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/compassconnections.compass.kyma-project.io";
const CC_PATH = "/apis/compass.kyma-project.io/v1alpha1/compassconnections";

interface CrdDocument {
  metadata: { name: string; resourceVersion?: string; [key: string]: unknown };
  spec: { versions: { schema: { openAPIV3Schema: { properties: { status: { properties: Record<string, unknown> } } } } }[] };
  [key: string]: unknown;
}

/** Replaces the installed CRD's spec with `doc`'s and waits until writes are pruned (or not) accordingly. */
async function installCrd(doc: CrdDocument, conditionsKept: boolean): Promise<void> {
  const live = await scenario.kube.ok<CrdDocument>("GET", CRD_PATH);
  await scenario.kube.ok("PUT", CRD_PATH, { ...live, spec: doc.spec });
  // A probe object shows which schema the API server applies now.
  await waitFor(
    `CRD with${conditionsKept ? "" : "out"} status.conditions in effect`,
    async () => {
      await scenario.kube.request("DELETE", `${CC_PATH}/schema-probe`);
      const created = await scenario.kube.request<{ status?: { conditions?: unknown } }>("POST", CC_PATH, {
        apiVersion: "compass.kyma-project.io/v1alpha1",
        kind: "CompassConnection",
        metadata: { name: "schema-probe" },
        spec: { managementInfo: { connectorUrl: "", directorUrl: "" } },
        status: { connectionState: "ConnectionFailed", connectionStatus: { certificateStatus: {} }, synchronizationStatus: null, conditions: [{ type: "Probe", status: "True", reason: "Probe", message: "", lastTransitionTime: "2024-01-01T00:00:00Z" }] },
      });
      if (created.status !== 201) throw new Error(`probe: ${created.status} ${JSON.stringify(created.body).slice(0, 300)}`);
      await scenario.kube.request("DELETE", `${CC_PATH}/schema-probe`);
      return (created.body.status?.conditions !== undefined) === conditionsKept ? true : undefined;
    },
    30_000,
    250,
  );
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  secrets = new SecretWatch(scenario);
  ours = parse(await readFile(CRD_FILE, "utf8")) as CrdDocument;
  const kymaLike = structuredClone(ours);
  for (const version of kymaLike.spec.versions) delete version.schema.openAPIV3Schema.properties.status.properties["conditions"];
  await installCrd(kymaLike, false);
  await scenario.addApplication({ name: "erp" });
  await scenario.addApplication({ name: "crm", bundles: [{ name: "b", apiDefinitions: [{ name: "a", targetURL: "https://crm.example.com" }] }] });
  agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv() });
});

afterAll(async () => {
  await killAllAgents();
  if (ours) await installCrd(ours, true);
  await scenario?.close();
});

describe("Kyma's CompassConnection CRD (no status.conditions)", () => {
  test("pairs and synchronizes; the status has everything but conditions", async () => {
    const cc = await scenario.waitForState("Synchronized");
    expect(cc.status?.conditions).toBeUndefined();
    expect(cc.status?.connectionStatus?.established).toBeTruthy();
    expect(cc.status?.connectionStatus?.certificateStatus.notAfter).toBeTruthy();
    expect(cc.status?.synchronizationStatus?.lastSuccessfulApplication).toBeTruthy();
    expect(cc.spec.managementInfo.directorUrl).toBe(scenario.sim.directorUrl);
    expect((await scenario.managedApplications()).map((a) => a.name).sort()).toEqual(["mp-crm", "mp-erp"]);
  });

  test("keeps working over several cycles: renewal, changes in Compass, no errors", async () => {
    await scenario.patchSpec({ refreshCredentialsNow: true });
    const renewed = await waitFor("renewed", async () => {
      const cc = await scenario.connection();
      return cc?.spec.refreshCredentialsNow === false && cc.status?.connectionStatus?.renewed ? cc : undefined;
    });
    expect(renewed.status?.connectionState).toBe("Synchronized");
    await scenario.addApplication({ name: "billing" });
    await waitFor("billing", async () => ((await scenario.managedApplications()).some((a) => a.name === "mp-billing") ? true : undefined), 30_000);
    for (let i = 0; i < 2; i++) await scenario.waitForNextCycle("Synchronized", 30_000);
    expect(agent.output()).not.toMatch(/reconcile failed/);
    expect(agent.logs().filter((l) => (l.level ?? 0) >= 50)).toEqual([]);
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events or the CR", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
