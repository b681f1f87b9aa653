import { channel } from "node:diagnostics_channel";
import { connect as http2Connect, constants as http2Constants, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { isIP, type Socket } from "node:net";
import type { Duplex, Readable } from "node:stream";
import { connect as tlsConnect, createSecureContext, getCACertificates, type ConnectionOptions, type SecureContext, type TLSSocket } from "node:tls";
import { openTunnel, PROXY_TUNNEL_ERROR_CODE, proxySelector } from "./proxy.js";
import type { ProxyConfig, ProxySelector } from "./proxy.js";

/** How a Compass client decides whether to trust Compass's server certificate. */
export interface TlsTrust {
  /** PEM bundle trusted in addition to the system roots and NODE_EXTRA_CA_CERTS. */
  caPem?: string | undefined;
  /** Turns server certificate verification off. Only for tests and explicit operator opt-in. */
  insecureSkipTlsVerify?: boolean | undefined;
}

/** The client certificate a runtime presents over mTLS. */
export interface ClientCertificate {
  /** Private key, PEM (PKCS#1 or PKCS#8). */
  keyPem: string;
  /** Client certificate first, then its issuers, PEM. */
  certificateChainPem: string;
}

export interface CompassTransportOptions {
  tls?: TlsTrust | undefined;
  clientCertificate?: ClientCertificate | undefined;
  /** TCP + TLS connect timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept (default 10 s). */
  keepAliveTimeoutMs?: number;
  /**
   * HTTP(S) proxy, as Go's HTTPS_PROXY / HTTP_PROXY / NO_PROXY (see ProxyConfig). Through it, each connection is a
   * CONNECT tunnel in which TLS (client certificate, ALPN/HTTP/2) runs between this client and Compass.
   */
  proxy?: ProxyConfig | undefined;
}

/** What a call sends: a GraphQL POST (see graphql-http.ts). */
export interface CompassRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** The answer's body: its chunks as they arrive, or cancelled. */
export interface CompassResponseBody extends AsyncIterable<Uint8Array> {
  cancel(): Promise<void>;
}

/** An answer of Compass, its body not read yet (the Director streams it into its digest). */
export interface CompassResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: CompassResponseBody;
  text(): Promise<string>;
}

/**
 * Diagnostics channel with one message per new TLS connection to Compass: `{ socket, host, port }` (through a proxy,
 * the socket inside the tunnel). For tests and tracing; publishing costs nothing without subscribers.
 */
export const CONNECTED_CHANNEL = "runtime-agent:compass-transport:connected";
const connectedChannel = channel(CONNECTED_CHANNEL);

/** How requests reach an origin: its HTTP/2 session, or HTTP/1.1 over the keep-alive Agent. */
type Route = { kind: "h2"; session: ClientHttp2Session } | { kind: "http1"; firstSocket?: Socket | undefined };

/** The TLS settings and connections of one client certificate: replaced as a whole when the certificate changes. */
interface Generation {
  tls: ConnectionOptions;
  routes: Map<string, Promise<Route>>;
  http1: HttpsAgent;
}

/**
 * HTTPS to Compass over node:https and node:http2: HTTP/2 when the server offers it by ALPN (real Compass's ingress
 * does; one multiplexed session per origin), HTTP/1.1 with keep-alive otherwise. The client certificate can be
 * replaced after a renewal: new calls use new connections at once, while calls already under way finish on the old
 * ones, which then close. A session that fails, closes or is told to go away is dropped, and the next call connects
 * again, so the server's verdict (a refused certificate, say) is heard again and a fixed server is reached at once.
 *
 * Failures look like fetch's: a network-level one is `TypeError("fetch failed", { cause })`, an aborted call throws
 * the signal's reason, so the clients' error mapping (classifyTransportError) sees the socket's own error codes.
 */
export class CompassTransport {
  readonly #options: CompassTransportOptions;
  readonly #proxy: ProxySelector | undefined;
  #generation: Generation;
  #closed = false;
  #lastTlsAlert: { error: Error; at: number } | undefined;

  constructor(options: CompassTransportOptions = {}) {
    this.#options = options;
    this.#proxy = options.proxy ? proxySelector(options.proxy) : undefined;
    this.#generation = this.#newGeneration(options.clientCertificate);
  }

  get hasClientCertificate(): boolean {
    return this.#options.clientCertificate !== undefined;
  }

