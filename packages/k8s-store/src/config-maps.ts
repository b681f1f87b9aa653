import type { K8sClient } from "./client.js";
import { listPageOf } from "./compass-connection.js";
import { isK8sStoreError } from "./errors.js";
import { Informer, type InformerOptions } from "./informer.js";
import { isRecord, parseObjectMeta, type ObjectMeta } from "./meta.js";

/** A ConfigMap as the store hands it out: its `data` (text values; `binaryData` is left out). */
export interface ConfigMapObject {
  metadata: ObjectMeta & { namespace: string };
  data: Record<string, string>;
}

function parseConfigMap(raw: unknown): ConfigMapObject {
  const r = isRecord(raw) ? raw : {};
  const meta = parseObjectMeta(r["metadata"]);
  const data: Record<string, string> = {};
  if (isRecord(r["data"])) for (const [k, v] of Object.entries(r["data"])) if (typeof v === "string") data[k] = v;
  return { metadata: { ...meta, namespace: meta.namespace ?? "" }, data };
}

/**
 * ConfigMaps, read-only: earlier Kyma releases configured the agent with a ConfigMap, which the agent still reads
 * when its configuration Secret does not exist.
 */
export class ConfigMapStore {
  constructor(private readonly client: K8sClient) {}

  private path(namespace: string, name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** Reads a ConfigMap; undefined when absent. */
  async find(namespace: string, name: string): Promise<ConfigMapObject | undefined> {
    try {
      return parseConfigMap(await this.client.json("get", "configmaps", `get configmaps ${namespace}/${name}`, { method: "GET", path: this.path(namespace, name) }));
    } catch (err) {
      if (isK8sStoreError(err, "K8S_NOT_FOUND")) return undefined;
      throw err;
    }
  }

  /** A list+watch cache of the ConfigMaps of a namespace (narrow it with `fieldSelector: metadata.name=…`). */
  informer(namespace: string, options: InformerOptions = {}): Informer<ConfigMapObject> {
    return new Informer(
      this.client,
      {
        resource: "configmaps",
        watchPath: this.path(namespace),
        list: async (q) =>
          listPageOf(
            await this.client.json("list", "configmaps", `list configmaps in ${namespace}`, {
              method: "GET",
              path: this.path(namespace),
              query: { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector, limit: q.limit, continue: q.continue },
            }),
          ),
        parse: parseConfigMap,
      },
      options,
    );
  }
}
