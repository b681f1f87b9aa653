import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { createSecureServer } from "node:http2";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import type { Server, TLSSocket } from "node:tls";
import type { ServerTls } from "./tls-fixtures.js";

/** What the client negotiates: HTTP/1.1 only (node:https), or h2 by ALPN with HTTP/1.1 allowed (node:http2). */
export type Protocol = "http/1.1" | "h2";

/** The part of a request a script needs; node:http's and node:http2's compatibility objects both have it. */
export interface LoopbackRequest {
  headers: IncomingHttpHeaders;
  httpVersion: string;
  socket: { destroy(): void };
}

export interface LoopbackResponse {
  writeHead(status: number, headers?: OutgoingHttpHeaders): this;
  end(): this;
  end(body: string): this;
}

export type Handler = (req: LoopbackRequest, body: string, res: LoopbackResponse) => void;

export interface SeenRequest {
  headers: IncomingHttpHeaders;
  httpVersion: string;
  body: string;
}

export interface LoopbackServerOptions {
  protocol: Protocol;
  tls: ServerTls;
  /** PEM of the CA client certificates must chain to; with it, the handshake requires a client certificate. */
  clientCaPem?: string | undefined;
}

/**
 * A loopback HTTPS server (real sockets, real TLS) that answers each request with whatever the current `handler`
 * scripts, over HTTP/1.1 or HTTP/2.
 */
export class LoopbackServer {
  handler: Handler = (_req, _body, res) => res.end();
  readonly seen: SeenRequest[] = [];
  url = "";
  readonly #server: Server;
  readonly #sockets = new Set<TLSSocket>();

  constructor(options: LoopbackServerOptions) {
    const tls = {
      key: options.tls.keyPem,
      cert: options.tls.certPem,
      ...(options.clientCaPem ? { ca: options.clientCaPem, requestCert: true, rejectUnauthorized: true } : {}),
    };
    const listener = (req: LoopbackRequest & Readable, res: LoopbackResponse): void => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        this.seen.push({ headers: req.headers, httpVersion: req.httpVersion, body });
        this.handler(req, body, res);
      });
    };
    this.#server = options.protocol === "h2" ? createSecureServer({ ...tls, allowHTTP1: true }, listener) : createServer(tls, listener);
    this.#server.on("secureConnection", (socket: TLSSocket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  async start(path: string): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

export function json(status: number, payload: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, _body, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(payload));
  };
}

/** Real Compass's answer to an unauthenticated Connector call (both listeners). */
export const notAuthenticated: Handler = (_req, _body, res) => {
  res.writeHead(400, { "content-type": "application/json;charset=UTF-8", "content-length": "0" });
  res.end();
};
