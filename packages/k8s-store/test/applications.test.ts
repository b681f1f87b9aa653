import { afterAll, describe, expect, it } from "vitest";
import { MANAGED_BY_LABEL, type ApplicationSpec, type DesiredApplication, type DesiredAppSecret } from "../src/index.js";
import { adminStore, agentStore, uniqueName } from "./helpers.js";

const store = agentStore();
const admin = adminStore();
afterAll(async () => {
  await store.close();
  await admin.close();
});

function spec(i: number, extra: Partial<ApplicationSpec> = {}): ApplicationSpec {
  return {
    description: `app ${i}`,
    skipVerify: false,
    encodeUrl: false,
    labels: { "connected-app": `app-${i}` },
    displayName: `App ${i}`,
    providerDisplayName: "Provider",
    longDescription: "",
    compassMetadata: { applicationId: `id-${i}`, authentication: { clientIds: [`client-${i}`] } },
    services: [
      {
        id: `svc-${i}`,
        identifier: "",
        name: `svc-${i}`,
        displayName: "Service",
        description: "d",
        providerDisplayName: "Provider",
        entries: [{ type: "API", targetUrl: "https://api.example.com", gatewayUrl: "", centralGatewayUrl: "http://gw", id: "e1", name: "api", credentials: { type: "Basic", secretName: `cred-${i}` } }],
      },
    ],
    ...extra,
  };
}

const desired = (name: string, i: number, extra: Partial<ApplicationSpec> = {}): DesiredApplication => ({ metadata: { name }, spec: spec(i, extra) });

