import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { createDirector } from "@runtime-agent/compass-sim";
import type { DirectorFactory } from "@runtime-agent/compass-sim";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { SecretWatch } from "../support/leaks.js";
import { metricSum } from "../support/reliability.js";
import { CA_SECRET, CLIENT_SECRET, Scenario } from "../support/scenario.js";
import type { AppInput } from "../support/scenario.js";

// 450 applications (nine pages of 50), a Director that fails for several cycles or answers with partial
// and inconsistent pages, a steady state without writes, and the runtime labels.
let scenario: Scenario;
let agent: AgentProcess;
let secrets: SecretWatch;
let ids: string[] = [];

const COUNT = 450;
/** The page size the agent asks the Director for (director-client's default; the Go agent asks for 200 and drops the rest). */
const PAGE_SIZE = 50;
/** Application pages of one complete listing: 9 of 50. */
const PAGES_PER_LISTING = Math.ceil(COUNT / PAGE_SIZE);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function application(i: number): AppInput {
  const n = String(i).padStart(3, "0");
  return {
    name: `app ${n}`,
    description: `application ${n}`,
    bundles: [
      {
        name: `bundle ${n}`,
        apiDefinitions: [{ name: `api-${n}`, targetURL: `https://app${n}.example.com/api` }],
        eventDefinitions: [{ name: `event.${n}` }],
        // Every third bundle has credentials (a Secret each).
        ...(i % 3 === 0 ? { defaultInstanceAuth: { credential: { username: `user-${n}`, password: `pw-many-${n}-x` } } } : {}),
      },
    ],
  };
}

/** One `ApplicationsForRuntime` call the simulated Director executed: what the agent asked for and what it got. */
interface PageCall {
  /** The call's x-request-id: the agent sends the id of the reconcile (its log lines' reconcileId). */
  cycle: unknown;
  first: unknown;
  after: unknown;
  /** Applications in the answer. */
  items: number;
  endCursor: unknown;
  hasNextPage: unknown;
}
const pageCalls: PageCall[] = [];

/**
 * The simulator's own Director, with every application page the agent requests recorded (variables as sent over
 * the wire, size of the answer). Calls a fault rule answered never reach the Director and are not recorded.
 */
const recordingDirector: DirectorFactory = (environment) => {
  const director = createDirector(environment);
  return {
    async handle(request) {
      const result = await director.handle(request);
      if (request.body.operationName === "ApplicationsForRuntime") {
        const page = (result.body.data as { result?: { data?: unknown[]; pageInfo?: { endCursor?: unknown; hasNextPage?: unknown } } } | null | undefined)?.result;
        pageCalls.push({
          cycle: request.headers["x-request-id"],
          first: request.body.variables?.["first"],
          after: request.body.variables?.["after"],
          items: page?.data?.length ?? -1,
          endCursor: page?.pageInfo?.endCursor,
          hasNextPage: page?.pageInfo?.hasNextPage,
        });
      }
      return result;
    },
  };
};

/** The reconcile ids of the cycles that synchronized (their "synchronization done" line is logged), in order. */
function synchronizedCycles(): string[] {
  return agent
    .logs()
    .filter((l) => l.msg === "synchronization done")
    .map((l) => String(l["reconcileId"]));
}

/**
 * The application pages one cycle requested: exactly PAGES_PER_LISTING pages (9 of 50) of PAGE_SIZE,
 * each asking for the page after the previous one's cursor, the last saying there is no next page — one listing,
 * no page asked twice, none left out.
 */
function expectOneCompleteListing(cycle: string): void {
  const listing = pageCalls.filter((p) => p.cycle === cycle);
  expect(listing.map((p) => p.first), cycle).toEqual(Array.from({ length: PAGES_PER_LISTING }, () => PAGE_SIZE));
  expect(listing.map((p) => p.items), cycle).toEqual(Array.from({ length: PAGES_PER_LISTING }, (_, i) => Math.min(PAGE_SIZE, COUNT - i * PAGE_SIZE)));
  expect(listing.map((p) => p.hasNextPage), cycle).toEqual(Array.from({ length: PAGES_PER_LISTING }, (_, i) => i < PAGES_PER_LISTING - 1));
  listing.forEach((page, i) => expect(page.after ?? null, cycle).toBe(i === 0 ? null : listing[i - 1]!.endCursor));
}

