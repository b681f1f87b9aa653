import { HttpMethod, IsomorphicFetchHttpLibrary, KubeConfig, RequestContext, Watch, type HttpLibrary } from "@kubernetes/client-node";
import type { Agent as HttpsAgent } from "node:https";
import { RequestCounter, type K8sVerb } from "./counter.js";
import { K8sStoreError, toK8sStoreError } from "./errors.js";
import { loadKubeConfig, type KubeConfigOptions, type KubeConfigSource } from "./kubeconfig.js";
import { keepAliveAgent, NodeHttpsLibrary, type TlsConnectOptions } from "./transport.js";

export interface K8sClientOptions extends KubeConfigOptions {
  /** Timeout of one API request (not of watches), default 30 s. */
  requestTimeoutMs?: number;
  /** Counter to record requests in; default: a new one. */
  counter?: RequestCounter;
  /**
   * Transport of ordinary requests: "node-https" (default: node:https keep-alive, HTTP/1.1, the cheapest in CPU)
   * or "undici" (client-node's own fetch). Watches always use client-node's undici fetch.
   */
  transport?: "node-https" | "undici";
  /** Allow HTTP/2 for undici requests and watches (one multiplexed connection). Default false (HTTP/1.1). */
  http2?: boolean;
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

/** Accept header for metadata-only answers (PartialObjectMetadata / PartialObjectMetadataList). */
export const ACCEPT_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/** A non-2xx answer of the lean JSON path, shaped like client-node's ApiException (see toK8sStoreError). */
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

const METHODS: Record<JsonRequest["method"], HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
};

interface Closable {
  close?: () => Promise<void> | void;
  destroy?: () => Promise<void> | void;
}

type CreateDispatcher = (cluster: unknown, agentOptions: unknown) => unknown;

