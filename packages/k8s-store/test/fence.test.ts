import { afterAll, describe, expect, it } from "vitest";
import { startFaultProxy } from "@runtime-agent/kube-testenv";
import type { FaultProxy } from "@runtime-agent/kube-testenv";
import { createK8sStore, K8sStoreError } from "../src/index.js";
import type { K8sStore } from "../src/index.js";
import { adminKubeconfig, adminStore, eventually, uniqueName } from "./helpers.js";

// The write fence: once fenced, a store sends no create, update, patch or delete (Events included) — each fails
// fast with K8S_FENCED before a request leaves the process — while reads, lists and watches go on, and the
// leader elector can still release its Lease. The proxy in front of the API server shows what was actually sent.
const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function proxiedStore(): Promise<{ store: K8sStore; proxy: FaultProxy }> {
  const proxy = await startFaultProxy({ kubeconfig: adminKubeconfig() });
  const store = createK8sStore({ kubeconfigPath: await proxy.kubeconfigFor(adminKubeconfig()), requestTimeoutMs: 5_000 });
  cleanups.push(async () => {
    await store.close();
    await proxy.close();
  });
  return { store, proxy };
}

describe("a fenced store", () => {
  it("sends no write: every kind of write fails with K8S_FENCED (not retryable) and never reaches the API server; reads go on", async () => {
    const { store, proxy } = await proxiedStore();
    const admin = adminStore();
    cleanups.push(() => admin.close());
    const existing = uniqueName("fence-existing");
    const fresh = uniqueName("fence-fresh");
    const before = (await store.secrets.upsertSecretKeys("default", existing, { k: "before" })).secret;
    const informer = store.secrets.informer("default", { fieldSelector: `metadata.name=${existing}` });
    informer.start();
    cleanups.push(() => informer.stop());
    expect(await informer.waitForSync(20_000)).toBe(true);

    expect(store.fenceReason).toBeUndefined();
    store.fence("lost leadership");
    store.fence("shutting down"); // one-way: the first reason stays
    expect(store.fenceReason).toBe("lost leadership");
    const mark = proxy.requests.length;
    const writes = store.counter.writes();

    const attempts: [string, () => Promise<unknown>][] = [
      ["create", () => store.secrets.upsertSecretKeys("default", fresh, { k: "v" })],
      ["update", () => store.secrets.upsertSecretKeys("default", existing, { k: "after" })],
      ["patch", () => store.applications.patchSecret({ namespace: "default", name: existing, data: { k: "after" } }, { uid: before.metadata.uid, resourceVersion: before.metadata.resourceVersion, dataKeys: ["k"] })],
      ["delete", () => store.secrets.delete("default", existing)],
      ["event", () => store.events.recordEvent({ apiVersion: "v1", kind: "Secret", namespace: "default", name: existing }, "Warning", "Test", "fenced")],
      ["CR create", () => store.compassConnections.create({ metadata: { name: uniqueName("fence-cc") }, spec: { managementInfo: { connectorUrl: "", directorUrl: "" } } })],
    ];
    for (const [what, attempt] of attempts) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, what).toBeInstanceOf(K8sStoreError);
      expect(error, what).toMatchObject({ code: "K8S_FENCED", retryable: false });
      expect((error as Error).message, what).toMatch(/not sent: lost leadership/);
    }

    // Reads still work (through the same store) and are sent.
    expect((await store.secrets.get("default", existing)).data["k"]).toBe("before");
    // A change by someone else still reaches the fenced store's informer (watches go on).
    await admin.secrets.upsertSecretKeys("default", existing, { k: "by-admin" });
    await eventually(() => informer.get(existing, "default")?.data["k"] === "by-admin", 20_000, "the watch to see the change");

    const sent = proxy.requests.slice(mark);
    expect(sent.filter((r) => WRITE_METHODS.has(r.method))).toEqual([]);
    expect(sent.some((r) => r.method === "GET")).toBe(true);
    expect(store.counter.writes()).toBe(writes);
    // The API server's state: nothing was created, changed or deleted by the fenced store.
    expect(await admin.secrets.find("default", fresh)).toBeUndefined();
    expect((await admin.secrets.get("default", existing)).data["k"]).toBe("by-admin");
    await admin.secrets.delete("default", existing);
  });

  it("the leader elector still writes its Lease: a fenced leader releases it on stop", async () => {
    const { store, proxy } = await proxiedStore();
    const lease = uniqueName("fence-lease");
    const elector = store.leaderElector({ namespace: "kyma-system", name: lease, identity: "fenced", leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 });
    elector.start();
    await eventually(() => elector.isLeader(), 10_000, "leadership");
    store.fence("shutting down");
    const mark = proxy.requests.length;
    await elector.stop();
    const released = proxy.requests.slice(mark).filter((r) => r.method === "PUT" && r.path.includes(`/leases/${lease}`));
    expect(released.map((r) => r.upstreamStatus)).toEqual([200]);
    expect(elector.isLeader()).toBe(false);
  });
});