  /** Swap the client certificate without dropping in-flight calls. */
  setClientCertificate(clientCertificate: ClientCertificate): void {
    if (this.#closed) throw new Error("CompassTransport is closed");
    this.#options.clientCertificate = clientCertificate;
    const previous = this.#generation;
    this.#generation = this.#newGeneration(clientCertificate);
    retire(previous, false);
  }

  /** One request; see the class comment for how failures look. */
  readonly fetch = async (input: URL | string, init: CompassRequestInit = {}): Promise<CompassResponse> => {
    const url = typeof input === "string" ? new URL(input) : input;
    const signal = init.signal;
    signal?.throwIfAborted();
    if (this.#closed) throw new TypeError("fetch failed", { cause: new Error("CompassTransport is closed") });
    // Compass is served over HTTPS only (the clients check the URLs Compass hands out, the agent its configured one).
    if (url.protocol !== "https:") throw new TypeError("fetch failed", { cause: new Error(`${url.protocol} URLs are not supported, only https:`) });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value;
    if (init.body !== undefined) headers["content-length"] = String(Buffer.byteLength(init.body));
    const method = init.method ?? "GET";
    const generation = this.#generation;
    const origin = url.origin;
    let route: Route;
    try {
      route = await abortable(this.#route(generation, url), signal);
    } catch (error) {
      throw asFetchFailure(error, signal);
    }
    try {
      if (route.kind === "h2") return await abortable(h2Request(route.session, url, method, headers, init.body, signal), signal);
      const firstSocket = route.firstSocket;
      route.firstSocket = undefined;
      return await abortable(http1Request(url, method, headers, init.body, signal, firstSocket === undefined ? { agent: generation.http1 } : { createConnection: () => firstSocket }), signal);
    } catch (error) {
      // A session that failed is not used again; the next call connects anew.
      if (route.kind === "h2" && (route.session.destroyed || route.session.closed)) forget(generation, origin, route);
      throw asFetchFailure(error, signal);
    }
  };

  /**
   * Like classifyTransportError, but also knows about TLS alerts this transport's sockets received lately: a server
   * that refuses our client certificate after a TLS 1.3 handshake sends an alert, and the request that was under way
   * may see only a reset or a closed session.
   */
  explainFailure(error: unknown): { kind: TransportFailureKind; detail: string } {
    const explained = classifyTransportError(error);
    const alert = this.#lastTlsAlert;
    if (explained.kind === "unavailable" && alert && Date.now() - alert.at < 5_000 && /ECONNRESET|ERR_HTTP2_|socket hang up|closed/.test(explained.detail)) {
      const code = (alert.error as { code?: string }).code ?? "TLS";
      return { kind: "tls", detail: `${code}: ${alert.error.message.split("\n")[0]} (${explained.detail})` };
    }
    return explained;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    retire(this.#generation, true);
  }

  #newGeneration(clientCertificate: ClientCertificate | undefined): Generation {
    const tls = this.#options.tls ?? {};
    const key = clientCertificate ? { key: clientCertificate.keyPem, cert: clientCertificate.certificateChainPem } : {};
    // One TLS context for every connection: given raw options, Node builds a context (and parses the trust) for each
    // new socket.
    const connectionTls: ConnectionOptions = {
      rejectUnauthorized: tls.insecureSkipTlsVerify !== true,
      ...(sharedSecureContext(tls.caPem || undefined, key) ?? { ...trustOptions(tls.caPem), ...key }),
    };
    const connect = (host: string, port: number) => this.#connect(generation, host, port, ["http/1.1"]);
    const http1 = new (class extends HttpsAgent {
      // The Agent's own TLS is bypassed: each socket is this transport's connection (proxy tunnel, shared context).
      override createConnection(options: RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): undefined {
        connect(options.host ?? "localhost", Number(options.port) || 443).then(
          (socket) => callback?.(null, socket),
          (error: Error) => callback?.(error, undefined as unknown as Duplex),
        );
        return undefined;
      }
    })({ keepAlive: true, timeout: this.#options.keepAliveTimeoutMs ?? 10_000, scheduling: "lifo" });
    const generation: Generation = { tls: connectionTls, routes: new Map(), http1 };
    return generation;
  }

  /** The route to the URL's origin: the cached one, or a new connection whose ALPN answer decides. */
  #route(generation: Generation, url: URL): Promise<Route> {
    const cached = generation.routes.get(url.origin);
    if (cached !== undefined) return cached;
    const port = Number(url.port) || 443;
    const route = this.#connect(generation, url.hostname, port, ["h2", "http/1.1"]).then((socket): Route => {
      if (socket.alpnProtocol !== "h2") return { kind: "http1", firstSocket: socket };
      const session = http2Connect(url.origin, { createConnection: () => socket });
      const h2: Route = { kind: "h2", session };
      session.on("error", () => forget(generation, url.origin, h2));
      session.on("goaway", () => forget(generation, url.origin, h2));
      session.on("close", () => forget(generation, url.origin, h2));
      // An idle session closes after the keep-alive timeout, and never keeps the process alive by itself.
      session.setTimeout(this.#options.keepAliveTimeoutMs ?? 10_000, () => session.close());
      session.unref();
      return h2;
    });
    generation.routes.set(url.origin, route);
    route.catch(() => generation.routes.get(url.origin) === route && generation.routes.delete(url.origin));
    return route;
  }

  /** A TLS connection to host:port, through a CONNECT tunnel when the proxy settings say so, within the connect timeout. */
  async #connect(generation: Generation, host: string, port: number, alpn: string[]): Promise<TLSSocket> {
    const timeoutMs = this.#options.connectTimeoutMs ?? 10_000;
    const proxy = this.#proxy?.select("https:", host, String(port));
    // An https:// proxy's certificate is checked with the trust used for Compass, as Go's transport does.
    const proxyTls = proxy && { ...trustOptions(this.#options.tls?.caPem), rejectUnauthorized: generation.tls.rejectUnauthorized !== false };
    const tunnel = proxy === undefined ? undefined : await openTunnel(proxy, host, port, { timeoutMs, proxyTls });
    return new Promise<TLSSocket>((resolve, reject) => {
      const socket = tlsConnect({
        ...generation.tls,
        ...(tunnel !== undefined ? { socket: tunnel } : { host, port }),
        servername: isIP(host) === 0 ? host : "",
        ALPNProtocols: alpn,
      });
      const timer = setTimeout(() => {
        const error = Object.assign(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`), { code: "ETIMEDOUT" });
        socket.destroy(error);
      }, timeoutMs);
      socket.on("error", (error: Error & { code?: string }) => {
        if (error.code && TLS_CODE.test(error.code)) {
          this.#lastTlsAlert = { error, at: Date.now() };
          generation.routes.clear(); // the next call hears the server's verdict on a new connection
        }
      });
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        if (connectedChannel.hasSubscribers) connectedChannel.publish({ socket, host, port });
        resolve(socket);
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }
}

/** Closes a generation's connections: at once (close()), or once the calls under way have finished. */
function retire(generation: Generation, now: boolean): void {
  for (const route of generation.routes.values()) {
    route.then(
      (r) => {
        if (r.kind === "h2") r.session.close();
        else r.firstSocket?.destroy();
      },
      () => undefined,
    );
  }
  generation.routes.clear();
  if (now) generation.http1.destroy();
  // Otherwise the HTTP/1.1 sockets close when idle (the Agent's keep-alive timeout).
}

function forget(generation: Generation, origin: string, route: Route): void {
  const cached = generation.routes.get(origin);
  if (cached === undefined) return;
  cached.then(
    (r) => {
      if (r === route && generation.routes.get(origin) === cached) generation.routes.delete(origin);
    },
    () => undefined,
  );
}

/** The promise, or the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** The signal's reason when it aborted the call; otherwise fetch's shape of a network failure. */
function asFetchFailure(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && error === signal.reason) return error;
  if (error instanceof TypeError && error.message === "fetch failed") return error;
  return new TypeError("fetch failed", { cause: error });
}

/** Streams under way per session: a session with none may not keep the process alive. */
const openStreams = new WeakMap<ClientHttp2Session, number>();

function h2Request(session: ClientHttp2Session, url: URL, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal | undefined): Promise<CompassResponse> {
  return new Promise<CompassResponse>((resolve, reject) => {
    openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
    session.ref();
    const stream = session.request({ ":method": method, ":path": `${url.pathname}${url.search}`, ...headers });
    const onAbort = () => stream.close(http2Constants.NGHTTP2_CANCEL);
    signal?.addEventListener("abort", onAbort, { once: true });
    stream.on("close", () => {
      signal?.removeEventListener("abort", onAbort);
      const open = (openStreams.get(session) ?? 1) - 1;
      openStreams.set(session, open);
      if (open === 0 && !session.destroyed) session.unref();
    });
    let answered = false;
    stream.once("error", reject);
    stream.once("response", (responseHeaders) => {
      answered = true;
      stream.off("error", reject);
      resolve(compassResponse(Number(responseHeaders[":status"]), responseHeaders, stream));
    });
    // A session the server destroys closes its streams without an error event.
    stream.once("close", () => {
      if (!answered) reject(Object.assign(new Error(`the HTTP/2 stream closed before an answer (code ${stream.rstCode})`), { code: "ERR_HTTP2_STREAM_CLOSED" }));
    });
    stream.end(body);
  });
}

function http1Request(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal | undefined,
  connection: { agent: HttpsAgent } | { createConnection: () => Socket },
): Promise<CompassResponse> {
  return new Promise<CompassResponse>((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, ...connection, ...(signal !== undefined ? { signal } : {}) }, (res) => {
      resolve(compassResponse(res.statusCode ?? 0, res.headers, res));
    });
    req.once("error", reject);
    req.end(body);
  });
}

/** The CompassResponse of a status, headers and a body stream (an HTTP/2 stream or an IncomingMessage). */
function compassResponse(status: number, raw: IncomingHttpHeaders, stream: Readable): CompassResponse {
  // An error after the headers surfaces where the body is read; until then it must not be unhandled.
  stream.on("error", () => undefined);
  const headers = {
    get(name: string): string | null {
      const value = raw[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : String(value);
    },
  };
  const body: CompassResponseBody = {
    async *[Symbol.asyncIterator]() {
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } catch (error) {
        throw new TypeError("terminated", { cause: error });
      }
    },
    cancel: async () => {
      stream.destroy();
    },
  };
  return {
    status,
    headers,
    body,
    text: async () => {
      const parts: Buffer[] = [];
      for await (const chunk of body) parts.push(chunk as Buffer);
      return Buffer.concat(parts).toString("utf8");
    },
  };
}

/** Raw TLS options trusting Node's default roots and `caPem` (each use parses them all again; see sharedSecureContext). */
function trustOptions(caPem: string | undefined): { ca?: string[] } {
  return caPem ? { ca: [...getCACertificates("default"), caPem] } : {};
}

/**
 * The TLS context for the client certificate, trusting Node's default roots and `caPem`; undefined when there is
 * nothing to set (Node's defaults) or Node refuses the key or certificate (a corrupt key, say): the connections then
 * get the raw options and fail one by one, with the error a call reports. The default roots are Node's own store,
 * parsed once per process and shared; `caPem` is added to this context alone. (Passing them all as `ca` would parse
 * the 140-odd roots again for every context: about 2 MB of memory each.)
 */
function sharedSecureContext(caPem: string | undefined, key: { key?: string; cert?: string }): { secureContext: SecureContext } | undefined {
  if (caPem === undefined && key.key === undefined) return undefined;
  try {
    const secureContext = createSecureContext(key);
    // `context` is Node's native context: addCACert is what createSecureContext itself calls for each `ca` entry.
    if (caPem !== undefined) (secureContext.context as { addCACert(pem: string): void }).addCACert(caPem);
    return { secureContext };
  } catch {
    return undefined;
  }
}

/** `proxy`: the HTTP(S) proxy refused the tunnel or could not be reached (nothing reached Compass). */
export type TransportFailureKind = "tls" | "unavailable" | "proxy";

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;
const TLS_MESSAGE = /(alert|certificate|handshake|ssl|tls)/i;

/**
 * Sorts a network-level failure (`TypeError: fetch failed` and its causes) into a TLS problem,
 * which retrying cannot fix, an unavailable peer, which it can, or a proxy that refused or could not be reached.
 */
export function classifyTransportError(error: unknown): { kind: TransportFailureKind; detail: string } {
  const details: string[] = [];
  let kind: TransportFailureKind = "unavailable";
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    const message = current instanceof Error ? current.message : String(current);
    if (typeof code === "string") {
      details.push(`${code}: ${message}`);
      if (code === PROXY_TUNNEL_ERROR_CODE) kind = "proxy";
      else if (TLS_CODE.test(code) && kind !== "proxy") kind = "tls";
    } else if (message && message !== "fetch failed") {
      details.push(message);
      if (TLS_MESSAGE.test(message) && !/ECONN|socket hang up|other side closed/i.test(message) && kind !== "proxy") kind = "tls";
    }
    current = (current as { cause?: unknown }).cause;
  }
  return { kind, detail: details.join(" <- ") || String(error) };
}

/** Parses an HTTP Retry-After header (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
