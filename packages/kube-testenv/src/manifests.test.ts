import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readManifests } from "./manifests.js";

describe("readManifests", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kube-testenv-mf-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads multi-document YAML, List items and JSON, recursively and in a stable order", async () => {
    await mkdir(join(dir, "sub"));
    await writeFile(
      join(dir, "b.yaml"),
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: one}\n---\n# empty\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: sa, namespace: one}}\n",
    );
    await writeFile(
      join(dir, "sub", "a.json"),
      JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "two" } }),
    );
    await writeFile(join(dir, "README.md"), "not a manifest");
    const objects = await readManifests([dir]);
    expect(objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).toEqual([
      "Namespace/one",
      "ServiceAccount/sa",
      "Namespace/two",
    ]);
    expect(objects[2]?.file).toBe(join(dir, "sub", "a.json"));
  });

  it("with kinds, keeps only those kinds and skips documents that are not Kubernetes objects", async () => {
    await writeFile(
      join(dir, "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [rbac.yaml]\n",
    );
    await writeFile(join(dir, "values.yaml"), "- just\n- a list\n");
    await writeFile(
      join(dir, "rbac.yaml"),
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: n}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
    );
    const objects = await readManifests([dir], { kinds: ["Role", "RoleBinding"] });
    expect(objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).toEqual(["Role/r"]);
  });

  it("reports invalid documents and missing paths with MANIFEST_INVALID", async () => {
    await writeFile(join(dir, "bad.yaml"), "kind: Namespace\n");
    await expect(readManifests([join(dir, "bad.yaml")])).rejects.toMatchObject({ code: "MANIFEST_INVALID" });
    await writeFile(join(dir, "broken.yaml"), "a: [\n");
    await expect(readManifests([join(dir, "broken.yaml")])).rejects.toMatchObject({
      code: "MANIFEST_INVALID",
    });
    await expect(readManifests([join(dir, "nope")])).rejects.toMatchObject({ code: "MANIFEST_INVALID" });
  });
});