/** name → uid of every Application in the cluster (managed or not). */
async function applicationUids(): Promise<Map<string, string>> {
  const apps = await scenario.store.applications.listManaged({ labelSelector: "" });
  return new Map(apps.map((a) => [a.metadata.name, a.metadata.uid ?? ""]));
}

async function resourceVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const a of await scenario.store.applications.listManaged({ labelSelector: "" })) out[`Application/${a.metadata.name}`] = a.metadata.resourceVersion ?? "";
  for (const s of await scenario.store.secrets.list("kyma-system")) out[`Secret/kyma-system/${s.metadata.name}`] = s.metadata.resourceVersion ?? "";
  for (const s of await scenario.store.secrets.list("istio-system")) out[`Secret/istio-system/${s.metadata.name}`] = s.metadata.resourceVersion ?? "";
  return out;
}

/** Runs `during` while sampling the Application count; returns the smallest count seen. */
async function minimumCountDuring(during: () => Promise<void>): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      min = Math.min(min, (await applicationUids()).size);
      await sleep(250);
    }
  })();
  try {
    await during();
  } finally {
    done = true;
    await sampler;
  }
  return min;
}

async function runtimeLabels(): Promise<Record<string, unknown>> {
  const state = await scenario.admin.call<{ runtimes: { id: string; labels: Record<string, unknown> }[] }>("GET", "/admin/state");
  return state.runtimes.find((r) => r.id === scenario.runtimeId)?.labels ?? {};
}

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"), { director: recordingDirector });
  secrets = new SecretWatch(scenario);
  for (let i = 0; i < COUNT; i++) if (i % 3 === 0) secrets.add(`pw-many-${String(i).padStart(3, "0")}-x`);
  ids = scenario.addApplicationsInProcess(Array.from({ length: COUNT }, (_, i) => application(i)));
  agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv() });
  try {
    await scenario.waitForState("Synchronized", 120_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${agent.tail(30)}`, { cause: error });
  }
}, 180_000);

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
});

describe("450 applications", () => {
  test("all present after the first pass, listed in pages of 50", async () => {
    const names = [...(await applicationUids()).keys()].sort();
    expect(names).toHaveLength(COUNT);
    expect(names).toEqual(Array.from({ length: COUNT }, (_, i) => `mp-app-${String(i).padStart(3, "0")}`));
    const secretsInCluster = await scenario.appSecrets();
    expect(secretsInCluster).toHaveLength(COUNT / 3);
    // Every cycle so far (the first pass, and any since) asked for exactly PAGES_PER_LISTING pages of PAGE_SIZE.
    const cycles = synchronizedCycles();
    expect(cycles.length).toBeGreaterThanOrEqual(1);
    for (const cycle of cycles) expectOneCompleteListing(cycle);
    expect(agent.output()).toMatch(/"applications":450/);
  });

  test("cycles without a change in Compass write no Application and no Secret (only the CR changes), and list nothing", async () => {
    const before = await resourceVersions();
    const cc = await scenario.connection();
    const cyclesBefore = synchronizedCycles().length;
    const lists = async () => metricSum(await agent.metrics(), "cra_kubernetes_requests_total", { verb: "list" });
    const listsBefore = await lists();
    for (let i = 0; i < 3; i++) await scenario.waitForNextCycle("Synchronized", 30_000);
    // Not a list request in the cluster: the metadata watches since the last listing saw nothing end otherwise than
    // the last clean cycle left it.
    expect(await lists()).toBe(listsBefore);
    const after = await resourceVersions();
    // Each of those cycles listed every application once: PAGES_PER_LISTING pages of PAGE_SIZE, no more, no fewer.
    const cycles = await waitFor("the cycles' log lines", async () => {
      const since = synchronizedCycles().slice(cyclesBefore);
      return since.length >= 3 ? since : undefined;
    }, 10_000);
    for (const cycle of cycles) expectOneCompleteListing(cycle);
    // Compass answered as in the last clean cycle (nested lists in varying order): the listing was replayed, and not
    // one application converted.
    const done = agent.logs().filter((l) => l.msg === "synchronization done" && cycles.includes(String(l["reconcileId"])));
    expect(done.map((l) => l["converted"])).toEqual(cycles.map(() => 0));
    expect(after).toEqual(before);
    expect((await scenario.connection())?.metadata.resourceVersion).not.toBe(cc?.metadata.resourceVersion);
    expect(Object.keys(before).filter((k) => k.startsWith("Secret/kyma-system/") && !k.endsWith(CLIENT_SECRET.name)).length).toBe(COUNT / 3 + 1); // + config Secret
    expect(before[`Secret/${CA_SECRET.namespace}/${CA_SECRET.name}`]).toBeTruthy();
  });
});

describe("runtime labels", () => {
  test("runtime_eventServiceUrl and runtime_consoleUrl are set once, then only when Compass holds something else", async () => {
    const all = scenario.requestsSince(0).filter((r) => r.operations.includes("setRuntimeLabel"));
    expect(all).toHaveLength(2); // the first pass; the cycles since then set nothing
    const mark = scenario.mark();
    for (let i = 0; i < 2; i++) await scenario.waitForNextCycle("Synchronized", 30_000);
    expect(scenario.countOperation(mark, "setRuntimeLabel")).toBe(0);

    // Someone changes one label in Compass: restored once.
    const runtime = scenario.sim.state.runtimes.get(scenario.runtimeId);
    runtime?.labels.set("runtime_consoleUrl", "https://somebody.else.example.com");
    const changed = scenario.mark();
    await waitFor("label restored", async () => ((await runtimeLabels()).runtime_consoleUrl === "https://console.e2e.example.com" ? true : undefined), 30_000);
    for (let i = 0; i < 2; i++) await scenario.waitForNextCycle("Synchronized", 30_000);
    expect(scenario.countOperation(changed, "setRuntimeLabel")).toBe(1);
    expect((await runtimeLabels()).runtime_eventServiceUrl).toBe("https://gateway.e2e.example.com");
  });
});

describe("Director failures never delete", () => {
  test("Director down for several cycles (503s, resets, 200 {}) → SynchronizationFailed, nothing deleted or rewritten, then Synchronized", async () => {
    const uids = await applicationUids();
    const versions = await resourceVersions();
    const states = new Set<string>();
    const errors = new Set<string>();
    const min = await minimumCountDuring(async () => {
      for (const fault of [{ status: 503 }, { reset: true }, { emptyJson: true }]) {
        await scenario.admin.call("POST", "/admin/faults", { target: "director", ...fault, times: 4 });
      }
      await waitFor(
        "faults used up and synchronized again",
        async () => {
          const cc = await scenario.connection();
          const state = cc?.status?.connectionState ?? "";
          states.add(state);
          if (state === "SynchronizationFailed") errors.add(cc?.status?.synchronizationStatus?.error ?? "");
          const left = (await scenario.admin.call<{ faultRules: unknown[] }>("GET", "/admin/faults")).faultRules.length;
          return left === 0 && state === "Synchronized" && states.has("SynchronizationFailed") ? true : undefined;
        },
        90_000,
        100,
      );
    });
    expect(states.has("SynchronizationFailed")).toBe(true);
    expect([...errors].join("\n")).toMatch(/Failed to fetch configuration/);
    expect(min).toBe(COUNT);
    expect(await applicationUids()).toEqual(uids);
    await scenario.waitForNextCycle("Synchronized", 30_000);
    const after = await resourceVersions();
    expect(after).toEqual(versions);
    const warnings = (await scenario.kube.events("default")).filter((e) => e.reason === "SynchronizationFailed");
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.every((e) => e.type === "Warning")).toBe(true);
  });

  test("a partial listing (page 2 answered with 200 {}, page 3 reset) never deletes", async () => {
    const uids = await applicationUids();
    // Each cycle replays the last clean cycle's listing (see director-client's relisting): an answer a listing would
    // refuse fails the relisting as it would fail the listing.
    for (const [rules, what] of [
      [[{ delayMs: 0, times: 1 }, { emptyJson: true, times: 1 }], "page 2 empty JSON"],
      [[{ delayMs: 0, times: 2 }, { reset: true, times: 1 }], "page 3 reset"],
    ] as const) {
      const mark = scenario.mark();
      for (const rule of rules) await scenario.admin.call("POST", "/admin/faults", { target: "director", operation: "ApplicationsForRuntime", ...rule });
      const failed = await waitFor(
        `${what}: SynchronizationFailed`,
        async () => {
          const cc = await scenario.connection();
          return cc?.status?.connectionState === "SynchronizationFailed" ? cc : undefined;
        },
        30_000,
        50,
      );
      expect(failed.status?.synchronizationStatus?.error).toMatch(/Failed to fetch configuration/);
      expect(scenario.requestsSince(mark).some((r) => r.fault !== undefined)).toBe(true);
      await scenario.waitForState("Synchronized", 30_000);
      expect(await applicationUids()).toEqual(uids);
    }
  });

  test("applications deleted in Compass between pages in both attempts (inconsistent paging) → applied without deleting in that cycle, then exactly those removed", async () => {
    const uids = await applicationUids();
    const sorted = [...ids].sort();
    const victims = [sorted[0] as string, sorted[1] as string, sorted[2] as string];
    const victimNames = (await scenario.admin.call<{ applications: { id: string; name: string }[] }>("GET", "/admin/applications")).applications
      .filter((a) => victims.includes(a.id))
      .map((a) => a.name);
    expect(victimNames).toHaveLength(3);
    // Pages 1 answer at once, pages 2 wait 1.5 s; an application on page 1 disappears while page 2 waits, three times:
    // the cycle first replays the last clean cycle's listing (its page 2 then differs, so a full listing follows),
    // then both attempts of the full listing.
    const rules: { id: string }[] = [];
    for (const delayMs of [0, 1500, 0, 1500, 0, 1500]) {
      rules.push(await scenario.admin.call("POST", "/admin/faults", { target: "director", operation: "ApplicationsForRuntime", delayMs, times: 1 }));
    }
    const mark = scenario.mark();
    for (const [i, ruleIndex] of [0, 2, 4].entries()) {
      const rule = rules[ruleIndex] as { id: string };
      await waitFor(
        `page 1 of pass ${i + 1}`,
        async () => (scenario.requestsSince(mark).some((r) => r.fault?.startsWith(`${rule.id}:`)) ? true : undefined),
        30_000,
        10,
      );
      scenario.removeApplication(victims[i] as string);
    }
    const inconsistent = await agent.waitForLog(/the Director's listing was inconsistent: applied what it listed, deleted nothing/, 30_000);
    expect(String(inconsistent["inconsistency"])).toMatch(/^first attempt: .+; second attempt: .+/);
    // That cycle deleted nothing (its status is written right after the line above).
    expect((await applicationUids()).size).toBe(COUNT);
    // The next cycle lists consistently again and removes exactly the three applications.
    await waitFor("the three removed", async () => ((await applicationUids()).size === COUNT - 3 ? true : undefined), 30_000);
    await scenario.waitForState("Synchronized", 30_000);
    const after = await applicationUids();
    const expected = new Map([...uids].filter(([name]) => !victimNames.map((n) => `mp-${n.replace(/ /g, "-")}`).includes(name)));
    expect(after).toEqual(expected);
  });
});

describe("hygiene", () => {
  test("no key, token or password in the logs, Events or the CR", async () => {
    expect(await secrets.scan()).toEqual([]);
  });
});
