import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP } from "node:net";
import type { Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { domainToASCII } from "node:url";

/**
 * The HTTP(S) proxy a Compass client goes through: the fields of Go's `httpproxy.Config`
 * (golang.org/x/net/http/httpproxy), which Go's `http.ProxyFromEnvironment` fills from HTTPS_PROXY, HTTP_PROXY and
 * NO_PROXY. Nothing here is read from the environment: the caller decides where the values come from.
 */
export interface ProxyConfig {
  /**
   * Proxy for https:// URLs (every Compass URL), e.g. `http://proxy.corp:3128` or `http://user:password@proxy.corp:3128`
   * (sent as `Proxy-Authorization: Basic`). `http://` and `https://` proxies; without a scheme `http://` is assumed.
   * Empty or absent: https:// URLs are reached directly (as in Go, `httpProxy` is not used for them).
   */
  httpsProxy?: string | undefined;
  /** Proxy for http:// URLs, tunnelled with CONNECT as well. */
  httpProxy?: string | undefined;
  /**
   * Comma-separated hosts reached directly, as Go reads NO_PROXY: `*` (everything), a domain (`example.com`: it and
   * its subdomains), `.example.com` or `*.example.com` (subdomains only), an IP address, a CIDR range (`10.0.0.0/8`),
   * each optionally with `:port`. `localhost` and loopback addresses are always reached directly.
   */
  noProxy?: string | undefined;
}

/** `code` of the error a refused or unreachable proxy gives (as Node's own proxy support names it). */
export const PROXY_TUNNEL_ERROR_CODE = "ERR_PROXY_TUNNEL";

/** A CONNECT tunnel through the proxy could not be opened. Reaches callers as the cause of a client's error. */
class ProxyTunnelError extends Error {
  override readonly name = "ProxyTunnelError";
  readonly code = PROXY_TUNNEL_ERROR_CODE;
  constructor(
    message: string,
    /** The proxy's answer to CONNECT, when it answered. */
    readonly status: number | undefined,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

type Matcher = (host: string, port: string, ip: { address: string; family: "ipv4" | "ipv6" } | undefined) => boolean;

/** A ProxyConfig, parsed once: which proxy (if any) serves a target. */
export interface ProxySelector {
  /** The parsed proxy for https:// URLs, if any. */
  readonly httpsProxy: URL | undefined;
  /** The parsed proxy for http:// URLs, if any. */
  readonly httpProxy: URL | undefined;
  /** The proxy for a target, or undefined when the target is reached directly. */
  select(protocol: string, hostname: string, port: string | number | undefined): URL | undefined;
}

const DEFAULT_PORT: Record<string, string> = { "http:": "80", "https:": "443" };

/**
 * Parses a ProxyConfig. Throws a RangeError (which never contains the proxy's credentials) for a proxy URL that
 * does not parse or whose scheme is not http or https — where Go would silently go direct.
 */
export function proxySelector(config: ProxyConfig): ProxySelector {
  const https = parseProxyUrl(config.httpsProxy, "httpsProxy");
  const http = parseProxyUrl(config.httpProxy, "httpProxy");
  const bypass = parseNoProxy(config.noProxy ?? "");
  return {
    httpsProxy: https,
    httpProxy: http,
    select(protocol, hostname, port) {
      const proxy = protocol === "https:" ? https : protocol === "http:" ? http : undefined;
      if (proxy === undefined) return undefined;
      const p = port === undefined || port === "" ? (DEFAULT_PORT[protocol] ?? "") : String(port);
      return bypass(hostname, p) ? undefined : proxy;
    },
  };
}

/** A proxy URL as it may be shown: scheme, host and port, never the credentials. */
export function describeProxyUrl(proxy: URL | string): string {
  if (typeof proxy !== "string") return `${proxy.protocol}//${proxy.host}`;
  const text = proxy.trim();
  for (const candidate of /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? [text] : [text, `http://${text}`]) {
    try {
      const url = new URL(candidate);
      if (url.host !== "") return `${url.protocol}//${url.host}`;
    } catch {
      // the next form, or the text without what may be credentials
    }
  }
  return proxy.replace(/^.*@/, "[REDACTED]@");
}

function parseProxyUrl(value: string | undefined, name: string): URL | undefined {
  const text = value?.trim() ?? "";
  if (text === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  // As Go: "proxy.corp:3128" (which parses as scheme "proxy.corp:") or "10.0.0.1:3128" means http://.
  if ((url === undefined || url.host === "") && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      url = new URL(`http://${text}`);
    } catch {
      throw new RangeError(`${name}: ${describeProxyUrl(text)} is not a proxy URL`);
    }
  }
  if (url === undefined) throw new RangeError(`${name}: ${describeProxyUrl(text)} is not a proxy URL`);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`${name}: ${describeProxyUrl(url)} is not supported: only http:// and https:// proxies are`);
  }
  if (url.hostname === "") throw new RangeError(`${name}: ${describeProxyUrl(url)} names no host`);
  return url;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

function ipOf(host: string): { address: string; family: "ipv4" | "ipv6" } | undefined {
  const family = isIP(host);
  return family === 4 ? { address: host, family: "ipv4" } : family === 6 ? { address: host, family: "ipv6" } : undefined;
}

/** Go's httpproxy `useProxy`, negated: whether host:port is reached directly. */
function parseNoProxy(noProxy: string): (hostname: string, port: string) => boolean {
  const ipMatchers: Matcher[] = [];
  const domainMatchers: Matcher[] = [];
  let all = false;
  for (const raw of noProxy.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") {
      all = true;
      break;
    }
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    const cidrIp = cidr ? ipOf(cidr[1] as string) : undefined;
    if (cidr && cidrIp) {
      const prefix = Number(cidr[2]);
      if (prefix <= (cidrIp.family === "ipv4" ? 32 : 128)) {
        const list = new BlockList();
        list.addSubnet(cidrIp.address, prefix, cidrIp.family);
        ipMatchers.push((_host, _port, ip) => ip !== undefined && list.check(ip.address, ip.family));
      }
      continue;
    }
    // host:port or [IPv6]:port (Go's net.SplitHostPort); a bare IPv6 address has more colons and no port.
    const hostPort = /^\[([^\]]*)\]:(\d*)$/.exec(entry) ?? /^([^:]*):(\d*)$/.exec(entry);
    let host = hostPort ? (hostPort[1] as string) : entry.replace(/^\[(.*)\]$/, "$1");
    const entryPort = hostPort ? (hostPort[2] as string) : "";
    if (host === "") continue;
    const entryIp = ipOf(host);
    if (entryIp) {
      const list = new BlockList();
      list.addAddress(entryIp.address, entryIp.family);
      ipMatchers.push((_host, port, ip) => ip !== undefined && list.check(ip.address, ip.family) && (entryPort === "" || entryPort === port));
      continue;
    }
    // example.com: it and its subdomains; .example.com and *.example.com: subdomains only.
    if (host.startsWith("*.")) host = host.slice(1);
    const matchHost = !host.startsWith(".");
    if (matchHost) host = `.${host}`;
    if (/[^\x00-\x7f]/.test(host)) host = `.${domainToASCII(host.slice(1)) || host.slice(1)}`;
    const suffix = host;
    domainMatchers.push(
      (target, port) => (target.endsWith(suffix) || (matchHost && target === suffix.slice(1))) && (entryPort === "" || entryPort === port),
    );
  }
  return (hostname, port) => {
    const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
    if (host === "localhost") return true;
    const ip = ipOf(host);
    if (ip && LOOPBACK.check(ip.address, ip.family)) return true;
    if (all) return true;
    if (ip && ipMatchers.some((m) => m(host, port, ip))) return true;
    return domainMatchers.some((m) => m(host, port, ip));
  };
}

