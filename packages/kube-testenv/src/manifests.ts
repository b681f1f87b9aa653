import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "./client.js";
import { KubeTestenvError } from "./errors.js";

export interface ManifestObject {
  object: KubeObject;
  /** The file it came from, for messages. */
  file: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** All `*.yaml`/`*.yml`/`*.json` files under `path` (a file or a directory, recursively), sorted. */
export async function manifestFiles(path: string): Promise<string[]> {
  let s;
  try {
    s = await stat(path);
  } catch (err) {
    throw new KubeTestenvError("MANIFEST_INVALID", `manifest path ${path} does not exist`, { cause: err });
  }
  if (s.isFile()) return [path];
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.(ya?ml|json)$/i.test(e.name)) out.push(p);
    }
  };
  await walk(path);
  return out;
}

export interface ReadOptions {
  /**
   * Only keep objects of these kinds. Documents of other kinds, and documents that are not Kubernetes
   * objects at all (a kustomization.yaml, Helm values), are skipped instead of failing.
   */
  kinds?: readonly string[];
}

function toObjects(
  value: unknown,
  file: string,
  out: ManifestObject[],
  kinds: readonly string[] | undefined,
): void {
  if (value === null || value === undefined) return;
  if (!isRecord(value)) {
    if (kinds) return;
    throw new KubeTestenvError("MANIFEST_INVALID", `${file}: a document is not a mapping`);
  }
  if (typeof value["kind"] === "string" && value["kind"].endsWith("List") && Array.isArray(value["items"])) {
    for (const item of value["items"]) toObjects(item, file, out, kinds);
    return;
  }
  if (kinds && !(typeof value["kind"] === "string" && kinds.includes(value["kind"]))) return;
  const meta = value["metadata"];
  if (
    typeof value["apiVersion"] !== "string" ||
    typeof value["kind"] !== "string" ||
    !isRecord(meta) ||
    typeof meta["name"] !== "string"
  ) {
    throw new KubeTestenvError(
      "MANIFEST_INVALID",
      `${file}: every document needs apiVersion, kind and metadata.name`,
    );
  }
  out.push({ object: value as KubeObject, file });
}

/** Reads every Kubernetes object from the given files and directories (multi-document YAML, `List` kinds). */
export async function readManifests(
  paths: readonly string[],
  options: ReadOptions = {},
): Promise<ManifestObject[]> {
  const out: ManifestObject[] = [];
  for (const path of paths) {
    for (const file of await manifestFiles(path)) {
      const text = await readFile(file, "utf8");
      const docs = parseAllDocuments(text);
      for (const doc of docs) {
        if (doc.errors.length > 0) {
          throw new KubeTestenvError(
            "MANIFEST_INVALID",
            `${file}: ${doc.errors[0]?.message ?? "YAML error"}`,
          );
        }
        toObjects(doc.toJS(), file, out, options.kinds);
      }
    }
  }
  return out;
}

/** The RBAC-related kinds applied from the agent's deploy folder, in apply order. */
export const RBAC_KINDS = [
  "Namespace",
  "ServiceAccount",
  "ClusterRole",
  "Role",
  "ClusterRoleBinding",
  "RoleBinding",
] as const;
