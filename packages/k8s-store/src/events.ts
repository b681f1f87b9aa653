import { hostname } from "node:os";
import type { K8sClient } from "./client.js";
import { isK8sStoreError } from "./errors.js";
import type { ObjectReference } from "./meta.js";

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  /**
   * Namespace of Events about cluster-scoped objects. The API server only accepts "default" (core/v1 Event
   * validation: an Event whose involvedObject has no namespace must live in "default"), which is the default.
   */
  clusterScopedNamespace?: string;
  /** `source.component` / `reportingComponent`, default compass-runtime-agent. */
  component?: string;
  /** `reportingInstance`, default POD_NAME or the hostname. */
  instance?: string;
  /** Remembered (object, type, reason, message) keys for de-duplication, default 256. */
  cacheSize?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
}

const MAX_MESSAGE = 1024;

/**
 * Records core/v1 Events. A repeat of the same (object, type, reason, message) bumps `count` and
 * `lastTimestamp` of the existing Event (one PATCH) instead of creating another, as client-go's recorder does.
 * Events about cluster-scoped objects (CompassConnection, Application) go to namespace `default`, as with
 * client-go (the API server requires it); the agent needs `events` create/patch there.
 * Messages must not contain secrets; they are truncated to 1024 characters.
 */
export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private readonly component: string;
  private readonly instance: string;
  private readonly clusterNs: string;
  private readonly now: () => Date;
  private counter = 0;

  constructor(
    private readonly client: K8sClient,
    private readonly options: EventRecorderOptions = {},
  ) {
    this.component = options.component ?? "compass-runtime-agent";
    this.instance = options.instance ?? process.env["POD_NAME"] ?? hostname();
    this.clusterNs = options.clusterScopedNamespace ?? "default";
    this.now = options.now ?? (() => new Date());
  }

  /** Records an Event; resolves to the Event's namespace/name. Rejects with K8sStoreError (callers usually log and go on). */
  async recordEvent(involvedObject: ObjectReference, type: EventType, reason: string, message: string): Promise<{ namespace: string; name: string; count: number }> {
    const namespace = involvedObject.namespace !== undefined && involvedObject.namespace !== "" ? involvedObject.namespace : this.clusterNs;
    const msg = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
    const key = JSON.stringify([involvedObject.apiVersion, involvedObject.kind, involvedObject.namespace ?? "", involvedObject.name, involvedObject.uid ?? "", type, reason, msg]);
    const now = this.now();
    const prev = this.seen.get(key);
    if (prev !== undefined) {
      const count = prev.count + 1;
      try {
        await this.client.json("patch", "events", `patch events ${prev.namespace}/${prev.name}`, {
          method: "PATCH",
          path: `/api/v1/namespaces/${encodeURIComponent(prev.namespace)}/events/${encodeURIComponent(prev.name)}`,
          body: { count, lastTimestamp: now.toISOString() },
          contentType: "application/merge-patch+json",
        });
        prev.count = count;
        this.touch(key, prev);
        return { namespace: prev.namespace, name: prev.name, count };
      } catch (err) {
        // The Event expired (TTL, default 1 h) or was deleted: create a new one.
        if (!isK8sStoreError(err, "K8S_NOT_FOUND")) throw err;
        this.seen.delete(key);
      }
    }
    const name = `${involvedObject.name}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(this.counter++ % 1_000_000)).toString(16)}`;
    const body = {
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: involvedObject.apiVersion,
        kind: involvedObject.kind,
        name: involvedObject.name,
        ...(involvedObject.namespace ? { namespace: involvedObject.namespace } : {}),
        ...(involvedObject.uid ? { uid: involvedObject.uid } : {}),
        ...(involvedObject.resourceVersion ? { resourceVersion: involvedObject.resourceVersion } : {}),
      },
      type,
      reason,
      message: msg,
      count: 1,
      firstTimestamp: now.toISOString(),
      lastTimestamp: now.toISOString(),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
    };
    await this.client.json("create", "events", `create events ${namespace}/${name}`, {
      method: "POST",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
      body: { apiVersion: "v1", kind: "Event", ...body },
    });
    this.touch(key, { namespace, name, count: 1 });
    return { namespace, name, count: 1 };
  }

  private touch(key: string, value: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, value);
    const max = this.options.cacheSize ?? 256;
    while (this.seen.size > max) {
      const oldest = this.seen.keys().next().value;
      if (oldest === undefined) break;
      this.seen.delete(oldest);
    }
  }
}
