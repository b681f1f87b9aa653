import { afterAll, describe, expect, it } from "vitest";
import { APPLICATION_API_VERSION, APPLICATION_KIND, type DesiredApplication, type DesiredAppSecret, type ObjectMeta } from "../src/index.js";
import { adminStore, agentStore, uniqueName } from "./helpers.js";

const NS = "kyma-system";
const store = agentStore();
const admin = adminStore();
afterAll(async () => {
  await store.close();
  await admin.close();
});

const application = (name: string): DesiredApplication => ({
  metadata: { name },
  spec: { description: "d", skipInstallation: false, skipVerify: false, encodeUrl: false, labels: {}, displayName: name, providerDisplayName: "p", longDescription: "", services: [] },
});

/** The names among `items` that start with `prefix`, sorted (other test files share the namespace). */
const namesOf = (items: { metadata: ObjectMeta }[], prefix: string): string[] =>
  items
    .map((x) => x.metadata.name)
    .filter((n) => n.startsWith(prefix))
    .sort();

/** What the agent's no-change check compares: uid/resourceVersion of each listed object. */
const versionsOf = (items: { metadata: ObjectMeta }[], prefix: string): string[] =>
  items
    .filter((x) => x.metadata.name.startsWith(prefix))
    .map((x) => `${x.metadata.name}=${x.metadata.uid ?? ""}/${x.metadata.resourceVersion ?? ""}`)
    .sort();

