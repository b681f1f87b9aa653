import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { createSecureContext } from "node:tls";
import type { KubeTls } from "./kubeconfig.js";

/** An answer of the API server, read whole. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface SendOptions {
  method: string;
  headers: OutgoingHttpHeaders;
  body?: string | undefined;
  agent: HttpAgent;
  signal?: AbortSignal | undefined;
}

const RETRYABLE_ON_REUSED_SOCKET = new Set(["ECONNRESET", "EPIPE"]);

/**
 * A keep-alive Agent for the API server at `server` with the given TLS settings (plain HTTP for an http:// URL,
 * e.g. `kubectl proxy`). The CA, certificate and key are parsed once into one SecureContext that every connection
 * shares (otherwise each new connection parses them again).
 */
export function keepAliveAgent(server: URL, tls: KubeTls): HttpAgent {
  const options = { keepAlive: true, keepAliveMsecs: 30_000, scheduling: "lifo" as const };
  if (server.protocol === "http:") return new HttpAgent(options);
  const secureContext = createSecureContext({
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
  });
  return new HttpsAgent({
    ...options,
    secureContext,
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
  });
}

/** The response to one request, its body not read yet (watches stream it). */
export function open(url: URL, options: SendOptions, mayRetry = true): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request = url.protocol === "http:" ? httpRequest : httpsRequest;
    const headers = { ...options.headers };
    if (options.body !== undefined) headers["content-length"] = Buffer.byteLength(options.body);
    const req = request(url, { method: options.method, headers, agent: options.agent, ...(options.signal !== undefined ? { signal: options.signal } : {}) }, resolve);
    req.on("error", (err: NodeJS.ErrnoException) => {
      // A keep-alive connection the server closed while idle: a GET is safe to send again, once.
      if (mayRetry && req.reusedSocket && options.method === "GET" && err.code !== undefined && RETRYABLE_ON_REUSED_SOCKET.has(err.code)) {
        open(url, options, false).then(resolve, reject);
        return;
      }
      reject(err);
    });
    req.end(options.body);
  });
}

/** One request, its answer read whole as text (the API server answers JSON). */
export async function send(url: URL, options: SendOptions): Promise<HttpAnswer> {
  const res = await open(url, options);
  return new Promise<HttpAnswer>((resolve, reject) => {
    // The chunks stay Buffers (outside the JS heap) and are decoded once at the end: decoding each chunk and
    // joining the pieces would put a large list on the heap twice.
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("error", reject);
    res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: flatHeaders(res), text: (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8") }));
  });
}

function flatHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}
