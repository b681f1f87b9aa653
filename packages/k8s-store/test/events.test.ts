import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { COMPASS_API_VERSION, COMPASS_KIND } from "../src/index.js";
import { adminKubeconfig, agentStore, uniqueName } from "./helpers.js";

const store = agentStore();
afterAll(() => store.close());

describe("EventRecorder (as the agent's ServiceAccount)", () => {
  it("records an Event about a cluster-scoped object in default and bumps count on repeats", async () => {
    const involved = { apiVersion: COMPASS_API_VERSION, kind: COMPASS_KIND, name: uniqueName("compass-connection"), uid: "0000-1111" };
    const first = await store.events.recordEvent(involved, "Warning", "ConnectionFailed", "Connector unreachable: ECONNREFUSED");
    const second = await store.events.recordEvent(involved, "Warning", "ConnectionFailed", "Connector unreachable: ECONNREFUSED");
    const other = await store.events.recordEvent(involved, "Normal", "Synchronized", "12 applications applied");
    expect(first.namespace).toBe("default");
    expect(second).toEqual({ ...first, count: 2 });
    expect(other.name).not.toBe(first.name);

    const kc = new KubeConfig();
    kc.loadFromFile(adminKubeconfig());
    const core = kc.makeApiClient(CoreV1Api);
    const ev = await core.readNamespacedEvent({ name: first.name, namespace: "default" });
    expect(ev).toMatchObject({
      type: "Warning",
      reason: "ConnectionFailed",
      count: 2,
      involvedObject: { kind: COMPASS_KIND, name: involved.name, uid: involved.uid },
      source: { component: "compass-runtime-agent" },
    });
  });
});
