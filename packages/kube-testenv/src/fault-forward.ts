/**
 * The HTTP plumbing of the fault proxy: forwarding one request to the API server and streaming the answer
 * back unbuffered, answering locally, cutting the connection. No rules here (see fault-proxy.ts).
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { request, type Agent } from "node:https";
import type { Fault, ProxiedRequest } from "./fault-rules.js";

/** A ProxiedRequest as the proxy writes it. */
export type Entry = { -readonly [K in keyof ProxiedRequest]: ProxiedRequest[K] };

// RFC 9110 §7.6.1: these describe one connection, not the message; a proxy must not pass them on.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function endToEnd(headers: IncomingHttpHeaders, drop: string[] = []): OutgoingHttpHeaders {
  const listed = String(headers.connection ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase());
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.includes(name) || drop.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Answers from the proxy itself (JSON unless the headers say otherwise). */
export function answer(
  res: ServerResponse,
  entry: Entry,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    ...headers,
  });
  entry.status = status;
  res.end(payload);
}

/**
 * Ends the client's connection without an answer. A plain destroy (TCP FIN, no TLS close_notify): the client
 * sees the connection end mid-request ("socket hang up", ECONNRESET, Go's "EOF"), as when a proxy or node dies.
 */
export function cut(req: IncomingMessage): void {
  req.socket.destroy();
}

export interface Upstream {
  hostname: string;
  port: number;
  /** TLS to the API server: its CA, and the client certificate of the caller's identity when it has one. */
  agent: Agent;
}

/**
 * Forwards the request to the API server with the client's headers (Authorization included) and streams the
 * answer back as it comes: a watch's events reach the client one by one. With `cutOnAnswer`, the answer is
 * swallowed and the client's connection cut once the API server has answered (reset-after-forward).
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  entry: Entry,
  to: Upstream,
  cutOnAnswer: boolean,
): void {
  entry.forwarded = true;
  // Host is dropped so Node sets the API server's; the rest (Authorization, Content-Type, Accept, ...) passes.
  const up = request({
    protocol: "https:",
    hostname: to.hostname,
    port: to.port,
    method: req.method,
    path: req.url,
    headers: endToEnd(req.headers, ["host"]),
    agent: to.agent,
  });
  let clientGone = false;
  // The client went away (gave up, or a fault cut it): drop the upstream request too, as a real
  // disconnect would, so a watch behind it ends on the API server.
  res.once("close", () => {
    if (!res.writableFinished) {
      clientGone = true;
      up.destroy();
    }
  });
  up.on("response", (ur) => {
    entry.upstreamStatus = ur.statusCode;
    if (cutOnAnswer) {
      ur.resume();
      cut(req);
      return;
    }
    const status = ur.statusCode ?? 502;
    res.writeHead(status, ur.statusMessage, endToEnd(ur.headers));
    entry.status = status;
    // Send the head now, not with the first body chunk: a watch's first event may come much later, and
    // clients treat the head as "the watch is established".
    res.flushHeaders();
    ur.pipe(res);
    // The API server broke off mid-answer: the client must see a cut, not a short but complete answer.
    ur.on("error", () => undefined); // reported through 'close' below
    ur.once("close", () => {
      if (!ur.complete) res.destroy();
    });
  });
  up.on("error", (err) => {
    if (clientGone) return; // our own destroy(), not the API server's fault
    entry.error = err.message;
    if (res.headersSent) res.destroy();
    else answer(res, entry, 502, badGateway(err.message));
  });
  req.pipe(up);
}

function badGateway(message: string): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `kube-testenv fault proxy: cannot reach the API server: ${message}`,
    reason: "ServiceUnavailable",
    code: 502,
  };
}

/** The request log entry of a request that just arrived. */
export function newEntry(seq: number, req: IncomingMessage): Entry {
  return {
    seq,
    method: req.method ?? "GET",
    path: req.url ?? "/",
    status: undefined,
    fault: undefined as Fault | undefined,
    forwarded: false,
    upstreamStatus: undefined,
    state: "open",
    error: undefined,
  };
}
