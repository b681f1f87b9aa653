import { afterAll, describe, expect, it } from "vitest";
import type { DesiredApplication } from "../src/index.js";
import { agentKubeconfig, agentStore, ApiServerProxy, eventually, uniqueName } from "./helpers.js";

const writer = agentStore();
afterAll(() => writer.close());

const app = (name: string, description: string): DesiredApplication => ({ metadata: { name }, spec: { description } });
/** Creates the Application, or updates its description when it exists (the agent's writes: create, get + update). */
async function put(name: string, description: string): Promise<void> {
  const live = await writer.applications.find(name);
  if (live === undefined) await writer.applications.create(app(name, description));
  else await writer.applications.update({ ...live, spec: { ...live.spec, description } });
}

describe("Informer", () => {
  it("resumes after the API server is unreachable: errors, backoff, re-list, and it catches up", async () => {
    const proxy = await ApiServerProxy.start(agentKubeconfig());
    const store = agentStore({ kubeconfigPath: proxy.kubeconfigPath, requestTimeoutMs: 2_000 });
    const prefix = uniqueName("inf");
    const informer = store.applications.informer({ backoff: { initialMs: 200, maxMs: 1_000 } });
    const errors: string[] = [];
    informer.on("error", (e) => errors.push(e.code));
    const deleted: string[] = [];
    informer.on("delete", (o) => deleted.push(o.metadata.name));
    try {
      await put(`${prefix}-1`, "one");
      informer.start();
      expect(await informer.waitForSync(20_000)).toBe(true);
      expect(informer.get(`${prefix}-1`)?.spec.description).toBe("one");
      await eventually(() => informer.status().watching, 10_000, "watching");

      // Outage: every connection is cut and new ones are refused.
      await proxy.down();
      await eventually(() => errors.length >= 2, 15_000, "errors during the outage");
      expect(informer.status().watching).toBe(false);
      expect(errors.every((c) => c === "K8S_UNAVAILABLE")).toBe(true);
      expect(informer.isSynced()).toBe(true); // the cache stays usable

      // Changes while the informer cannot see them.
      await put(`${prefix}-1`, "one, changed");
      await put(`${prefix}-2`, "two");
      await writer.applications.delete(`${prefix}-1`);
      await put(`${prefix}-3`, "three");

      await proxy.up();
      await eventually(() => informer.get(`${prefix}-2`) !== undefined && informer.get(`${prefix}-3`) !== undefined && informer.get(`${prefix}-1`) === undefined, 20_000, "catch-up");
      expect(deleted).toContain(`${prefix}-1`);
      await eventually(() => informer.status().watching, 10_000, "watching again");
      expect(informer.status().restarts).toBeGreaterThanOrEqual(1);

      // And it keeps following live changes.
      await put(`${prefix}-2`, "two, live");
      await eventually(() => informer.get(`${prefix}-2`)?.spec.description === "two, live", 20_000, "live update");
    } finally {
      await informer.stop();
      await store.close();
      await proxy.down();
      for (const n of ["2", "3"]) await writer.applications.delete(`${prefix}-${n}`);
    }
  });

  it("resumes a watch the server closes normally without re-listing", async () => {
    const store = agentStore();
    const prefix = uniqueName("inf-close");
    // The server ends each watch after 1-2 s.
    const informer = store.applications.informer({ watchTimeoutSeconds: [1, 2], minWatchDurationMs: 100 });
    try {
      informer.start();
      expect(await informer.waitForSync(20_000)).toBe(true);
      const lists = store.counter.snapshot().list;
      await new Promise((r) => setTimeout(r, 4_000));
      await put(`${prefix}-a`, "a");
      await eventually(() => informer.get(`${prefix}-a`) !== undefined, 20_000, "event after re-watch");
      expect(store.counter.snapshot().watch).toBeGreaterThanOrEqual(2);
      expect(store.counter.snapshot().list).toBe(lists);
      expect(informer.status().restarts).toBe(0);
    } finally {
      await informer.stop();
      await store.close();
      await writer.applications.delete(`${prefix}-a`);
    }
  });
});
