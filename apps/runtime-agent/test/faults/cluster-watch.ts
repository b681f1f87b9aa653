import { request } from "node:https";
import type { ClientRequest } from "node:http";
import { readKubeconfig } from "@runtime-agent/kube-testenv";
import type { KubeCredentials } from "@runtime-agent/kube-testenv";

/** One change the API server reported for a watched object (admin view, not through the fault proxy). */
export interface ClusterEvent {
  /** When the sweep received it (epoch ms). */
  at: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  kind: "Application" | "Secret";
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
}

interface WatchedObject {
  metadata: { name: string; namespace?: string; uid: string; resourceVersion: string; labels?: Record<string, string> };
}

const RESOURCES = [
  { kind: "Application" as const, path: "/apis/applicationconnector.kyma-project.io/v1alpha1/applications" },
  { kind: "Secret" as const, path: "/api/v1/namespaces/kyma-system/secrets" },
  { kind: "Secret" as const, path: "/api/v1/namespaces/istio-system/secrets" },
];

/**
 * Watches Applications and the Secrets of kyma-system and istio-system for the length of one run, so that a
 * deletion is seen the moment it happens (a poll could miss a delete-and-recreate) and can be compared with what
 * Compass assigned at that time. A watch that ends early (the API server closes watches now and then) resumes from
 * the last resourceVersion it saw.
 */
export class ClusterWatch {
  readonly events: ClusterEvent[] = [];
  readonly #creds: KubeCredentials;
  readonly #requests = new Set<ClientRequest>();
  #stopped = false;
  /** Problems of the watch itself (a gap would make the deletion check blind). */
  readonly problems: string[] = [];

  private constructor(kubeconfigPath: string) {
    this.#creds = readKubeconfig(kubeconfigPath);
  }

  static async start(kubeconfigPath: string): Promise<ClusterWatch> {
    const watch = new ClusterWatch(kubeconfigPath);
    for (const resource of RESOURCES) {
      const list = await watch.#get<{ metadata: { resourceVersion: string } }>(resource.path);
      watch.#watch(resource.kind, resource.path, list.metadata.resourceVersion);
    }
    return watch;
  }

  /** Waits until the watch has seen everything up to now: an object written after this call is seen after it. */
  async stop(): Promise<void> {
    // Give streamed events already written by the API server a moment to arrive (no event to wait for here:
    // the absence of further events is what is being observed).
    await new Promise((resolve) => setTimeout(resolve, 300));
    this.#stopped = true;
    for (const req of this.#requests) req.destroy();
  }

  #options(path: string) {
    const url = new URL(path, this.#creds.server);
    return {
      url,
      options: {
        ...(this.#creds.ca ? { ca: this.#creds.ca } : {}),
        ...(this.#creds.cert ? { cert: this.#creds.cert } : {}),
        ...(this.#creds.key ? { key: this.#creds.key } : {}),
        rejectUnauthorized: !this.#creds.insecureSkipTlsVerify,
        headers: { accept: "application/json", ...(this.#creds.token ? { authorization: `Bearer ${this.#creds.token}` } : {}) },
      },
    };
  }

  #get<T>(path: string): Promise<T> {
    const { url, options } = this.#options(path);
    return new Promise((resolve, reject) => {
      const req = request(url, { method: "GET", ...options }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(text) as T) : reject(new Error(`GET ${path}: ${res.statusCode} ${text}`))));
      });
      req.on("error", reject);
      req.end();
    });
  }

  #watch(kind: ClusterEvent["kind"], path: string, resourceVersion: string): void {
    if (this.#stopped) return;
    let last = resourceVersion;
    const { url, options } = this.#options(`${path}?watch=1&allowWatchBookmarks=false&resourceVersion=${resourceVersion}`);
    const req = request(url, { method: "GET", ...options }, (res) => {
      if (res.statusCode !== 200) {
        this.problems.push(`watch ${path}: HTTP ${res.statusCode}`);
        res.resume();
        return;
      }
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (!line.trim()) continue;
          const event = JSON.parse(line) as { type: string; object: WatchedObject & { code?: number } };
          if (event.type === "ERROR") {
            this.problems.push(`watch ${path}: ${JSON.stringify(event.object).slice(0, 200)}`);
            continue;
          }
          if (event.type !== "ADDED" && event.type !== "MODIFIED" && event.type !== "DELETED") continue;
          const meta = event.object.metadata;
          last = meta.resourceVersion;
          this.events.push({
            at: Date.now(),
            type: event.type,
            kind,
            namespace: meta.namespace ?? "",
            name: meta.name,
            uid: meta.uid,
            resourceVersion: meta.resourceVersion,
            labels: meta.labels ?? {},
          });
        }
      });
      res.on("end", () => {
        this.#requests.delete(req);
        // The API server ends watches after a while: resume where this one stopped.
        this.#watch(kind, path, last);
      });
    });
    req.on("error", (error) => {
      this.#requests.delete(req);
      if (!this.#stopped) this.problems.push(`watch ${path}: ${error.message}`);
    });
    this.#requests.add(req);
    req.end();
  }
}