/** Deep equality for dispatcher options: Buffers by content (certificates are re-read for every request). */
function sameOptions(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameOptions((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * client-node 2.0.1 builds a new undici Agent for every request (KubeConfig.applySecurityAuthentication →
 * createDispatcher), so no connection is ever reused and each request pays a TLS handshake. This keeps one
 * dispatcher per distinct TLS configuration (a rotated certificate gets a new one), so requests share a
 * keep-alive connection pool. For plain TLS connections it also keeps a node:https keep-alive Agent with the same
 * settings, which NodeHttpsLibrary uses for ordinary requests (watches keep using undici).
 */
function poolDispatchers(kc: KubeConfig, http2: boolean): { agentFor: (dispatcher: unknown) => HttpsAgent | undefined; close: () => Promise<void> } {
  const agents = new WeakMap<object, HttpsAgent>();
  const target = kc as unknown as { createDispatcher?: CreateDispatcher };
  if (!http2) {
    // client-node passes `connect` to undici's Agent, whose connector honours `allowH2` in it.
    const originalOptions = kc.createDispatcherOptions.bind(kc);
    kc.createDispatcherOptions = (cluster, agentOptions) => {
      const o = originalOptions(cluster, agentOptions);
      if ("connect" in o && o.connect !== undefined) return { ...o, connect: { ...o.connect, allowH2: false } } as unknown as typeof o;
      return o;
    };
  }
  const original = target.createDispatcher;
  if (typeof original !== "function") return { agentFor: () => undefined, close: async () => undefined };
  const pool: PoolEntry[] = [];
  target.createDispatcher = (cluster: unknown, agentOptions: unknown): unknown => {
    type Args = Parameters<KubeConfig["createDispatcherOptions"]>;
    const options = kc.createDispatcherOptions(cluster as Args[0], agentOptions as Args[1]);
    const hit = pool.find((e) => sameOptions(e.options, options));
    if (hit !== undefined) return hit.dispatcher;
    const dispatcher = original.call(kc, cluster, agentOptions);
    // Keep a few (certificate rotation); close the oldest.
    if (pool.length >= 4) {
      const old = pool.shift();
      old?.httpsAgent?.destroy();
      void closeDispatcher(old?.dispatcher);
    }
    const entry: PoolEntry = { options, dispatcher };
    if (options.type === "agent") entry.httpsAgent = keepAliveAgent(tlsOf(options.connect));
    pool.push(entry);
    if (typeof dispatcher === "object" && dispatcher !== null && entry.httpsAgent !== undefined) agents.set(dispatcher, entry.httpsAgent);
    return dispatcher;
  };
  return {
    agentFor: (d) => (typeof d === "object" && d !== null ? agents.get(d) : undefined),
    close: async () => {
      const all = pool.splice(0);
      for (const e of all) e.httpsAgent?.destroy();
      await Promise.all(all.map((e) => closeDispatcher(e.dispatcher)));
    },
  };
}

interface PoolEntry {
  options: ReturnType<KubeConfig["createDispatcherOptions"]>;
  dispatcher: unknown;
  httpsAgent?: HttpsAgent;
}

function tlsOf(connect: object): TlsConnectOptions {
  const c = connect as TlsConnectOptions;
  const out: TlsConnectOptions = {};
  for (const k of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"] as const) {
    if (c[k] !== undefined) (out as Record<string, unknown>)[k] = c[k];
  }
  return out;
}

async function closeDispatcher(d: unknown): Promise<void> {
  if (d === undefined || d === null) return;
  const c = d as Closable;
  try {
    if (typeof c.close === "function") await c.close();
  } catch {
    try {
      if (typeof c.destroy === "function") await c.destroy();
    } catch {
      // already closed
    }
  }
}

/**
 * client-node re-derives the TLS material and auth headers for every request (base64-decoding or re-reading the
 * certificate, key and CA, building dispatcher options). This reuses the result for `ttlMs` (1 s): rotated
 * tokens and certificates are still picked up within a second, at a fraction of the per-request CPU.
 */
function memoizeAuthentication(kc: KubeConfig, ttlMs: number): void {
  const original = kc.applySecurityAuthentication.bind(kc);
  let cached: { at: number; headers: Record<string, string>; dispatcher: ReturnType<RequestContext["getDispatcher"]> } | undefined;
  let pending: Promise<void> | undefined;
  kc.applySecurityAuthentication = async (ctx: RequestContext): Promise<void> => {
    if (cached === undefined || performance.now() - cached.at > ttlMs) {
      pending ??= (async () => {
        const scratch = new RequestContext(ctx.getUrl(), ctx.getHttpMethod());
        await original(scratch);
        cached = { at: performance.now(), headers: { ...scratch.getHeaders() }, dispatcher: scratch.getDispatcher() };
      })().finally(() => (pending = undefined));
      await pending;
    }
    const c = cached as NonNullable<typeof cached>;
    for (const [k, v] of Object.entries(c.headers)) ctx.setHeaderParam(k, v);
    if (c.dispatcher !== undefined) ctx.setDispatcher(c.dispatcher);
  };
}

/**
 * The store's single connection to the API server: JSON requests over client-node's kubeconfig handling
 * (authentication, TLS) with connection pooling, request counting, error mapping and per-request timeouts, and
 * client-node's Watch. Internal: the public surface is K8sStore. client-node's generated API classes and
 * ObjectSerializer are not used (they copy every object field by field, and they are most of its code).
 */
export class K8sClient {
  readonly kubeConfig: KubeConfig;
  readonly source: KubeConfigSource | "object";
  readonly server: string;
  readonly counter: RequestCounter;
  readonly requestTimeoutMs: number;
  private readonly closePool: () => Promise<void>;
  private readonly httpApi: NodeHttpsLibrary | undefined;
  private readonly jsonHttp: HttpLibrary;
  private readonly baseUrl: string;
  private closed = false;
  private fencedBecause: string | undefined;

  constructor(options: K8sClientOptions & { kubeConfig?: KubeConfig } = {}) {
    if (options.kubeConfig !== undefined) {
      this.kubeConfig = options.kubeConfig;
      this.source = "object";
      this.server = options.kubeConfig.getCurrentCluster()?.server ?? "";
    } else {
      const loaded = loadKubeConfig(options);
      this.kubeConfig = loaded.kubeConfig;
      this.source = loaded.source;
      this.server = loaded.server;
    }
    const pool = poolDispatchers(this.kubeConfig, options.http2 ?? false);
    memoizeAuthentication(this.kubeConfig, 1_000);
    this.closePool = pool.close;
    this.httpApi = (options.transport ?? "node-https") === "node-https" ? new NodeHttpsLibrary(pool.agentFor) : undefined;
    this.jsonHttp = this.httpApi ?? new IsomorphicFetchHttpLibrary();
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
      let url = `${this.baseUrl}${request.path}`;
      if (request.query !== undefined) {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(request.query)) if (v !== undefined) params.append(k, String(v));
        const qs = params.toString();
        if (qs !== "") url += `?${qs}`;
      }
      const ctx = new RequestContext(url, METHODS[request.method]);
      ctx.setHeaderParam("Accept", request.accept ?? "application/json");
      if (request.body !== undefined) {
        ctx.setHeaderParam("Content-Type", request.contentType ?? "application/json");
        ctx.setBody(typeof request.body === "string" ? request.body : JSON.stringify(request.body));
      }
      // AbortSignal.timeout takes whole milliseconds only (callers compute remaining time as fractions).
      ctx.setSignal(AbortSignal.timeout(Math.max(1, Math.ceil(request.timeoutMs ?? this.requestTimeoutMs))));
      await this.kubeConfig.applySecurityAuthentication(ctx);
      const res = await this.jsonHttp.send(ctx).toPromise();
      const text = await res.body.text();
      if (res.httpStatusCode < 200 || res.httpStatusCode > 299) throw new HttpStatusError(res.httpStatusCode, text, res.headers);
      return (text === "" ? undefined : JSON.parse(text)) as T;
    });
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

  /** A client-node Watch whose inactivity timeout is `inactivityTimeoutMs`. Each watch() call must be counted by the caller. */
  newWatch(inactivityTimeoutMs: number): Watch {
    const w = new Watch(this.kubeConfig);
    // client-node 2.x aborts a watch after 30 s without data; the API server sends bookmarks about once a
    // minute, so a quiet resource would be cut every 30 s. The field is private in the typings only.
    (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = inactivityTimeoutMs;
    return w;
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
    await this.closePool();
  }
}
