import { createServer, STATUS_CODES } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect as netConnect } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";

export interface ConnectProxyOptions {
  /** Listen address. Default `127.0.0.1`. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /**
   * Names the proxy resolves itself (name → address), e.g. the simulator's `advertisedHost` → `127.0.0.1`: a client
   * that reaches such a name can only have come through the proxy. Other names are resolved by DNS.
   */
  hosts?: Record<string, string>;
  /** Require `Proxy-Authorization: Basic` with these credentials; other CONNECTs get 407. */
  credentials?: { username: string; password: string };
  /** Serve the proxy itself over TLS (an `https://` proxy) with this key and certificate. */
  tls?: { keyPem: string; certPem: string };
}

/** One CONNECT the proxy received. */
export interface ConnectRecord {
  /** The request target, `host:port` as the client sent it. */
  target: string;
  /** What the proxy answered: 200 (tunnel opened), 407, the `refuse` status, or 502 (target unreachable). */
  status: number;
  /** The Proxy-Authorization header, when the client sent one. */
  proxyAuthorization: string | undefined;
}

export interface ConnectProxy {
  /** `http://host:port` (`https://` with `tls`) of the proxy, without credentials. */
  readonly url: string;
  readonly port: number;
  /** Every CONNECT, in order. */
  readonly connects: ConnectRecord[];
  /** Requests that were not CONNECT (a forward-proxy request, `GET http://…`), answered 405: `METHOD target`. */
  readonly requests: string[];
  /** When set, every CONNECT is answered with this status (403, 407, 502, …) and no tunnel. Settable at any time. */
  refuse: number | undefined;
  close(): Promise<void>;
}

/**
 * A small HTTP forward proxy that only tunnels (CONNECT), as corporate proxies in front of Compass do: TLS stays
 * between the client and the target, the proxy sees the target's host and port only. For tests of clients behind a
 * proxy; it records every CONNECT.
 */
export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  let closed: Promise<void> | undefined;
  const proxy: { -readonly [K in keyof ConnectProxy]: ConnectProxy[K] } = {
    url: "",
    port: 0,
    connects: [],
    requests: [],
    refuse: undefined,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const expected =
    options.credentials && `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString("base64")}`;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    proxy.requests.push(`${req.method ?? ""} ${req.url ?? ""}`);
    res.writeHead(405, { "content-type": "text/plain", connection: "close" }).end("this proxy only tunnels (CONNECT)\n");
  };
  const server = options.tls ? createTlsServer({ key: options.tls.keyPem, cert: options.tls.certPem }, onRequest) : createServer(onRequest);
  const answer = (client: Duplex, status: number, headers: string[] = []) => {
    client.end([`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`, ...headers, "content-length: 0", "connection: close", "", ""].join("\r\n"));
  };
  server.on("connection", track);
  server.on("connect", (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const target = req.url ?? "";
    const authorization = req.headers["proxy-authorization"];
    const record: ConnectRecord = { target, status: 0, proxyAuthorization: authorization };
    proxy.connects.push(record);
    client.on("error", () => undefined);
    if (expected !== undefined && authorization !== expected) {
      record.status = 407;
      answer(client, 407, ['proxy-authenticate: Basic realm="proxy"']);
      return;
    }
    if (proxy.refuse !== undefined) {
      record.status = proxy.refuse;
      answer(client, proxy.refuse);
      return;
    }
    const parsed = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
    if (!parsed) {
      record.status = 400;
      answer(client, 400);
      return;
    }
    const name = parsed[1] as string;
    const upstream: Socket = netConnect({ host: options.hosts?.[name.toLowerCase()] ?? name, port: Number(parsed[2]) });
    track(upstream);
    upstream.once("connect", () => {
      record.status = 200;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => {
      if (record.status === 0) {
        record.status = 502;
        answer(client, 502);
      } else client.destroy();
    });
    upstream.on("close", () => {
      if (record.status === 200) client.destroy();
    });
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  proxy.url = `${options.tls ? "https" : "http"}://${host}:${address.port}`;
  proxy.port = address.port;
  return proxy;
}
