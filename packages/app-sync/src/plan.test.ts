import type { DirectorApplication } from "@runtime-agent/director-client";
import { describe, expect, test } from "vitest";
import { buildDesiredState } from "./desired.js";
import { applicationContentHashOf, secretContentHashOf, toBase64 } from "./hash.js";
import { mergeApplication, plan, withOwnerReference } from "./plan.js";
import type { Plan } from "./plan.js";
import { DESIRED_HASH_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "./types.js";
import type { ActualApplication, ActualSecret, DesiredApplication, DesiredSecret, DesiredState } from "./types.js";

const options = { centralGatewayUrl: "http://gw:8082", skipAppsTlsVerify: false, integrationNamespace: "kyma-system" };

function directorApp(n: number, extra: Partial<DirectorApplication> = {}): DirectorApplication {
  return {
    id: `a0000000-0000-4000-8000-00000000000${n}`,
    name: `mp-app-${n}`,
    systemNumber: null,
    providerName: null,
    description: `app ${n}`,
    labels: {},
    systemAuthIds: [],
    bundles: [
      {
        id: `b0000000-0000-4000-8000-00000000000${n}`,
        name: "orders",
        description: null,
        instanceAuthRequestInputSchema: null,
        apiDefinitions: [{ id: `api-${n}`, name: "orders-api", description: null, targetUrl: "https://x", group: null, version: null }],
        eventDefinitions: [],
        defaultInstanceAuth: {
          credential: { type: "Basic", username: "u", password: `p${n}` },
          additionalHeaders: null,
          additionalQueryParams: null,
          csrf: null,
        },
      },
    ],
    ...extra,
  };
}

function desired(apps: DirectorApplication[]): DesiredState {
  return buildDesiredState(apps, { isNormalized: "true" }, options);
}

/** What the API server would give back for a desired Application after it was written. */
function stored(app: DesiredApplication, uid = `uid-${app.metadata.name}`): ActualApplication {
  return {
    ...structuredClone(app),
    metadata: { ...structuredClone(app.metadata), uid, resourceVersion: "7", namespace: undefined },
    status: { installationStatus: { status: "deployed" } },
  };
}

function storedSecret(secret: DesiredSecret, ownerUid = `uid-${secret.ownerApplication}`): ActualSecret {
  return withOwnerReference(
    { ...structuredClone(secret.secret), metadata: { ...structuredClone(secret.secret.metadata), uid: `uid-${secret.secret.metadata.name}`, resourceVersion: "3" } },
    secret.ownerApplication,
    ownerUid,
  );
}

function storedState(state: DesiredState): { applications: ActualApplication[]; secrets: ActualSecret[] } {
  return { applications: state.applications.map((a) => stored(a)), secrets: state.secrets.map((s) => storedSecret(s)) };
}

describe("plan", () => {
  test("nothing exists: everything is created", () => {
    const want = desired([directorApp(1), directorApp(2)]);
    const result = plan(want, { applications: [], secrets: [] });
    expect(result.applications.create.map((a) => a.metadata.name)).toEqual(["mp-app-1", "mp-app-2"]);
    expect(result.secrets.create).toHaveLength(2);
    expect(result.applications.update).toEqual([]);
    expect(result.conflicts).toEqual([]);
  });

  test("a no-change cycle costs no write", () => {
    const want = desired([directorApp(1), directorApp(2)]);
    const result = plan(want, storedState(want));
    expect(result.applications).toMatchObject({ create: [], update: [], delete: [], unchanged: ["mp-app-1", "mp-app-2"] });
    expect(result.secrets).toMatchObject({ create: [], update: [], delete: [] });
    expect(result.secrets.unchanged).toHaveLength(2);
  });

  test("deferDeletions: an application missing from an inconsistent listing keeps its objects; the rest is applied", () => {
    const before = desired([directorApp(1), directorApp(2)]);
    const after = desired([directorApp(1, { description: "changed" }), directorApp(3)]);
    const result = plan(after, storedState(before), { deferDeletions: "the listing was inconsistent" });
    expect(result.applications.create.map((a) => a.metadata.name)).toEqual(["mp-app-3"]);
    expect(result.applications.update.map((u) => u.desired.metadata.name)).toEqual(["mp-app-1"]);
    expect(result.applications.delete).toEqual([]);
    expect(result.secrets.delete).toEqual([]);
    expect(result.applications.kept).toEqual([{ name: "mp-app-2", reason: "the listing was inconsistent" }]);
    expect(result.secrets.kept.map((k) => k.reason)).toEqual(["the listing was inconsistent"]);
    // Without the option the same plan deletes them.
    const consistent = plan(after, storedState(before));
    expect(consistent.applications.delete.map((d) => d.name)).toEqual(["mp-app-2"]);
    expect(consistent.secrets.delete).toHaveLength(1);
  });

  test("a change in Compass updates the Application and its Secret, keeping status and foreign metadata", () => {
    const before = desired([directorApp(1)]);
    const actual = storedState(before);
    const first = actual.applications[0];
    if (first?.metadata) {
      first.metadata.labels = { ...first.metadata.labels, team: "a" };
      first.metadata.annotations = { ...first.metadata.annotations, note: "keep" };
    }
    const after = desired([directorApp(1, { description: "new", bundles: [{ ...directorApp(1).bundles[0]!, defaultInstanceAuth: { credential: { type: "Basic", username: "u", password: "rotated" }, additionalHeaders: null, additionalQueryParams: null, csrf: null } }] })]);
    const result = plan(after, actual);
    expect(result.applications.update).toHaveLength(1);
    const [update] = result.applications.update;
    expect(update?.reason).toBe("changed");
    expect(update?.object).toMatchObject({
      metadata: {
        name: "mp-app-1",
        uid: "uid-mp-app-1",
        resourceVersion: "7",
        labels: { team: "a", [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
        annotations: { note: "keep", [DESIRED_HASH_ANNOTATION]: after.applications[0]?.metadata.annotations[DESIRED_HASH_ANNOTATION] },
      },
      spec: after.applications[0]?.spec,
      status: { installationStatus: { status: "deployed" } },
    });
    expect(result.secrets.update).toHaveLength(1);
    expect(result.secrets.update[0]?.reason).toBe("changed");
    expect(result.secrets.update[0]?.object.data).toEqual({ username: toBase64("u"), password: toBase64("rotated") });
    expect(result.secrets.update[0]?.object.metadata?.resourceVersion).toBe("3");
  });

  test("an Application edited by hand is restored", () => {
    const want = desired([directorApp(1)]);
    const actual = storedState(want);
    (actual.applications[0]?.spec as { skipVerify: boolean }).skipVerify = true;
    const result = plan(want, actual);
    expect(result.applications.update.map((u) => [u.desired.metadata.name, u.reason])).toEqual([["mp-app-1", "edited"]]);
  });

  test("a Secret edited by hand (extra key) is restored", () => {
    const want = desired([directorApp(1)]);
    const actual = storedState(want);
    const secret = actual.secrets[0];
    if (secret) secret.data = { ...secret.data, extra: toBase64("x") };
    const result = plan(want, actual);
    expect(result.secrets.update.map((u) => u.reason)).toEqual(["edited"]);
    expect(Object.keys(result.secrets.update[0]?.object.data ?? {})).toEqual(["username", "password"]);
  });

  test("objects written by the Go agent (no hash annotation) are adopted: an update only when content differs", () => {
    const want = desired([directorApp(1)]);
    const goWritten = storedState(want);
    for (const object of [...goWritten.applications, ...goWritten.secrets]) {
      if (object.metadata) delete object.metadata.annotations;
    }
    // Go wrote the Secret without the managed-by label; its owner reference makes it ours.
    const secretLabels = goWritten.secrets[0]?.metadata?.labels;
    if (secretLabels) delete secretLabels[MANAGED_BY_LABEL];
    const same = plan(want, goWritten);
    expect(same.applications.unchanged).toEqual(["mp-app-1"]);
    expect(same.secrets.update.map((u) => u.reason)).toEqual(["unrecorded"]);
    expect(same.conflicts).toEqual([]);
  });

  test("a managed Application that Compass no longer assigns is deleted with its Secrets", () => {
    const before = desired([directorApp(1), directorApp(2)]);
    const result = plan(desired([directorApp(1)]), storedState(before));
    expect(result.applications.delete).toEqual([{ name: "mp-app-2", uid: "uid-mp-app-2", resourceVersion: "7" }]);
    expect(result.secrets.delete).toEqual([
      { name: `mp-app-2-b0000000-0000-4000-8000-000000000002`, namespace: "kyma-system", uid: `uid-mp-app-2-b0000000-0000-4000-8000-000000000002`, resourceVersion: "3" },
    ]);
    expect(result.applications.unchanged).toEqual(["mp-app-1"]);
  });

  test("a Secret no longer needed (credentials removed in Compass) is deleted", () => {
    const before = desired([directorApp(1)]);
    const noAuth = directorApp(1);
    noAuth.bundles[0]!.defaultInstanceAuth = null;
    const result = plan(desired([noAuth]), storedState(before));
    expect(result.applications.update).toHaveLength(1);
    expect(result.secrets.delete.map((s) => s.name)).toEqual(["mp-app-1-b0000000-0000-4000-8000-000000000001"]);
  });

  test("foreign objects are never updated or deleted; a foreign object with a wanted name is a conflict", () => {
    const want = desired([directorApp(1)]);
    const foreignApp: ActualApplication = { metadata: { name: "mp-app-1", uid: "u1", labels: { owner: "someone" } }, spec: { description: "mine" } };
    const foreignOther: ActualApplication = { metadata: { name: "hand-made", uid: "u2" }, spec: { compassMetadata: { applicationId: "x", authentication: { clientIds: [] } } } };
    const foreignSecret: ActualSecret = { metadata: { name: "unrelated", namespace: "kyma-system", labels: { app: "hand-made" } }, data: {} };
    const result = plan(want, { applications: [foreignApp, foreignOther], secrets: [foreignSecret] });
    expect(result.applications).toMatchObject({ create: [], update: [], delete: [], unchanged: [] });
    expect(result.secrets).toMatchObject({ create: [], update: [], delete: [] });
    expect(result.conflicts.map((c) => [c.kind, c.name])).toEqual([
      ["Application", "mp-app-1"],
      ["Secret", "mp-app-1-b0000000-0000-4000-8000-000000000001"],
    ]);
  });

  test("a foreign Secret with a wanted name is a conflict and left alone", () => {
    const want = desired([directorApp(1)]);
    const actual = storedState(want);
    actual.secrets = [{ metadata: { name: want.secrets[0]!.secret.metadata.name, namespace: "kyma-system", labels: { app: "else" } }, data: { a: "b" } }];
    const result = plan(want, actual);
    expect(result.secrets.update).toEqual([]);
    expect(result.conflicts).toEqual([
      expect.objectContaining({ kind: "Secret", name: want.secrets[0]!.secret.metadata.name, namespace: "kyma-system" }),
    ]);
  });

  test("objects of an application in conflict are kept, not deleted", () => {
    const before = desired([directorApp(1), directorApp(2)]);
    const duplicate = directorApp(3, { name: "mp-app-2" });
    const want = desired([directorApp(1), directorApp(2), duplicate]);
    expect(want.conflicts.map((c) => c.name)).toEqual(["mp-app-2", "mp-app-2"]);
    const result = plan(want, storedState(before));
    expect(result.applications.delete).toEqual([]);
    expect(result.secrets.delete).toEqual([]);
    expect(result.applications.kept.map((k) => k.name)).toEqual(["mp-app-2"]);
    expect(result.secrets.kept).toHaveLength(1);
  });

  test("a Secret whose owner reference is stale (Application recreated) is rewritten", () => {
    const want = desired([directorApp(1)]);
    const actual = storedState(want);
    actual.secrets = want.secrets.map((s) => storedSecret(s, "old-uid"));
    const result = plan(want, actual);
    expect(result.secrets.update.map((u) => u.reason)).toEqual(["owner"]);
  });

  test("a custom managed label", () => {
    const want = desired([directorApp(1)]);
    const actual = storedState(want);
    const result = plan(want, actual, { managedLabel: { key: "example.com/owner", value: "me" } });
    expect(result.conflicts.map((c) => c.kind)).toEqual(["Application", "Secret"]);
  });

  test("withOwnerReference adds the owner the Go way and replaces a stale one", () => {
    const [secret] = desired([directorApp(1)]).secrets;
    const owned = withOwnerReference(secret!.secret, "mp-app-1", "uid-1");
    expect((owned.metadata as { ownerReferences?: unknown }).ownerReferences).toEqual([
      { apiVersion: "applicationconnector.kyma-project.io/v1alpha1", kind: "Application", name: "mp-app-1", uid: "uid-1" },
    ]);
    const again = withOwnerReference(owned, "mp-app-1", "uid-2");
    expect((again.metadata as { ownerReferences?: { uid: string }[] }).ownerReferences?.map((o) => o.uid)).toEqual(["uid-2"]);
  });

  describe("actual objects kept as metadata plus a precomputed content hash", () => {
    /** What a caller that keeps only metadata and the content hash of what it read hands to plan. */
    function compact(state: { applications: ActualApplication[]; secrets: ActualSecret[] }) {
      return {
        applications: state.applications.map((a) => ({ metadata: structuredClone(a.metadata), contentHash: applicationContentHashOf(a) })),
        secrets: state.secrets.map((x) => ({ metadata: structuredClone(x.metadata), type: x.type, contentHash: secretContentHashOf(x) })),
      };
    }
    const decisions = (p: Plan) => ({
      applications: {
        create: p.applications.create.map((a) => a.metadata.name),
        update: p.applications.update.map((u) => [u.desired.metadata.name, u.reason]),
        delete: p.applications.delete,
        unchanged: p.applications.unchanged,
        kept: p.applications.kept,
      },
      secrets: {
        create: p.secrets.create.map((x) => x.secret.metadata.name),
        update: p.secrets.update.map((u) => [u.desired.secret.metadata.name, u.reason, u.object]),
        delete: p.secrets.delete,
        unchanged: p.secrets.unchanged,
        kept: p.secrets.kept,
      },
      conflicts: p.conflicts,
    });
    const scenarios: [string, () => { want: DesiredState; actual: { applications: ActualApplication[]; secrets: ActualSecret[] } }][] = [
      ["no change", () => ({ want: desired([directorApp(1), directorApp(2)]), actual: storedState(desired([directorApp(1), directorApp(2)])) })],
      ["a change in Compass", () => ({ want: desired([directorApp(1, { description: "new" })]), actual: storedState(desired([directorApp(1)])) })],
      [
        "hand edits",
        () => {
          const want = desired([directorApp(1)]);
          const actual = storedState(want);
          (actual.applications[0]?.spec as { skipVerify: boolean }).skipVerify = true;
          actual.secrets[0]!.data = { ...actual.secrets[0]!.data, extra: toBase64("x") };
          return { want, actual };
        },
      ],
      [
        "written by the Go agent",
        () => {
          const want = desired([directorApp(1)]);
          const actual = storedState(want);
          for (const object of [...actual.applications, ...actual.secrets]) if (object.metadata) delete object.metadata.annotations;
          delete actual.secrets[0]!.metadata!.labels![MANAGED_BY_LABEL];
          return { want, actual };
        },
      ],
      ["deletions", () => ({ want: desired([directorApp(1)]), actual: storedState(desired([directorApp(1), directorApp(2)])) })],
      ["stale owner", () => ({ want: desired([directorApp(1)]), actual: { ...storedState(desired([directorApp(1)])), secrets: desired([directorApp(1)]).secrets.map((x) => storedSecret(x, "old")) } })],
    ];
    for (const [name, scenario] of scenarios) {
      test(`plans like full objects: ${name}`, () => {
        const { want, actual } = scenario();
        expect(decisions(plan(want, compact(actual)))).toEqual(decisions(plan(want, actual)));
      });
    }

    test("a hash over other label keys is not used", () => {
      const want = desired([directorApp(1)]);
      const actual = storedState(want);
      const app = { metadata: actual.applications[0]!.metadata, contentHash: applicationContentHashOf(actual.applications[0]!, ["other"]) };
      const result = plan(want, { applications: [app], secrets: actual.secrets });
      // Without a usable hash and without a spec the content cannot be shown equal: rewritten, never skipped.
      expect(result.applications.unchanged).toEqual([]);
      expect(result.applications.update).toHaveLength(1);
    });

    test("mergeApplication builds the update from a full object read later, without the content hash", () => {
      const want = desired([directorApp(1, { description: "new" })]);
      const live = { ...stored(desired([directorApp(1)]).applications[0]!), contentHash: { labelKeys: "x", value: "y" } };
      const merged = mergeApplication(live, want.applications[0]!);
      expect(merged).not.toHaveProperty("contentHash");
      expect(merged).toMatchObject({ spec: want.applications[0]!.spec, status: live.status, metadata: { resourceVersion: "7", uid: "uid-mp-app-1" } });
    });
  });
});
