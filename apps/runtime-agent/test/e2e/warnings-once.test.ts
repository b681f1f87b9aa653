import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { InProcessAgent } from "../support/in-process.js";
import { Scenario } from "../support/scenario.js";

// A warning about something the agent cannot express (a CertificateOAuth credential) is logged once per change of
// its application, not every cycle (real Compass: 103 of 106 warnings were the same one, repeated).
let scenario: Scenario;
let agent: InProcessAgent;

const WARNING = /CertificateOAuth/;

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  agent = await InProcessAgent.start(scenario, inject("agentKubeconfig"));
});

afterAll(async () => {
  await agent?.close();
  await scenario?.close();
});

test("logged once per change of the application, whichever path the cycle takes", async () => {
  const id = await scenario.addApplication({
    name: "cert-oauth",
    bundles: [
      {
        name: "b",
        apiDefinitions: [{ name: "a", targetURL: "https://c.example.com/a" }],
        defaultInstanceAuth: { credential: { clientId: "client", certificate: "not-a-real-certificate", url: "https://c.example.com/token" } },
      },
    ],
  });
  await scenario.addApplication({ name: "plain" });
  await agent.cycle();
  expect((await scenario.connection())?.status?.connectionState).toBe("Synchronized");
  expect(agent.logged(WARNING)).toHaveLength(1);

  // Quiet cycles (the no-change path) and full ones (another application changes) do not repeat it.
  for (let i = 0; i < 3; i++) {
    agent.advance(agent.config.controllerSyncPeriod);
    await agent.cycle();
  }
  await scenario.addApplication({ name: "another" });
  agent.advance(agent.config.controllerSyncPeriod);
  await agent.cycle();
  expect((await scenario.managedApplications()).map((a) => a.name).sort()).toEqual(["mp-another", "mp-cert-oauth", "mp-plain"]);
  expect(agent.logged(WARNING)).toHaveLength(1);

  // The application changes: said again, once.
  await scenario.admin.call("PATCH", `/admin/applications/${id}`, { description: "changed" });
  for (let i = 0; i < 2; i++) {
    agent.advance(agent.config.controllerSyncPeriod);
    await agent.cycle();
  }
  expect(agent.logged(WARNING)).toHaveLength(2);
});

test("a cycle that builds a desired state first collects the garbage the quiet cycles left; a quiet cycle does not collect", async () => {
  const converted = () => agent.logged(/^synchronization done/).map((line) => Number(line["converted"]));
  const cycle = async () => {
    agent.advance(agent.config.controllerSyncPeriod);
    await agent.cycle();
  };
  await cycle();
  const [collected, cycles] = [agent.garbageCollections, converted().length];
  await cycle();
  await scenario.addApplication({ name: "one-more" });
  await cycle();
  await cycle();
  // quiet, converted (an application was added), quiet
  expect(converted().slice(cycles)).toEqual([0, 4, 0]);
  expect(agent.garbageCollections - collected).toBe(1);
});
