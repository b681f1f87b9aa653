import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from "node:https";
import { createSecureContext } from "node:tls";
import { IsomorphicFetchHttpLibrary, Observable, ResponseContext, type HttpLibrary, type RequestContext } from "@kubernetes/client-node";

/** TLS settings of a pooled connection (what client-node would hand to undici's connector). */
export type TlsConnectOptions = Pick<AgentOptions, "ca" | "cert" | "key" | "pfx" | "passphrase" | "rejectUnauthorized" | "servername">;

const RETRYABLE_ON_REUSED_SOCKET = new Set(["ECONNRESET", "EPIPE"]);

/**
 * A client-node HttpLibrary on node:https with a keep-alive Agent. client-node's own library (undici fetch)
 * costs about three times the CPU per request, which on a small node competes with the API server; this one
 * writes headers and body in one go. It is used when the request carries a dispatcher the store pooled for a
 * plain TLS connection (`agentFor` returns its https.Agent); anything else (proxies, plain HTTP, form bodies)
 * goes to client-node's default library. Auth headers are already on the RequestContext.
 */
export class NodeHttpsLibrary implements HttpLibrary {
  private readonly fallback = new IsomorphicFetchHttpLibrary();

  constructor(private readonly agentFor: (dispatcher: unknown) => HttpsAgent | undefined) {}

  send(ctx: RequestContext): Observable<ResponseContext> {
    const agent = this.agentFor(ctx.getDispatcher());
    const body = ctx.getBody();
    const url = new URL(ctx.getUrl());
    if (agent === undefined || url.protocol !== "https:" || (body !== undefined && typeof body !== "string")) return this.fallback.send(ctx);
    return new Observable(this.sendOnce(ctx, url, agent, body, true));
  }

  private sendOnce(ctx: RequestContext, url: URL, agent: HttpsAgent, body: string | undefined, mayRetry: boolean): Promise<ResponseContext> {
    const method = ctx.getHttpMethod();
    const headers: Record<string, string | number> = { ...ctx.getHeaders() };
    if (body !== undefined) headers["content-length"] = Buffer.byteLength(body);
    const signal = ctx.getSignal();
    return new Promise<ResponseContext>((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, agent, ...(signal !== undefined ? { signal } : {}) }, (res) => {
        // Decoded as it arrives: no chunk list and no concatenated copy (the API server answers JSON text).
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("error", reject);
        res.on("end", () => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
          resolve(
            new ResponseContext(res.statusCode ?? 0, out, {
              text: async () => text,
              binary: async () => Buffer.from(text, "utf8"),
              stream: () => new Blob([text]).stream(),
            }),
          );
        });
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        // A keep-alive connection the server closed while idle: a GET is safe to send again, once.
        if (mayRetry && req.reusedSocket && method === "GET" && err.code !== undefined && RETRYABLE_ON_REUSED_SOCKET.has(err.code)) {
          this.sendOnce(ctx, url, agent, body, false).then(resolve, reject);
          return;
        }
        reject(err);
      });
      req.end(body);
    });
  }
}

/**
 * A keep-alive https.Agent for the given TLS settings. The CA, certificate and key are parsed once into one
 * SecureContext that every connection shares (otherwise each new connection parses them again).
 */
export function keepAliveAgent(tls: TlsConnectOptions): HttpsAgent {
  const { ca, cert, key, pfx, passphrase, ...rest } = tls;
  const secureContext = createSecureContext({
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(pfx !== undefined ? { pfx } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
  });
  return new HttpsAgent({ keepAlive: true, keepAliveMsecs: 30_000, scheduling: "lifo", ...rest, secureContext });
}
