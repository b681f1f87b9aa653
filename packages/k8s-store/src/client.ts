import type { IncomingMessage } from "node:http";
import { Authenticator } from "./auth.js";
import { RequestCounter, type K8sVerb } from "./counter.js";
import { K8sStoreError, toK8sStoreError } from "./errors.js";
import { loadKubeConfig, type KubeConfigOptions, type KubeConfigSource } from "./kubeconfig.js";
import { open, send } from "./transport.js";
import { watch, type WatchEventHandler } from "./watch.js";

export interface K8sClientOptions extends KubeConfigOptions {
  /** Timeout of one API request (not of watches), default 30 s. */
  requestTimeoutMs?: number;
  /** Counter to record requests in; default: a new one. */
  counter?: RequestCounter;
}

/** A request of the lean JSON path (see K8sClient.json). */
export interface JsonRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path below the server URL, e.g. `/api/v1/namespaces/kyma-system/secrets`. */
  path: string;
  /** Query parameters; undefined ones are left out. */
  query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Sent as JSON (a string is sent as it is). */
  body?: unknown;
  /** Content-Type of the body, default application/json. */
  contentType?: string;
  /** Accept header, default application/json. */
  accept?: string;
  /** Request timeout override. */
  timeoutMs?: number;
  /**
   * Send this write even when the client is fenced. Only for the leader elector's Lease writes: they decide who
   * may write, and a leader that stops must still hand its Lease back.
   */
  unfenced?: boolean;
}

/** Accept header for metadata-only answers of lists (PartialObjectMetadataList). */
export const ACCEPT_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
/** Accept header for metadata-only objects, also the objects of a watch's events (PartialObjectMetadata). */
export const ACCEPT_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** A non-2xx answer of the JSON path (see toK8sStoreError). */
class HttpStatusError extends Error {
  override readonly name = "HttpStatusError";
  constructor(
    readonly code: number,
    readonly body: string,
    readonly headers: Record<string, string>,
  ) {
    super(`HTTP ${code}`);
  }
}

/**
 * The store's single connection to the API server: JSON requests with the kubeconfig's authentication and TLS over
 * node:https keep-alive connections, request counting, error mapping and per-request timeouts, and watches.
 * Internal: the public surface is K8sStore. No Kubernetes client library: the store sends a handful of request
 * shapes, and a general client (@kubernetes/client-node with its generated API, models and undici) cost the agent
 * about 10 MB of memory for code it never ran.
 */
export class K8sClient {
  readonly source: KubeConfigSource;
  readonly server: string;
  readonly counter: RequestCounter;
  readonly requestTimeoutMs: number;
  private readonly auth: Authenticator;
  private readonly baseUrl: string;
  private closed = false;
  private fencedBecause: string | undefined;

  constructor(options: K8sClientOptions = {}) {
    const loaded = loadKubeConfig(options);
    this.source = loaded.source;
    this.server = loaded.server;
    this.auth = new Authenticator(loaded);
    this.baseUrl = this.server.replace(/\/+$/, "");
    this.counter = options.counter ?? new RequestCounter();
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /**
   * Runs one API request: authentication from the kubeconfig, the pooled connection, the timeout; the body is sent
   * and read as plain JSON. Counts it under `verb`/`resource` and maps any failure to a K8sStoreError whose
   * message starts with `operation`. Returns the parsed answer (undefined for an empty body).
   */
  async json<T = unknown>(verb: K8sVerb, resource: string, operation: string, request: JsonRequest): Promise<T> {
    // Every request of the store passes here (watches are GETs): the one place where a write can be stopped before
    // it is sent. A fenced write is not a request, so the counter does not see it.
    if (this.fencedBecause !== undefined && request.method !== "GET" && request.unfenced !== true) {
      throw new K8sStoreError("K8S_FENCED", `${operation}: not sent: ${this.fencedBecause} (writes are fenced)`);
    }
    return this.measure(verb, resource, operation, async () => {
      const headers: Record<string, string> = { accept: request.accept ?? "application/json" };
      const body = request.body === undefined ? undefined : typeof request.body === "string" ? request.body : JSON.stringify(request.body);
      if (body !== undefined) headers["content-type"] = request.contentType ?? "application/json";
      const { headers: authHeaders, agent } = await this.auth.current();
      // AbortSignal.timeout takes whole milliseconds only (callers compute remaining time as fractions).
      const signal = AbortSignal.timeout(Math.max(1, Math.ceil(request.timeoutMs ?? this.requestTimeoutMs)));
      const res = await send(this.url(request.path, request.query), { method: request.method, headers: { ...headers, ...authHeaders }, body, agent, signal });
      if (res.status < 200 || res.status > 299) throw new HttpStatusError(res.status, res.text, res.headers);
      return (res.text === "" ? undefined : JSON.parse(res.text)) as T;
    });
  }

  private url(path: string, query: JsonRequest["query"]): URL {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.append(k, String(v));
    return url;
  }

  private async measure<T>(verb: K8sVerb, resource: string, operation: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await fn();
      this.counter.record({ verb, resource, errorCode: undefined, durationMs: performance.now() - started });
      return result;
    } catch (err) {
      const mapped = toK8sStoreError(err, operation);
      this.counter.record({ verb, resource, errorCode: mapped.code, durationMs: performance.now() - started });
      throw mapped;
    }
  }

  /**
   * Starts a watch of `path` (see watch.ts); a watch that sees no data for `inactivityTimeoutMs` ends with a
   * TimeoutError (the API server sends bookmarks about once a minute). Each call must be counted by the caller.
   * `accept` asks for another form of the events' objects (ACCEPT_METADATA: metadata only).
   */
  watch(
    path: string,
    query: Readonly<Record<string, string | number | boolean | undefined>>,
    inactivityTimeoutMs: number,
    onEvent: WatchEventHandler,
    done: (err: unknown) => void,
    accept = "application/json",
  ): Promise<AbortController> {
    const openWatch = async (p: string, q: typeof query, signal: AbortSignal): Promise<IncomingMessage> => {
      const { headers, agent } = await this.auth.current();
      return open(this.url(p, q), { method: "GET", headers: { accept, ...headers }, agent, signal });
    };
    return watch(openWatch, inactivityTimeoutMs, path, query, onEvent, done);
  }

  /** Refuses every later write (except `unfenced` ones) with K8S_FENCED. One-way; the first reason is kept. */
  fence(reason: string): void {
    this.fencedBecause ??= reason;
  }

  /** The reason given to fence(), or undefined while writes are sent. */
  get fenceReason(): string | undefined {
    return this.fencedBecause;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes pooled connections. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.auth.close();
  }
}