/** Percent-decoding of URL user info, as Go's url.UserPassword gives it; the raw text when it is not valid. */
function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export interface TunnelOptions {
  /** How long the proxy may take to open the TCP (and TLS) connection and answer CONNECT. */
  timeoutMs: number;
  /** For an https:// proxy: how its server certificate is checked. */
  proxyTls?: ConnectionOptions | undefined;
}

/**
 * Opens a CONNECT tunnel to host:port through the proxy and resolves with the socket, over which the caller speaks
 * TLS with the target itself: the proxy sees only the tunnel. Fails with code ERR_PROXY_TUNNEL when the proxy cannot
 * be reached or does not answer 200; the message names the proxy without its credentials.
 */
export function openTunnel(proxy: URL, host: string, port: number, options: TunnelOptions): Promise<Socket> {
  const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const shown = describeProxyUrl(proxy);
  const secure = proxy.protocol === "https:";
  const proxyHost = proxy.hostname.replace(/^\[(.*)\]$/, "$1");
  const headers: Record<string, string> = { host: authority };
  if (proxy.username !== "" || proxy.password !== "") {
    const credentials = `${decodeComponent(proxy.username)}:${decodeComponent(proxy.password)}`;
    headers["proxy-authorization"] = `Basic ${Buffer.from(credentials).toString("base64")}`;
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    // (`timer` is set right after the request is made; every event that calls this comes later.)
    const fail = (error: ProxyTunnelError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const request = (secure ? httpsRequest : httpRequest)({
      host: proxyHost,
      port: Number(proxy.port) || (secure ? 443 : 80),
      method: "CONNECT",
      path: authority,
      headers,
      agent: false,
      // The proxy's own name for SNI and the certificate check; Node would take the Host header (the target's) else.
      ...(secure ? { servername: isIP(proxyHost) === 0 ? proxyHost : "", ...options.proxyTls } : {}),
    });
    const timer = setTimeout(() => {
      request.destroy();
      fail(new ProxyTunnelError(`proxy ${shown} did not open a tunnel to ${authority} within ${options.timeoutMs} ms`, undefined));
    }, options.timeoutMs);
    request.on("connect", (response, socket, head) => {
      if (settled) {
        socket.destroy();
        return;
      }
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        socket.destroy();
        const advice = status === 407 ? " (check the proxy credentials)" : status === 403 ? " (the proxy does not allow this destination)" : "";
        fail(new ProxyTunnelError(`proxy ${shown} answered CONNECT ${authority} with HTTP ${status} ${response.statusMessage ?? ""}`.trimEnd() + advice, status));
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.on("error", (error: Error & { code?: string }) => {
      fail(new ProxyTunnelError(`cannot reach proxy ${shown} to open a tunnel to ${authority}: ${error.code ?? error.message}`, undefined, error));
    });
    request.end();
  });
}
