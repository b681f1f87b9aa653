// Reading a Compass schema: by introspection over HTTP(S) (token or client certificate), or from a file.
import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { getCACertificates } from "node:tls";
import { buildClientSchema, buildSchema, getIntrospectionQuery } from "graphql";
import type { GraphQLSchema, IntrospectionQuery } from "graphql";

/** Any failure to obtain a schema: exit code 1. */
export class SourceError extends Error {
  override readonly name = "SourceError";
}

export interface Transport {
  caFile?: string | undefined;
  insecureSkipTlsVerify?: boolean | undefined;
  /** Sent as `Connector-Token` (the Connector's token listener). */
  token?: string | undefined;
  /** Directory with key.pem and chain.pem; presented as client certificate on HTTPS. */
  certDir?: string | undefined;
  timeoutMs?: number | undefined;
}

export interface LoadedSchema {
  schema: GraphQLSchema;
  /** How the schema was read, for messages: "introspection of <url>" or "SDL file <path>". */
  origin: string;
}

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

export async function loadSchema(source: string, transport: Transport = {}): Promise<LoadedSchema> {
  if (isUrl(source)) {
    const result = await introspect(source, transport);
    return { schema: clientSchema(result, source), origin: `introspection of ${source}` };
  }
  let text: string;
  try {
    text = await readFile(source, "utf8");
  } catch (error) {
    throw new SourceError(`cannot read ${source}: ${(error as Error).message}`, { cause: error });
  }
  if (source.toLowerCase().endsWith(".json")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new SourceError(`${source}: not JSON: ${(error as Error).message}`, { cause: error });
    }
    const data = (json as { data?: unknown }).data ?? json;
    return { schema: clientSchema(data, source), origin: `introspection result ${source}` };
  }
  return { schema: sdlSchema(text, source), origin: `SDL file ${source}` };
}

export function sdlSchema(text: string, name: string): GraphQLSchema {
  try {
    return buildSchema(text);
  } catch (error) {
    throw new SourceError(`${name}: not a valid GraphQL schema: ${(error as Error).message}`, { cause: error });
  }
}

function clientSchema(data: unknown, name: string): GraphQLSchema {
  if (typeof data !== "object" || data === null || !("__schema" in data)) {
    throw new SourceError(`${name}: the answer has no data.__schema`);
  }
  try {
    return buildClientSchema(data as IntrospectionQuery);
  } catch (error) {
    throw new SourceError(`${name}: the introspection result is not a valid schema: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function readOptional(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new SourceError(`cannot read ${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** POSTs the standard introspection query and returns `data`. */
export async function introspect(url: string, transport: Transport): Promise<unknown> {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  const tlsOptions: Record<string, unknown> = {};
  if (secure) {
    tlsOptions.rejectUnauthorized = transport.insecureSkipTlsVerify !== true;
    if (transport.caFile) {
      tlsOptions.ca = [...getCACertificates("default"), await readOptional(transport.caFile, "CA file")];
    }
    if (transport.certDir) {
      tlsOptions.key = await readOptional(join(transport.certDir, "key.pem"), "client key");
      tlsOptions.cert = await readOptional(join(transport.certDir, "chain.pem"), "client certificate chain");
    }
  }
  const body = JSON.stringify({ query: getIntrospectionQuery(), operationName: "IntrospectionQuery" });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json",
    "content-length": String(Buffer.byteLength(body)),
  };
  if (transport.token) headers["connector-token"] = transport.token;
  const timeoutMs = transport.timeoutMs ?? 30_000;

  const { status, text } = await new Promise<{ status: number; text: string }>((resolvePromise, reject) => {
    const fail = (error: Error) =>
      reject(new SourceError(`${url}: ${describeNetworkError(error)}`, { cause: error }));
    const req = (secure ? httpsRequest : httpRequest)(
      target,
      { method: "POST", headers, agent: false, ...tlsOptions },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", fail);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", fail);
    req.end(body);
  });

  let json: { data?: unknown; errors?: { message?: string }[] } | undefined;
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    json = undefined;
  }
  const errors = json?.errors?.map((e) => e.message ?? JSON.stringify(e)) ?? [];
  if (status < 200 || status >= 300) {
    const detail = errors.length > 0 ? errors.join("; ") : text.slice(0, 300).trim();
    throw new SourceError(`${url}: HTTP ${status}${detail ? `: ${detail}` : ""}`);
  }
  if (!json || typeof json !== "object") throw new SourceError(`${url}: the answer is not JSON: ${text.slice(0, 300)}`);
  if (errors.length > 0 || !json.data) {
    throw new SourceError(`${url}: introspection failed: ${errors.join("; ") || "no data in the answer"}`);
  }
  return json.data;
}

const TRUST_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_UNTRUSTED",
]);

function describeNetworkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  let text = code && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
  if (code && TRUST_CODES.has(code)) text += " (trust the server's CA with --ca-file, or use --insecure-skip-tls-verify)";
  if (code === "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" || /alert (certificate required|handshake failure|bad certificate|unknown ca)/i.test(error.message)) {
    text += " (the server wants a client certificate it trusts: --cert-dir DIR with key.pem and chain.pem)";
  }
  return text;
}
