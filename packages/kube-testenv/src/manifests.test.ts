import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readManifests } from "./manifests.js";

const kymaStyle = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "test",
  "fixtures",
  "crds-kyma-style",
  "compassconnections.yaml",
);

interface Schema {
  description?: string;
  properties?: Record<string, Schema>;
}

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

  it("reads more files than one reader process takes (500), in order", async () => {
    const names = Array.from({ length: 520 }, (_, i) => `ns-${String(i).padStart(3, "0")}`);
    await Promise.all(
      names.map((name) =>
        writeFile(join(dir, `${name}.yaml`), `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`),
      ),
    );
    expect((await readManifests([dir])).map((o) => o.object.metadata.name)).toEqual(names);
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

  it("reads a CRD in Kyma's style, quoted descriptions continued at the key's own indentation, as kubectl does", async () => {
    const objects = await readManifests([kymaStyle]);
    expect(objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).toEqual([
      "CustomResourceDefinition/compassconnections.compass.testenv.example.com",
    ]);
    const crd = objects[0]!.object as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
    };
    expect(crd.metadata.annotations).toEqual({ "helm.sh/resource-policy": "keep" });
    const root = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!;
    // Go's YAML reader folds each line break (and the next line's indentation) into one space.
    expect(root["apiVersion"]?.description).toBe(
      "The API group and version of this object, as a client sent it; the server may convert it to the " +
        "version it stores. See https://kubernetes.io/docs/reference/using-api/#api-groups",
    );
    expect(root["kind"]?.description).toBe(
      "The REST kind of this object, in CamelCase: the server infers it from the endpoint and it cannot be " +
        "changed. It's read-only.",
    );
    const managementInfo = root["spec"]!.properties!["managementInfo"]!.properties!;
    expect(managementInfo["connectorUrl"]?.description).toBe("Where the Connector answers.");
    expect(managementInfo["directorUrl"]?.description).toBe(
      "Where the Director answers: the runtime's applications come from there.",
    );
    expect(root["status"]!.properties!["connectionStatus"]?.description).toBe(
      "How the connection to Compass stands.",
    );
  });

  it("gives scalars kubectl's meaning (YAML 1.1) and splits documents where kubectl does", async () => {
    await writeFile(
      join(dir, "pod.yaml"),
      [
        "--- # a comment after the separator",
        "apiVersion: v1",
        "kind: Pod",
        "metadata: {name: p, labels: {note: --- not a separator}}",
        "spec:",
        "  enableServiceLinks: no",
        "  volumes:",
        "    - name: s",
        "      secret: {secretName: s, defaultMode: 0644}",
        "---",
        "apiVersion: v1",
        "kind: Namespace",
        "metadata: {name: ns}",
        "",
      ].join("\n"),
    );
    const objects = await readManifests([join(dir, "pod.yaml")]);
    expect(objects.map((o) => o.object)).toEqual([
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p", labels: { note: "--- not a separator" } },
        // 0644 is octal and `no` is false for kubectl (go-yaml); a YAML 1.2 parser reads 644 and "no".
        spec: {
          enableServiceLinks: false,
          volumes: [{ name: "s", secret: { secretName: "s", defaultMode: 420 } }],
        },
      },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "ns" } },
    ]);
  });

  it("reports Go's YAML error with the file, the document and the line it starts on", async () => {
    const file = join(dir, "two.yaml");
    await writeFile(file, "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [\n");
    const err = await readManifests([file]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "MANIFEST_INVALID" });
    const message = (err as Error).message;
    expect(message.startsWith(`${file}: document 2 (from line 5): `), message).toBe(true);
    expect(message).toContain("yaml: line 1: "); // go-yaml counts lines from the document's start
  });

  it("reads any JSON value unchanged, from a JSON file and from the same text as a YAML document", async () => {
    // JSON is YAML: kubectl reads a JSON object the same whether it takes the JSON or the YAML path (a file that
    // does not start with `{` is YAML). Safe integers only: kubectl keeps int64s that JavaScript cannot hold.
    const value = fc.letrec((tie) => ({
      any: fc.oneof(
        { maxDepth: 3 },
        fc.constant(null),
        fc.boolean(),
        fc.maxSafeInteger(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.string({ unit: "binary" }),
        fc.array(tie("any"), { maxLength: 4 }),
        fc.dictionary(fc.string({ unit: "binary" }), tie("any"), { maxKeys: 4 }),
      ),
    })).any;
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 12 }), async (values) => {
        const sub = await mkdtemp(join(dir, "p-"));
        const objects = values.map((v, i) => ({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `cm${i}` },
          value: v,
        }));
        for (const [i, o] of objects.entries()) {
          const text = JSON.stringify(o, null, i % 2 === 0 ? 2 : undefined);
          await writeFile(join(sub, `${String(i).padStart(2, "0")}-a.json`), text);
          await writeFile(join(sub, `${String(i).padStart(2, "0")}-b.yaml`), `# as YAML\n${text}\n`);
        }
        const read = await readManifests([sub]); // one reader process for all files
        const expected = objects.flatMap((o) => [o, o]).map((o) => JSON.parse(JSON.stringify(o)) as unknown);
        expect(read.map((m) => m.object)).toEqual(expected);
      }),
      { numRuns: 10 },
    );
  });
});
