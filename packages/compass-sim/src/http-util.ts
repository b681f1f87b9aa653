/** Small HTTP helpers shared by the listeners (HTTP/1.1 and, on the TLS listeners, HTTP/2 compatibility objects). */
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { Socket } from "node:net";

export type AnyRequest = IncomingMessage | Http2ServerRequest;

/** What the listeners use of `ServerResponse` and `Http2ServerResponse` (their overloads do not unify). */
export interface AnyResponse {
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): unknown;
  end(): unknown;
  end(text: string): unknown;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  /** HTTP/2: a proxy of the session's socket. */
  readonly socket: Socket | null;
  destroy?(): void;
}

/** HTTP/2 forbids connection-specific headers (`connection`, `keep-alive`, …). */
export function isHttp2(req: AnyRequest): boolean {
  return req.httpVersionMajor === 2;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** Reads the whole body; rejects with BodyTooLargeError as soon as it passes `limit` bytes. */
export function readBody(req: AnyRequest, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (error) => {
      if (!failed) {
        failed = true;
        reject(error);
      }
    });
  });
}

export function sendJson(res: AnyResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Oathkeeper in front of Compass refusing an unauthenticated call: HTTP 400, no body, and this exact content type
 * (real Compass, connector-token-configuration-*.json).
 */
export function sendUnauthenticated(res: AnyResponse): void {
  res.writeHead(400, { "content-type": "application/json;charset=UTF-8", "content-length": 0 });
  res.end();
}

export function sendText(res: AnyResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** True for `application/json` with or without parameters (e.g. `; charset=utf-8`). */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const mediaType = header.split(";")[0]?.trim().toLowerCase();
  return mediaType === "application/json";
}

/** Makes a host usable inside a URL (IPv6 literals get brackets). */
export function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