describe("app Secrets (as the agent's ServiceAccount)", () => {
  it("listManagedSecrets / listManagedSecretMetadata: the agent's and the Go agent's app Secrets, never other Secrets labelled app", async () => {
    const appName = uniqueName("sel");
    const app = await store.applications.create(application(appName));
    const uid = app.metadata.uid ?? "";
    const owner = { apiVersion: APPLICATION_API_VERSION, kind: APPLICATION_KIND, name: appName, uid };
    // Ours, and one as Kyma's Go agent writes it (labels app/bundleId, owner reference, no managed-by label).
    await store.applications.createSecret({ name: `${appName}-b1`, owner: appName, ownerUid: uid, labels: { app: appName, bundleId: "b1" }, data: { username: "u" } });
    await admin.secrets.create({ namespace: NS, name: `${appName}-b2`, labels: { app: appName, bundleId: "b2" }, ownerReferences: [owner], data: { clientId: "c" } });
    // Foreign: a component's Secret labelled app; one that even has bundleId but no owner; one owned by the
    // Application but not named after a bundle.
    await admin.secrets.create({ namespace: NS, name: `${appName}-component`, labels: { app: appName }, data: { x: "1" } });
    await admin.secrets.create({ namespace: NS, name: `${appName}-b3`, labels: { app: appName, bundleId: "b3" }, data: { x: "1" } });
    await admin.secrets.create({ namespace: NS, name: `${appName}-other`, labels: { app: appName, bundleId: "b4" }, ownerReferences: [owner], data: { x: "1" } });

    // The scenario: the selector `app` the agent used lists all five.
    expect(namesOf(await store.secrets.listMetadata(NS, { labelSelector: "app" }), appName)).toHaveLength(5);

    const mine = [`${appName}-b1`, `${appName}-b2`];
    const metadata = await store.applications.listManagedSecretMetadata();
    expect(namesOf(metadata, appName)).toEqual(mine);
    expect(metadata.find((m) => m.metadata.name === `${appName}-b2`)).not.toHaveProperty("data");
    expect(namesOf(await store.applications.listManagedSecrets(), appName)).toEqual(mine);
    expect(namesOf(await store.applications.listManagedSecrets(NS, { fieldSelector: `metadata.name=${appName}-b3` }), appName)).toEqual([]);
    expect((await store.applications.listManagedSecrets(NS, { fieldSelector: `metadata.name=${appName}-b2` })).map((s) => s.data)).toEqual([{ clientId: "c" }]);

    // A change to a foreign Secret leaves the listing exactly as it was.
    const before = versionsOf(metadata, appName);
    await admin.secrets.upsertSecretKeys(NS, `${appName}-component`, { x: "2" });
    await admin.secrets.upsertSecretKeys(NS, `${appName}-b3`, { x: "2" });
    expect(versionsOf(await store.applications.listManagedSecretMetadata(), appName)).toEqual(before);

    for (const suffix of ["b1", "b2", "component", "b3", "other"]) await admin.secrets.delete(NS, `${appName}-${suffix}`);
    await store.applications.delete(appName);
  });

  it("patchSecret and deleteSecret are conditional on the uid and resourceVersion read: a changed or replaced Secret is a K8S_CONFLICT, never taken over", async () => {
    const appName = uniqueName("pre");
    const app = await store.applications.create(application(appName));
    const name = `${appName}-b1`;
    const wanted: DesiredAppSecret = { name, owner: appName, ownerUid: app.metadata.uid ?? "", labels: { app: appName, bundleId: "b1" }, data: { username: "u", password: "p" } };
    const planned = await store.applications.createSecret(wanted);
    const current = (s: { metadata: ObjectMeta }, dataKeys: string[]) => ({
      uid: s.metadata.uid,
      resourceVersion: s.metadata.resourceVersion,
      ownerReferences: s.metadata.ownerReferences,
      dataKeys,
    });

    // Edited by someone else after it was read.
    await admin.secrets.upsertSecretKeys(NS, name, { extra: "x" });
    await expect(store.applications.patchSecret({ ...wanted, data: { username: "u2" } }, current(planned, ["username", "password"]))).rejects.toMatchObject({
      code: "K8S_CONFLICT",
      statusCode: 409,
    });
    expect((await admin.secrets.get(NS, name)).data).toEqual({ username: "u", password: "p", extra: "x" });

    // Deleted and re-created by someone else (a foreign Secret of the same name).
    const read = await store.secrets.get(NS, name);
    await admin.secrets.delete(NS, name);
    await admin.secrets.upsertSecretKeys(NS, name, { theirs: "1" }, { labels: { app: "someone-else" } });
    await expect(store.applications.patchSecret(wanted, current(read, Object.keys(read.data)))).rejects.toMatchObject({ code: "K8S_CONFLICT", statusCode: 409 });
    await expect(store.applications.deleteSecret(name, NS, { uid: read.metadata.uid, resourceVersion: read.metadata.resourceVersion })).rejects.toMatchObject({
      code: "K8S_CONFLICT",
    });
    const foreign = await admin.secrets.get(NS, name);
    expect(foreign.data).toEqual({ theirs: "1" });
    expect(foreign.metadata.labels).toEqual({ app: "someone-else" });

    // Without preconditions nothing is sent.
    const requests = store.counter.total();
    await expect(store.applications.patchSecret(wanted, { uid: undefined, resourceVersion: undefined, dataKeys: [] })).rejects.toMatchObject({ code: "K8S_INVALID" });
    expect(store.counter.total()).toBe(requests);

    // With the uid and resourceVersion of the object as it is, both go through.
    const patched = await store.applications.patchSecret(wanted, current(foreign, Object.keys(foreign.data)));
    expect(patched.data).toEqual({ username: "u", password: "p" });
    expect(await store.applications.deleteSecret(name, NS, { uid: patched.metadata.uid, resourceVersion: patched.metadata.resourceVersion })).toBe(true);
    await store.applications.delete(appName);
  });

  it("the owner-uid cache keeps only Applications the latest listing holds", async () => {
    for (const list of [() => store.applications.listMetadata({ labelSelector: "" }), () => store.applications.listManaged()]) {
      const name = uniqueName("uids");
      await store.applications.create(application(name));
      // Deleted by someone else; a listing no longer holds it.
      await admin.applications.delete(name);
      await list();
      // Re-created by someone else: owner references must get the new uid, not the one remembered before.
      const again = await admin.applications.create(application(name));
      const gets = store.counter.snapshot().get;
      expect(await store.applications.resolveUid(name)).toBe(again.metadata.uid);
      expect(store.counter.snapshot().get).toBe(gets + 1);
      // A listing that holds it refreshes the cache: no lookup.
      await list();
      expect(await store.applications.resolveUid(name)).toBe(again.metadata.uid);
      expect(store.counter.snapshot().get).toBe(gets + 1);
      await store.applications.delete(name);
    }
  });
});
