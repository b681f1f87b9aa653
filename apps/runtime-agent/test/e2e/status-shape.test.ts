import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { InProcessAgent } from "../support/in-process.js";
import { Scenario } from "../support/scenario.js";

// The CompassConnection status has the fields Kyma's Go agent writes, so tooling that reads it (dashboards, Kyma's
// own checks, `kubectl get -o jsonpath`) sees no difference after the swap. Kyma's field set, from its Go types
// (compass-runtime-agent pkg/apis/compass/v1alpha1/types.go): every metav1.Time is written, as null when zero —
// `renewed` too, although tagged omitempty (a struct is never empty to encoding/json); `error` is omitempty.
// The agent's `conditions` are an addition (documented in docs/compatibility.md), left out of the comparison.
const KYMA_STATUS_FIELDS = [
  "connectionState",
  "connectionStatus.certificateStatus.acquired",
  "connectionStatus.certificateStatus.notAfter",
  "connectionStatus.certificateStatus.notBefore",
  "connectionStatus.established",
  "connectionStatus.lastSuccess",
  "connectionStatus.lastSync",
  "connectionStatus.renewed",
  "synchronizationStatus.lastAttempt",
  "synchronizationStatus.lastSuccessfulApplication",
  "synchronizationStatus.lastSuccessfulFetch",
];

let scenario: Scenario;
let agent: InProcessAgent;

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  agent = await InProcessAgent.start(scenario, inject("agentKubeconfig"));
});

afterAll(async () => {
  await agent?.close();
  await scenario?.close();
});

/** The leaf paths of the status as stored (raw JSON: the store's parser would fill in what is missing). */
async function storedStatus(): Promise<{ fields: string[]; status: Record<string, unknown> }> {
  const cc = await scenario.kube.ok<{ status: Record<string, unknown> }>("GET", "/apis/compass.kyma-project.io/v1alpha1/compassconnections/compass-connection");
  const fields: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) walk(child, path === "" ? key : `${path}.${key}`);
    } else fields.push(path);
  };
  const { conditions: _ours, ...kyma } = cc.status;
  walk(kyma, "");
  return { fields: fields.sort(), status: cc.status };
}

test("paired and synchronized, then renewed: the fields Kyma's agent writes, renewed null until the first renewal", async () => {
  await scenario.addApplication({ name: "shape" });
  await agent.cycle();
  const first = await storedStatus();
  expect(first.status["connectionState"]).toBe("Synchronized");
  expect(first.fields).toEqual(KYMA_STATUS_FIELDS);
  expect((first.status["connectionStatus"] as Record<string, unknown>)["renewed"]).toBeNull();

  await scenario.patchSpec({ refreshCredentialsNow: true });
  agent.advance(agent.config.controllerSyncPeriod);
  await agent.cycle();
  const renewed = await storedStatus();
  expect(renewed.fields).toEqual(KYMA_STATUS_FIELDS);
  expect((renewed.status["connectionStatus"] as Record<string, unknown>)["renewed"]).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/));
});
