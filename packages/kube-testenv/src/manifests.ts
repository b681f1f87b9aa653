import { execFile } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ensureManifestReader } from "./build.js";
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

const FILES_PER_READER = 500;

/** What the manifest reader (go/manifests) prints for one file. */
interface ReaderResult {
  file: string;
  documents?: unknown[];
  error?: string;
}

/**
 * Reads the documents of `files` with kubectl's own decoding (k8s.io/apimachinery's YAMLOrJSONDecoder and
 * sigs.k8s.io/yaml, in the Go manifest reader): one result per file, in order.
 */
async function decodeFiles(files: readonly string[]): Promise<ReaderResult[]> {
  const reader = await ensureManifestReader();
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(reader.path, [...files], { encoding: "utf8", maxBuffer: 1 << 30 }, (err, out, stderr) => {
      if (err) {
        reject(
          new KubeTestenvError(
            "MANIFEST_INVALID",
            `the manifest reader ${reader.path} failed (${err.message.split("\n")[0]}): ${stderr.trim()}`,
            { cause: err },
          ),
        );
      } else resolve(out);
    });
  });
  let results: unknown;
  try {
    results = JSON.parse(stdout);
  } catch {
    results = undefined;
  }
  if (!Array.isArray(results) || results.length !== files.length) {
    throw new KubeTestenvError(
      "MANIFEST_INVALID",
      `the manifest reader ${reader.path} answered unexpectedly (${stdout.length} bytes); remove it to rebuild it`,
    );
  }
  return results as ReaderResult[];
}

/**
 * Reads every Kubernetes object from the given files and directories (multi-document YAML, JSON, `List`
 * kinds) as kubectl reads them: through Go's YAML reader (sigs.k8s.io/yaml, i.e. go-yaml), documents split at
 * `---` lines as kubectl splits them. So it accepts what `kubectl apply -f` accepts — e.g. Kyma's CRDs, whose
 * quoted descriptions continue at the key's own indentation, which strict YAML 1.2 parsers refuse — and a
 * scalar means what it means to kubectl (YAML 1.1: `yes`/`on` are booleans). The first call may build the
 * small Go reader (see ensureManifestReader).
 */
export async function readManifests(
  paths: readonly string[],
  options: ReadOptions = {},
): Promise<ManifestObject[]> {
  const files: string[] = [];
  for (const path of paths) files.push(...(await manifestFiles(path)));
  if (files.length === 0) return [];
  const out: ManifestObject[] = [];
  // One reader process per FILES_PER_READER files (the command line has a length limit).
  for (let i = 0; i < files.length; i += FILES_PER_READER) {
    const batch = files.slice(i, i + FILES_PER_READER);
    const results = await decodeFiles(batch);
    batch.forEach((file, j) => {
      const result = results[j] as ReaderResult;
      if (result.error !== undefined)
        throw new KubeTestenvError("MANIFEST_INVALID", `${file}: ${result.error}`);
      for (const doc of result.documents ?? []) toObjects(doc, file, out, options.kinds);
    });
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
