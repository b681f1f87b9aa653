import { createDirector } from "@runtime-agent/compass-sim";
import type { DirectorFactory } from "@runtime-agent/compass-sim";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { InProcessAgent } from "../support/in-process.js";
import { FORMATION, Scenario } from "../support/scenario.js";

// A Compass that keeps changing (real-compass.md §2.5: applications added about once a second while the agent
// pages): every answer to an applicationsForRuntime page is followed by one more application, so no two pages of a
// listing fit together. The sync must still apply what it can — create and update — and delete nothing until a
// listing is consistent. Deterministic: the change follows each page, whatever the machine's speed.
let scenario: Scenario;
let agent: InProcessAgent;
let changing = false;
let added = 0;

const changingDirector: DirectorFactory = (environment) => {
  const director = createDirector(environment);
  return {
    async handle(request) {
      const result = await director.handle(request);
      if (changing && result.operations.includes("applicationsForRuntime")) {
        added++;
        scenario.addApplicationsInProcess([{ name: `added-${added}` }]);
      }
      return result;
    },
  };
};

async function managedNames(): Promise<string[]> {
  return (await scenario.managedApplications()).map((a) => a.name).sort();
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"), { director: changingDirector });
  // More than one page (the agent asks for 50 applications per page).
  scenario.addApplicationsInProcess(Array.from({ length: 150 }, (_, i) => ({ name: `app-${String(i).padStart(3, "0")}` })));
  agent = await InProcessAgent.start(scenario, inject("agentKubeconfig"));
});

afterAll(async () => {
  await agent?.close();
  await scenario?.close();
});

test("while applications keep being added, every cycle creates what it listed; a removed application is deleted only once a listing is consistent", async () => {
  changing = true;
  await agent.cycle();
  let cc = await scenario.connection();
  expect(cc?.status?.connectionState).toBe("Synchronized");
  const first = await managedNames();
  expect(first.length).toBeGreaterThanOrEqual(150);
  expect(agent.logged(/listing was inconsistent/).length).toBe(1);

  // An application leaves the formation while Compass keeps changing: not deleted on an inconsistent listing.
  const removed = [...scenario.sim.state.applications.values()].find((a) => a.name === "app-007");
  expect(removed).toBeDefined();
  await scenario.admin.call("POST", "/admin/formations/unassign", { formation: FORMATION, applicationId: removed?.id });
  for (let i = 0; i < 3; i++) {
    agent.advance(agent.config.controllerSyncPeriod);
    const before = added;
    await agent.cycle();
    expect(added).toBeGreaterThan(before); // Compass changed during this cycle
    const names = await managedNames();
    expect(names).toContain("mp-app-007");
    // Every application that existed when the cycle began was created (insertions while paging by offset repeat
    // items, they never skip one).
    for (let n = 1; n <= before; n++) expect(names).toContain(`mp-added-${n}`);
  }
  expect(agent.logged(/listing was inconsistent/).length).toBe(4);

  // Compass stops changing: the next listing is consistent, the removed application goes, the cluster equals Compass.
  changing = false;
  agent.advance(agent.config.controllerSyncPeriod);
  await agent.cycle();
  cc = await scenario.connection();
  expect(cc?.status?.connectionState).toBe("Synchronized");
  const names = await managedNames();
  expect(names).not.toContain("mp-app-007");
  expect(names).toHaveLength(150 - 1 + added);
});
