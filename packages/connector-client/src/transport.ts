import type { Socket } from "node:net";
import { createSecureContext, getCACertificates, type SecureContext } from "node:tls";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
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

type FetchInput = Parameters<typeof undiciFetch>[0];
type FetchInit = NonNullable<Parameters<typeof undiciFetch>[1]>;

/** One undici Agent and whether one of its connections ended in a way undici does not recover from by itself. */
interface Dispatcher {
  agent: Agent;
  broken: boolean;
}

/**
 * HTTPS to Compass with one undici Agent, over HTTP/2 when the server offers it by ALPN (real Compass's ingress
 * does) and HTTP/1.1 otherwise. The client certificate can be replaced after a renewal: new calls use a new Agent at
 * once, while calls already under way finish on the old one, which is then closed.
 *
 * When a connection received a TLS alert (e.g. the server requires a client certificate we do not present) or an
 * HTTP/2 session turned out destroyed, the next call starts on a new Agent: undici would otherwise keep the dead h2
 * session and fail every later call with ERR_HTTP2_INVALID_SESSION, which looks like an outage. The new connection
 * gets the server's verdict again, so a certificate problem keeps being reported as one, and a fixed server is
 * reached at once.
 */
export class CompassTransport {
  readonly #options: CompassTransportOptions;
  readonly #proxy: ProxySelector | undefined;
  #dispatcher: Dispatcher;
  #closed = false;
  #lastTlsAlert: { error: Error; at: number } | undefined;

  constructor(options: CompassTransportOptions = {}) {
    this.#options = options;
    this.#proxy = options.proxy ? proxySelector(options.proxy) : undefined;
    this.#dispatcher = this.#buildDispatcher(options.clientCertificate);
  }

  get hasClientCertificate(): boolean {
    return this.#options.clientCertificate !== undefined;
  }

  /** Swap the client certificate without dropping in-flight calls. */
  setClientCertificate(clientCertificate: ClientCertificate): void {
    if (this.#closed) throw new Error("CompassTransport is closed");
    this.#options.clientCertificate = clientCertificate;
    this.#replaceDispatcher();
  }

  /** fetch bound to the current Agent. */
  readonly fetch = async (input: FetchInput, init: FetchInit = {}): ReturnType<typeof undiciFetch> => {
    if (this.#dispatcher.broken && !this.#closed) this.#replaceDispatcher();
    const dispatcher = this.#dispatcher;
    try {
      return await undiciFetch(input, { ...init, dispatcher: dispatcher.agent });
    } catch (error) {
      if (hasErrorCode(error, "ERR_HTTP2_INVALID_SESSION")) dispatcher.broken = true;
      throw error;
    }
  };

  /**
   * Like classifyTransportError, but also knows about TLS alerts this transport's sockets received lately.
   * Needed because a server that refuses our client certificate after a TLS 1.3 handshake sends an alert that
   * undici reports only as "other side closed".
   */
  explainFailure(error: unknown): { kind: TransportFailureKind; detail: string } {
    const explained = classifyTransportError(error);
    const alert = this.#lastTlsAlert;
    if (explained.kind === "unavailable" && alert && Date.now() - alert.at < 5_000 && /UND_ERR_SOCKET|ECONNRESET/.test(explained.detail)) {
      const code = (alert.error as { code?: string }).code ?? "TLS";
      return { kind: "tls", detail: `${code}: ${alert.error.message.split("\n")[0]} (${explained.detail})` };
    }
    return explained;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#dispatcher.agent.close();
  }

  #replaceDispatcher(): void {
    const previous = this.#dispatcher.agent;
    this.#dispatcher = this.#buildDispatcher(this.#options.clientCertificate);
    // close() waits for the requests the old agent still serves, then releases its sockets.
    previous.close().catch(() => undefined);
  }

  #buildDispatcher(clientCertificate: ClientCertificate | undefined): Dispatcher {
    const tls = this.#options.tls ?? {};
    const credentials = {
      ...(tls.caPem ? { ca: [...getCACertificates("default"), tls.caPem] } : {}),
      ...(clientCertificate ? { key: clientCertificate.keyPem, cert: clientCertificate.certificateChainPem } : {}),
    };
    const timeout = this.#options.connectTimeoutMs ?? 10_000;
    const connect = buildConnector({
      timeout,
      rejectUnauthorized: tls.insecureSkipTlsVerify !== true,
      // One TLS context for every connection of this Agent: given `ca`, Node parses the whole trust bundle (the
      // system roots and ours, about 1 MB and 10 ms) for each new socket.
      ...(sharedSecureContext(credentials) ?? credentials),
    });
    // An https:// proxy's certificate is checked with the trust used for Compass, as Go's transport does.
    const proxyTls = this.#proxy && { ...(credentials.ca ? { ca: credentials.ca } : {}), rejectUnauthorized: tls.insecureSkipTlsVerify !== true };
    const dispatcher: Dispatcher = {
      broken: false,
      agent: new Agent({
        keepAliveTimeout: this.#options.keepAliveTimeoutMs ?? 10_000,
        connect: (options, callback) => {
          const forward = (error: Error | null, socket: Socket | null) => {
            socket?.on("error", (socketError: Error & { code?: string }) => {
              if (socketError.code && TLS_CODE.test(socketError.code)) {
                this.#lastTlsAlert = { error: socketError, at: Date.now() };
                dispatcher.broken = true;
              }
            });
            // undici's callback type is a union of (error, null) and (null, socket); forward as received.
            (callback as (e: Error | null, s: Socket | null) => void)(error, socket);
          };
          const proxy = this.#proxy?.select(options.protocol, options.hostname, options.port);
          if (proxy === undefined) {
            connect(options, forward);
            return;
          }
          // Through the proxy: a CONNECT tunnel, then the same TLS handshake (SNI, trust, client certificate, ALPN)
          // over it; the proxy sees only the tunnel.
          const port = Number(options.port) || (options.protocol === "https:" ? 443 : 80);
          openTunnel(proxy, options.hostname, port, { timeoutMs: timeout, proxyTls }).then(
            (tunnel) => (options.protocol === "https:" ? connect({ ...options, httpSocket: tunnel }, forward) : forward(null, tunnel)),
            (error: Error) => forward(error, null),
          );
        },
      }),
    };
    return dispatcher;
  }
}

/** Whether `error` or one of its causes carries `code`. */
function hasErrorCode(error: unknown, code: string): boolean {
  for (let current = error, depth = 0; current !== null && typeof current === "object" && depth < 8; depth++) {
    if ((current as { code?: unknown }).code === code) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The TLS context for `credentials`, or undefined when Node refuses them (a corrupt key, say): the connections then
 * get the raw options and fail one by one, with the error a call reports, as before.
 */
function sharedSecureContext(credentials: { ca?: string[]; key?: string; cert?: string }): { secureContext: SecureContext } | undefined {
  if (credentials.ca === undefined && credentials.key === undefined) return undefined;
  try {
    return { secureContext: createSecureContext(credentials) };
  } catch {
    return undefined;
  }
}

/** `proxy`: the HTTP(S) proxy refused the tunnel or could not be reached (nothing reached Compass). */
export type TransportFailureKind = "tls" | "unavailable" | "proxy";

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;
const TLS_MESSAGE = /(alert|certificate|handshake|ssl|tls)/i;

/**
 * Sorts a network-level failure (undici's `TypeError: fetch failed` and its causes) into a TLS problem,
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
