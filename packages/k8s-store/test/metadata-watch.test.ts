// watchMetadata / watchSecretMetadata against a real API server: every change after a list's resourceVersion,
// metadata only on the wire, and how a watch ends.
import { afterAll, describe, expect, it } from "vitest";
import type { K8sStoreError, ObjectMeta } from "../src/index.js";
import { agentKubeconfig, agentStore, ApiServerProxy, eventually, uniqueName } from "./helpers.js";

const writer = agentStore();
afterAll(() => writer.close());
const NS = "kyma-system";

/** Collects a watch's events (name, type, resourceVersion) and its end. */
function recorder() {
  const events: { type: string; name: string; resourceVersion: string | undefined; labels: Record<string, string> | undefined }[] = [];
  const ended: (K8sStoreError | undefined)[] = [];
  return {
    events,
    ended,
    handlers: {
      onEvent: (type: string, meta: ObjectMeta) => events.push({ type, name: meta.name, resourceVersion: meta.resourceVersion, labels: meta.labels }),
      onEnd: (error: K8sStoreError | undefined) => ended.push(error),
    },
  };
}

describe("metadata watches", () => {
  it("every change after the list's resourceVersion, metadata only on the wire; stop() ends it without an error", async () => {
    const proxy = await ApiServerProxy.start(agentKubeconfig());
    const store = agentStore({ kubeconfigPath: proxy.kubeconfigPath });
    const prefix = uniqueName("mw");
    // 200 KB of data per Secret: a watch that sent whole objects would carry it.
    const big = "x".repeat(200_000);
    const apps = recorder();
    const secrets = recorder();
    try {
      await writer.applications.create({ metadata: { name: `${prefix}-app` }, spec: { description: "one" } });
      const listedApps = await store.applications.listMetadata({ labelSelector: "" });
      const listedSecrets = await store.applications.listManagedSecretMetadata(NS);
      expect(listedApps.resourceVersion).toMatch(/^\d+$/);
      expect(listedSecrets.resourceVersion).toMatch(/^\d+$/);
      const appWatch = store.applications.watchMetadata(listedApps.resourceVersion, apps.handlers, { labelSelector: "" });
      const secretWatch = store.applications.watchSecretMetadata(NS, listedSecrets.resourceVersion, secrets.handlers);

      // A change made right after the list, maybe before the watch is open: still an event.
      const before = proxy.bytesFromServer;
      await writer.applications.createSecret({ name: `${prefix}-s`, owner: `${prefix}-app`, labels: { app: `${prefix}-app`, bundleId: "b1" }, data: { big } });
      for (let i = 0; i < 3; i++) {
        const current = (await writer.applications.listManagedSecretMetadata(NS)).find((s) => s.metadata.name === `${prefix}-s`)!.metadata;
        await writer.applications.patchSecret(
          { name: `${prefix}-s`, owner: `${prefix}-app`, labels: { app: `${prefix}-app`, bundleId: "b1", round: String(i) }, data: { big: `${big}${i}` } },
          { uid: current.uid ?? "", resourceVersion: current.resourceVersion ?? "", dataKeys: ["big"] },
        );
      }
      await eventually(() => secrets.events.filter((e) => e.name === `${prefix}-s`).length === 4, 10_000, "the Secret's events");
      expect(secrets.events.filter((e) => e.name === `${prefix}-s`).map((e) => [e.type, e.labels?.["round"]])).toEqual([
        ["ADDED", undefined],
        ["MODIFIED", "0"],
        ["MODIFIED", "1"],
        ["MODIFIED", "2"],
      ]);
      // Four versions of a 200 KB Secret went by, and far less than one came over the wire.
      expect(proxy.bytesFromServer - before).toBeLessThan(big.length);

      const live = await writer.applications.get(`${prefix}-app`);
      await writer.applications.update({ ...live, spec: { ...live.spec, description: "two" } });
      await writer.applications.deleteSecret(`${prefix}-s`, NS);
      await eventually(() => apps.events.some((e) => e.name === `${prefix}-app` && e.type === "MODIFIED"), 10_000, "the Application's event");
      await eventually(() => secrets.events.some((e) => e.name === `${prefix}-s` && e.type === "DELETED"), 10_000, "the delete event");
      // Nothing from before the list.
      expect(apps.events.some((e) => e.name === `${prefix}-app` && e.type === "ADDED")).toBe(false);

      appWatch.stop();
      secretWatch.stop();
      await eventually(() => apps.ended.length === 1 && secrets.ended.length === 1, 10_000, "the ends");
      expect([...apps.ended, ...secrets.ended]).toEqual([undefined, undefined]);
    } finally {
      await store.close();
      await proxy.down();
      await writer.applications.delete(`${prefix}-app`);
    }
  });

  it("a watch that cannot go on ends with the error: the API server unreachable", async () => {
    const proxy = await ApiServerProxy.start(agentKubeconfig());
    const store = agentStore({ kubeconfigPath: proxy.kubeconfigPath });
    const watch = recorder();
    const name = `${uniqueName("mw")}-app`;
    try {
      const listed = await store.applications.listMetadata({ labelSelector: "" });
      store.applications.watchMetadata(listed.resourceVersion, watch.handlers, { labelSelector: "" });
      // The watch is open once it has handed on an event.
      await writer.applications.create({ metadata: { name }, spec: { description: "one" } });
      await eventually(() => watch.events.some((e) => e.name === name), 10_000, "the Application's event");
      await proxy.down();
      await eventually(() => watch.ended.length === 1, 15_000, "the end");
      expect(watch.ended[0]?.code).toBe("K8S_UNAVAILABLE");
    } finally {
      await store.close();
      await proxy.down();
      await writer.applications.delete(name);
    }
  });
});