describe("Applications (as the agent's ServiceAccount)", () => {
  it("create, get, update, delete; the managed-by label is set", async () => {
    const name = uniqueName("app");
    const created = await store.applications.create(desired(name, 1));
    expect(created.metadata.labels?.[MANAGED_BY_LABEL]).toBe("compass-runtime-agent");
    const read = await store.applications.get(name);
    const updated = await store.applications.update({ ...read, spec: { ...read.spec, description: "changed" } });
    expect(updated.spec.description).toBe("changed");
    await expect(store.applications.update(read)).rejects.toMatchObject({ code: "K8S_CONFLICT" });
    expect(await store.applications.delete(name, { uid: created.metadata.uid ?? "" })).toBe(true);
    expect(await store.applications.find(name)).toBeUndefined();
  });

  it("characters of several bytes arrive intact, wherever the answer's chunks split them", async () => {
    // 20 descriptions of 2-, 3- and 4-byte characters: a list answer of about 150 KB, read in many chunks.
    const description = (i: number) => `Grüße ${i} 日本語 ✓ 🚀 `.repeat(250);
    const names = Array.from({ length: 20 }, () => uniqueName("utf8"));
    await Promise.all(names.map((name, i) => store.applications.create(desired(name, i, { description: description(i) }))));
    const listed = new Map((await store.applications.listManaged()).map((a) => [a.metadata.name, a.spec.description]));
    expect(names.map((name) => listed.get(name))).toEqual(names.map((_, i) => description(i)));
    await Promise.all(names.map((name) => store.applications.delete(name)));
  });

  it("a foreign Application is not listed and not taken over", async () => {
    const name = uniqueName("foreign");
    // Created by some other tool: its own labels, not the agent's managed-by label.
    const otherTool = adminStore({ managedLabels: { "example.com/owner": "someone-else" } });
    await otherTool.applications.create({ metadata: { name }, spec: { description: "not ours" } });
    await otherTool.close();

    expect((await store.applications.listManaged()).some((a) => a.metadata.name === name)).toBe(false);
    await expect(store.applications.create(desired(name, 9))).rejects.toMatchObject({ code: "K8S_ALREADY_EXISTS", statusCode: 409 });
    const still = await store.applications.get(name);
    expect(still.spec.description).toBe("not ours");
    expect(store.applications.isManaged(still)).toBe(false);
    await admin.applications.delete(name);
  });

  it("an invalid Application is K8S_INVALID and nothing is written", async () => {
    const name = uniqueName("bad");
    await expect(store.applications.create(desired(name, 2, { accessLabel: "-bad-" }))).rejects.toMatchObject({ code: "K8S_INVALID" });
    expect(await store.applications.find(name)).toBeUndefined();
  });

  it("app Secrets: owner reference with the Application's uid (looked up when not given), managed labels; a missing owner is K8S_NOT_FOUND", async () => {
    const appName = uniqueName("owner");
    // Created by someone else: the agent's store has not seen its uid and looks it up once.
    const app = await admin.applications.create(desired(appName, 5));
    const uid = app.metadata.uid;
    expect(uid).toBeTruthy();
    const secrets: DesiredAppSecret[] = [
      { name: `${appName}-cred`, owner: appName, labels: { app: appName, bundleId: "b1" }, data: { username: "u", password: "p" } },
      { name: `params-${appName}-b1`, owner: appName, labels: { app: appName, bundleId: "b1" }, data: { headers: '{"h":["v"]}' } },
    ];
    const gets = store.counter.snapshot().get;
    for (const secret of secrets) await store.applications.createSecret(secret);
    expect(store.counter.snapshot().get).toBe(gets + 1); // one lookup, then the cached uid
    const s = await store.secrets.get("kyma-system", `${appName}-cred`);
    expect(s.metadata.ownerReferences).toEqual([{ apiVersion: "applicationconnector.kyma-project.io/v1alpha1", kind: "Application", name: appName, uid }]);
    expect(s.metadata.labels).toMatchObject({ app: appName, bundleId: "b1", [MANAGED_BY_LABEL]: "compass-runtime-agent" });
    expect(s.data).toEqual({ username: "u", password: "p" });

    await expect(store.applications.createSecret({ name: uniqueName("orphan"), owner: uniqueName("no-such-app"), data: { a: "b" } })).rejects.toMatchObject({ code: "K8S_NOT_FOUND" });

    await store.applications.deleteSecret(`${appName}-cred`);
    await store.applications.deleteSecret(`params-${appName}-b1`);
    await admin.applications.delete(appName);
  });

  it("metadata-only lists, createSecret (POST) with a known owner uid, and the lean path's errors", async () => {
    const appName = uniqueName("meta");
    const created = await store.applications.create(desired(appName, 6));
    const listed = (await store.applications.listMetadata({ labelSelector: "" })).find((a) => a.metadata.name === appName);
    expect(listed?.metadata).toMatchObject({ name: appName, uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion, labels: { [MANAGED_BY_LABEL]: "compass-runtime-agent" } });
    expect(listed).not.toHaveProperty("spec");

    const secret: DesiredAppSecret = { name: `${appName}-cred`, owner: appName, ownerUid: created.metadata.uid ?? "", labels: { app: appName, bundleId: "b1" }, data: { username: "u" } };
    const gets = store.counter.snapshot().get;
    const written = await store.applications.createSecret(secret);
    expect(store.counter.snapshot().get).toBe(gets); // the uid was given: no lookup
    expect(written.metadata.ownerReferences).toEqual([{ apiVersion: "applicationconnector.kyma-project.io/v1alpha1", kind: "Application", name: appName, uid: created.metadata.uid }]);
    expect(written.metadata.labels).toMatchObject({ app: appName, bundleId: "b1", [MANAGED_BY_LABEL]: "compass-runtime-agent" });
    expect(written.metadata.annotations).toBeUndefined(); // exactly what was given: no annotation of the store's own
    await expect(store.applications.createSecret(secret)).rejects.toMatchObject({ code: "K8S_ALREADY_EXISTS", statusCode: 409, reason: "AlreadyExists" });

    const metas = await store.secrets.listMetadata("kyma-system", { labelSelector: `app=${appName}` });
    expect(metas.map((m) => [m.metadata.name, m.metadata.namespace, m.metadata.resourceVersion])).toEqual([[`${appName}-cred`, "kyma-system", written.metadata.resourceVersion]]);
    expect(metas[0]).not.toHaveProperty("data");
    const full = await store.secrets.list("kyma-system", { labelSelector: "app", fieldSelector: `metadata.name=${appName}-cred` });
    expect(full.map((x) => x.data)).toEqual([{ username: "u" }]);

    await expect(store.applications.get(uniqueName("missing"))).rejects.toMatchObject({ code: "K8S_NOT_FOUND", statusCode: 404, reason: "NotFound" });
    await store.applications.deleteSecret(`${appName}-cred`);
    await store.applications.delete(appName);
  });

  it("patchSecret: wanted data (keys of others removed), labels and annotations merged, stale owner replaced, other owners kept", async () => {
    const appName = uniqueName("patch");
    const app = await store.applications.create(desired(appName, 7));
    const name = `${appName}-cred`;
    const base: DesiredAppSecret = { name, owner: appName, ownerUid: "00000000-0000-4000-8000-000000000001", labels: { app: appName, bundleId: "b1" }, data: { username: "u", password: "p" } };
    await store.applications.createSecret(base);
    // Somebody else adds a key, a label and an owner reference of their own.
    await admin.secrets.upsertSecretKeys("kyma-system", name, { extra: "x" }, { labels: { team: "a" } });
    const other = { apiVersion: "v1", kind: "ConfigMap", name: "keep-me", uid: "00000000-0000-4000-8000-000000000002" };
    const before = await admin.secrets.get("kyma-system", name);
    const patched = await store.applications.patchSecret(
      { ...base, ownerUid: app.metadata.uid ?? "", data: { username: "u2" } },
      { uid: before.metadata.uid, resourceVersion: before.metadata.resourceVersion, ownerReferences: [...(before.metadata.ownerReferences ?? []), other], dataKeys: Object.keys(before.data) },
    );
    expect(patched.data).toEqual({ username: "u2" });
    expect(patched.metadata.labels).toMatchObject({ app: appName, bundleId: "b1", team: "a", [MANAGED_BY_LABEL]: "compass-runtime-agent" });
    expect(patched.metadata.ownerReferences).toEqual([other, { apiVersion: "applicationconnector.kyma-project.io/v1alpha1", kind: "Application", name: appName, uid: app.metadata.uid }]);
    await store.applications.deleteSecret(name);
    await store.applications.delete(appName);
  });
});
