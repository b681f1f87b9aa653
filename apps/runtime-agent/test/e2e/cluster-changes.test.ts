// ClusterChanges against the real API server: what a clean cycle expects after its listing and its own writes, and
// which changes (by hand, before or after the expectations are stated) make the next cycle list again.
import { createK8sStore } from "@runtime-agent/k8s-store";
import type { K8sStore, K8sStoreError } from "@runtime-agent/k8s-store";
import { afterAll, afterEach, beforeAll, expect, inject, test } from "vitest";
import { ClusterChanges } from "../../src/controller/cluster-changes.js";
import { appKey, secretKey, version } from "../../src/controller/sync-memory.js";
import { waitFor } from "../support/agent-process.js";

const NS = "kyma-system";
let agent: K8sStore;
let admin: K8sStore;
let changes: ClusterChanges;
const errors: K8sStoreError[] = [];
let n = 0;

beforeAll(() => {
  agent = createK8sStore({ kubeconfigPath: inject("agentKubeconfig") });
  admin = createK8sStore({ kubeconfigPath: inject("adminKubeconfig") });
});
afterEach(() => changes.stop());
afterAll(async () => {
  await agent.close();
  await admin.close();
});

/** A listing as a cycle makes it (the changes followed from it), and its objects by key. */
async function listAndFollow(): Promise<Map<string, string>> {
  const applications = await agent.applications.listMetadata({ labelSelector: "" });
  const secrets = await agent.applications.listManagedSecretMetadata(NS);
  changes.follow({ applications: applications.resourceVersion, secrets: secrets.resourceVersion });
  const objects = new Map<string, string>();
  for (const a of applications) objects.set(appKey(a.metadata.name), version(a.metadata));
  for (const x of secrets) objects.set(secretKey(x.metadata.namespace, x.metadata.name), version(x.metadata));
  return objects;
}

/** The cycle's own write: an Application with one credential Secret; `objects` gets their versions. */
async function write(objects: Map<string, string>): Promise<string> {
  const name = `cc-${++n}-${Date.now().toString(36)}`;
  const app = await agent.applications.create({ metadata: { name }, spec: { description: "x" } });
  const secret = await agent.applications.createSecret({ name: `${name}-b`, owner: name, labels: { app: name, bundleId: "b" }, data: { password: "p" } });
  objects.set(appKey(name), version(app.metadata));
  objects.set(secretKey(NS, secret.metadata.name), version(secret.metadata));
  return name;
}

const changed = () => waitFor("a change seen", async () => (changes.unchanged() ? undefined : true), 10_000, 20);
const unchanged = () => waitFor("no change left", async () => (changes.unchanged() ? true : undefined), 10_000, 20);

/**
 * Both watches have delivered every event before now: a marker object on each stream is seen, then its deletion
 * (events of one watch arrive in order). Assumes nothing else differs.
 */
async function flush(owner: string): Promise<void> {
  await admin.applications.create({ metadata: { name: `${owner}-marker` }, spec: { description: "marker" } });
  await changed();
  await admin.applications.delete(`${owner}-marker`);
  await unchanged();
  await agent.applications.createSecret({ name: `${owner}-marker`, owner, labels: { app: owner, bundleId: "marker" }, data: { x: "y" } });
  await changed();
  await agent.applications.deleteSecret(`${owner}-marker`, NS);
  await unchanged();
}

function fresh(): void {
  changes = new ClusterChanges(agent, NS, (error) => errors.push(error));
}

test("the cycle's own writes, seen before and after it states what it expects: unchanged", async () => {
  fresh();
  const objects = await listAndFollow();
  expect(changes.unchanged()).toBe(false); // nothing expected yet
  await write(objects);
  const name = await write(objects);
  // The writes' events come before the expectations (held until then) or after them: the same either way.
  changes.expect(objects);
  await flush(name);
  expect(changes.unchanged()).toBe(true);
  expect(errors).toEqual([]);
});

test.each([
  ["edited by hand", async (name: string) => {
    const app = await admin.applications.get(name);
    await admin.applications.update({ ...app, spec: { ...app.spec, description: "by hand" } });
  }],
  ["deleted by hand", (name: string) => admin.applications.delete(name)],
  ["its Secret deleted by hand", (name: string) => admin.applications.deleteSecret(`${name}-b`, NS)],
  ["a foreign Application added", (name: string) => admin.applications.create({ metadata: { name: `${name}-foreign` }, spec: { description: "x" } })],
])("an object %s after the expectations: changed", async (_what, change) => {
  fresh();
  const objects = await listAndFollow();
  const name = await write(objects);
  changes.expect(objects);
  await flush(name);
  await change(name);
  await changed();
});

test("a change by hand while the cycle runs (after its listing, before it states what it expects): changed", async () => {
  fresh();
  const objects = await listAndFollow();
  const name = await write(objects);
  // Somebody edits the Application after the cycle wrote it; the cycle expects the version it wrote.
  const app = await admin.applications.get(name);
  await admin.applications.update({ ...app, spec: { ...app.spec, description: "by hand" } });
  changes.expect(objects);
  await changed();
});

test("stopped: unknown (the next cycle lists)", async () => {
  fresh();
  changes.expect(await listAndFollow());
  await unchanged();
  changes.stop();
  expect(changes.unchanged()).toBe(false);
});
