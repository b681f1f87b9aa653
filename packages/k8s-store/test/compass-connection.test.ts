import { afterAll, describe, expect, it } from "vitest";
import { K8sStoreError, type CompassConnection, type CompassConnectionStatus } from "../src/index.js";
import { agentStore, eventually, uniqueName } from "./helpers.js";

const store = agentStore();
afterAll(() => store.close());

const spec = { managementInfo: { connectorUrl: "https://connector.example.com/graphql", directorUrl: "https://director.example.com/graphql" } };
const status = (state: string): CompassConnectionStatus => ({
  connectionState: state,
  connectionStatus: {
    established: "2024-01-01T00:00:00Z",
    renewed: null,
    lastSync: "2024-01-01T00:00:00Z",
    lastSuccess: "2024-01-01T00:00:00Z",
    certificateStatus: { acquired: "2024-01-01T00:00:00Z", notBefore: "2024-01-01T00:00:00Z", notAfter: "2024-04-01T00:00:00Z" },
  },
  synchronizationStatus: null,
});

describe("CompassConnection store (as the agent's ServiceAccount)", () => {
  it("create, get, update with resourceVersion, conflict on a stale one, delete", async () => {
    const name = uniqueName("cc");
    expect(await store.compassConnections.find(name)).toBeUndefined();
    await expect(store.compassConnections.get(name)).rejects.toMatchObject({ code: "K8S_NOT_FOUND" });

    const created = await store.compassConnections.create({ metadata: { name }, spec, status: status("Connected") });
    expect(created.metadata.uid).toBeTruthy();
    expect(created.status?.connectionState).toBe("Connected");
    await expect(store.compassConnections.create({ metadata: { name }, spec })).rejects.toMatchObject({ code: "K8S_ALREADY_EXISTS" });

    const read = await store.compassConnections.get(name);
    expect(read.spec).toEqual(spec);
    const updated = await store.compassConnections.update({ ...read, status: status("Synchronized") });
    expect(updated.status?.connectionState).toBe("Synchronized");
    expect(updated.metadata.resourceVersion).not.toBe(read.metadata.resourceVersion);

    // A write based on the stale read is refused.
    const stale = store.compassConnections.update({ ...read, spec: { ...read.spec, resyncNow: true } });
    await expect(stale).rejects.toMatchObject({ code: "K8S_CONFLICT", retryable: true });
    // Unconditional writes are refused locally.
    const { resourceVersion: _rv, ...meta } = read.metadata;
    await expect(store.compassConnections.update({ ...read, metadata: meta })).rejects.toMatchObject({ code: "K8S_INVALID" });

    expect(await store.compassConnections.delete(name)).toBe(true);
    expect(await store.compassConnections.delete(name)).toBe(false);
  });

  it("mutate: two concurrent writers both keep their change (conflict → re-read → re-apply)", async () => {
    const name = uniqueName("cc");
    await store.compassConnections.create({ metadata: { name }, spec, status: status("Connected") });
    const other = agentStore();
    try {
      const rounds = 5;
      const a = (async () => {
        for (let i = 0; i < rounds; i++) {
          await store.compassConnections.mutate(name, (d) => {
            d.metadata.labels = { ...d.metadata.labels, [`writer-a-${i}`]: "x" };
          });
        }
      })();
      const b = (async () => {
        for (let i = 0; i < rounds; i++) {
          await other.compassConnections.mutate(name, (d: CompassConnection) => {
            d.metadata.annotations = { ...d.metadata.annotations, [`writer-b-${i}`]: "y" };
            if (d.status?.connectionStatus) d.status.connectionStatus.lastSync = `2024-01-01T00:00:0${i}Z`;
          });
        }
      })();
      await Promise.all([a, b]);
      const final = await store.compassConnections.get(name);
      for (let i = 0; i < rounds; i++) {
        expect(final.metadata.labels?.[`writer-a-${i}`]).toBe("x");
        expect(final.metadata.annotations?.[`writer-b-${i}`]).toBe("y");
      }
      expect(final.status?.connectionStatus?.lastSync).toBe(`2024-01-01T00:00:0${rounds - 1}Z`);
    } finally {
      await other.close();
      await store.compassConnections.delete(name);
    }
  });

  it("mutate that changes nothing sends no write; a lasting conflict gives up after the attempts", async () => {
    const name = uniqueName("cc");
    await store.compassConnections.create({ metadata: { name }, spec, status: status("Connected") });
    const before = store.counter.snapshot();
    const r = await store.compassConnections.mutate(name, (d) => {
      d.spec.managementInfo.connectorUrl = spec.managementInfo.connectorUrl;
    });
    expect(r.updated).toBe(false);
    expect(store.counter.snapshot().update).toBe(before.update);

    // Another writer changes the object during every attempt: mutate retries, then reports K8S_CONFLICT.
    const other = agentStore();
    let calls = 0;
    const err = await store.compassConnections
      .mutate(
        name,
        async (d) => {
          calls++;
          await other.compassConnections.mutate(name, (o) => {
            o.metadata.labels = { ...o.metadata.labels, bump: String(calls) };
          });
          d.spec.resyncNow = !d.spec.resyncNow;
        },
        { attempts: 3, baseDelayMs: 1 },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(K8sStoreError);
    expect((err as K8sStoreError).code).toBe("K8S_CONFLICT");
    expect(calls).toBe(3);
    await other.close();
    await store.compassConnections.delete(name);
  });

  it("informer: syncs, then reports add/update/delete", async () => {
    const name = uniqueName("cc");
    const informer = store.compassConnections.informer({ fieldSelector: `metadata.name=${name}` });
    const seen: string[] = [];
    informer.on("add", (o) => seen.push(`add:${o.status?.connectionState ?? ""}`));
    informer.on("update", (o, old) => seen.push(`update:${old.status?.connectionState ?? ""}->${o.status?.connectionState ?? ""}`));
    informer.on("delete", () => seen.push("delete"));
    informer.start();
    expect(await informer.waitForSync(20_000)).toBe(true);
    expect(informer.isSynced()).toBe(true);
    await store.compassConnections.create({ metadata: { name }, spec, status: status("Connected") });
    await eventually(() => informer.get(name) !== undefined, 20_000, "add");
    await store.compassConnections.mutate(name, (d) => {
      if (d.status) d.status.connectionState = "Synchronized";
    });
    await eventually(() => informer.get(name)?.status?.connectionState === "Synchronized", 20_000, "update");
    await store.compassConnections.delete(name);
    await eventually(() => informer.get(name) === undefined, 20_000, "delete");
    await informer.stop();
    expect(seen).toEqual(["add:Connected", "update:Connected->Synchronized", "delete"]);
  });
});
