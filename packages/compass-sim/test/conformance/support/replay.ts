/**
 * Replays one recorded exchange against the simulator, over real sockets, as the recording did: one node:https
 * request per exchange on a new TLS connection (HTTP/1.1), `ca` = the server CA, on mTLS `cert` = the certificate
 * chain + `key`. Volatile request values are the simulator's own: tokens it issued, CSRs made here with openssl for
 * the subject the fixture names, certificates it issued earlier in the replay.
 */
import { connect, constants as http2 } from "node:http2";
import { readFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import type { CompassSimulator } from "../../../src/index.js";
import { httpCall, opensslCsr, opensslSubject, run } from "../../support/tools.js";
import { Bindings, compareJson } from "./compare.js";
import type { FixtureExchange, JsonValue, TlsRefusal } from "./fixture-types.js";

export interface ClientCertificate {
  chainPem: string;
  keyPem: string;
}

export interface ReplayContext {
  sim: CompassSimulator;
  bindings: Bindings;
  /** Certificates by role (README "Certificates, by role"), learned during the replay. */
  certificates: Map<string, ClientCertificate>;
  /** Scratch folder for openssl's keys and CSRs. */
  dir: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function deepResolve(value: JsonValue, bindings: Bindings): JsonValue {
  if (typeof value === "string") return bindings.resolve(value);
  if (Array.isArray(value)) return value.map((item) => deepResolve(item, bindings));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, deepResolve(item, bindings)]));
  }
  return value;
}

/** Makes the exchange's CSRs; binds `{{csr:N}}` to what the request sends and returns each CSR's key file. */
async function makeCsrs(context: ReplayContext, exchange: FixtureExchange): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const [name, spec] of Object.entries(exchange.csrs ?? {})) {
    const csr = await opensslCsr(context.dir, context.bindings.resolve(spec.subject), { newkey: spec.key });
    context.bindings.bind(name, spec.encoding === "base64" ? csr.csrArgument : csr.csrPem);
    keys.set(name, csr.keyPath);
  }
  return keys;
}

/** A certificate with cert A's subject that the client CA did not issue. */
async function selfSignedLikeA(context: ReplayContext): Promise<ClientCertificate> {
  const keyPath = join(context.dir, "self-signed.key");
  const certPath = join(context.dir, "self-signed.crt");
  const subject = `O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=${context.bindings.resolve("{{cn:1}}")}`;
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", keyPath, "-out", certPath, "-subj", opensslSubject(subject)]);
  return { chainPem: await readFile(certPath, "utf8"), keyPem: await readFile(keyPath, "utf8") };
}

async function clientCertificate(context: ReplayContext, role: FixtureExchange["request"]["clientCert"]): Promise<ClientCertificate | undefined> {
  if (role === undefined || role === "none") return undefined;
  if (role === "self-signed-A") return selfSignedLikeA(context);
  const certificate = context.certificates.get(role);
  if (!certificate) throw new Error(`certificate ${role} is not available: the exchange that issues it failed`);
  return certificate;
}

interface ClientTls {
  ca: string;
  cert?: ClientCertificate;
  maxVersion?: "TLSv1.2" | "TLSv1.3";
}

function send(url: string, method: string, headers: Record<string, string>, body: string, tls: ClientTls): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        headers: { ...headers, ...(body !== "" ? { "content-length": String(Buffer.byteLength(body)) } : {}) },
        agent: false,
        ca: tls.ca,
        ...(tls.cert ? { cert: tls.cert.chainPem, key: tls.cert.keyPem } : {}),
        ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body === "" ? undefined : body);
  });
}

/** The admin view of the runtime (README: the Director's own port with an admin JWT), from the simulator's state. */
async function adminRuntimeView(sim: CompassSimulator, body: JsonValue): Promise<Answer> {
  const id = (body as { variables: { id: string } }).variables.id;
  const state = (await httpCall(`${sim.adminUrl}/admin/state`, { method: "GET" })).json;
  const runtime = state.runtimes.find((candidate: { id: string }) => candidate.id === id);
  const auths = state.systemAuths.filter((auth: { refType: string; refId: string }) => auth.refType === "Runtime" && auth.refId === id);
  const view = runtime
    ? {
        id: runtime.id,
        name: runtime.name,
        labels: runtime.labels,
        status: { condition: runtime.status.condition, timestamp: runtime.status.timestamp },
        auths: auths.map((auth: { id: string }) => ({ id: auth.id })),
      }
    : null;
  const text = JSON.stringify({ data: { runtime: view } });
  return { status: 200, headers: { "content-type": "application/json" }, text };
}

/**
 * Where Node's TLS server cannot give the recorded alert: it verifies a presented client certificate's chain after
 * the handshake and then closes the connection, without the `unknown_ca` alert Go's crypto/tls sends. The refusal
 * still comes before any HTTP exchange, which is what the agent sees as a TLS problem; the difference is this one.
 */
const NODE_TLS_REFUSALS: Partial<Record<TlsRefusal["alert"], string>> = { "unknown ca": "socket hang up" };

/** Code and message of a client error; OpenSSL names the alert in the message (`… alert handshake failure`). */
function errorText(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return `${code ?? ""} ${message ?? String(error)}`.trim();
}

/** Gateway behaviour: the handshake refuses; no HTTP status comes back. Returns the differences. */
async function replayTlsRefusal(context: ReplayContext, exchange: FixtureExchange, refusal: TlsRefusal): Promise<string[]> {
  const { sim } = context;
  const cert = await clientCertificate(context, exchange.request.clientCert);
  const expected = NODE_TLS_REFUSALS[refusal.alert] ?? `alert ${refusal.alert}`;
  const refused = (text: string) => text.toLowerCase().includes(expected);
  if (refusal.http2SecondRequest !== undefined) {
    // The agent's transport: HTTP/2 by ALPN, two requests on one session.
    const session = connect(`https://127.0.0.1:${sim.mtlsPort}`, { ca: sim.serverCaPem, ...(cert ? { cert: cert.chainPem, key: cert.keyPem } : {}) });
    session.on("error", () => {});
    const call = (path: string) =>
      new Promise<string>((resolve) => {
        try {
          const stream = session.request({ [http2.HTTP2_HEADER_METHOD]: "POST", [http2.HTTP2_HEADER_PATH]: path, "content-type": "application/json" });
          stream.on("response", (headers) => resolve(`HTTP ${String(headers[http2.HTTP2_HEADER_STATUS])}`));
          stream.on("error", (error) => resolve(errorText(error)));
          stream.on("close", () => resolve("stream closed without an answer"));
          stream.end("{}");
        } catch (error) {
          resolve(errorText(error));
        }
      });
    const first = await call(exchange.request.path.split(",")[0]!.trim());
    const second = await call(refusal.http2SecondRequest);
    session.destroy();
    const differences: string[] = [];
    if (!refused(first)) differences.push(`first request: expected ${expected}, actual ${first}`);
    if (second.startsWith("HTTP")) differences.push(`second request on the same session: expected a failure, actual ${second}`);
    return differences;
  }
  try {
    const answer = await send(`https://127.0.0.1:${sim.mtlsPort}${exchange.request.path}`, exchange.request.method, exchange.request.headers, "{}", {
      ca: sim.serverCaPem,
      maxVersion: refusal.maxVersion,
      ...(cert ? { cert } : {}),
    });
    return [`expected the TLS handshake to fail with ${expected}, got HTTP ${answer.status}`];
  } catch (error) {
    return refused(errorText(error)) ? [] : [`expected ${expected}, actual ${errorText(error)}`];
  }
}

/** Runs one exchange; returns the differences between the recorded answer and the simulator's (empty: conformant). */
export async function replayExchange(context: ReplayContext, exchange: FixtureExchange): Promise<string[]> {
  const { sim, bindings } = context;
  if (exchange.tlsRefusal) return replayTlsRefusal(context, exchange, exchange.tlsRefusal);
  for (const entry of exchange.issue ?? []) {
    const issued = sim.issueToken(entry.runtimeId);
    bindings.bind(entry.token, issued.token);
    if (entry.cn) bindings.bind(entry.cn, issued.systemAuthId);
  }
  const csrKeys = await makeCsrs(context, exchange);
  const request = exchange.request;
  const body = typeof request.body === "string" ? request.body : JSON.stringify(deepResolve(request.body, bindings));
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, bindings.resolve(value)]));
  let answer: Answer;
  if (exchange.listener === "admin-direct") {
    answer = await adminRuntimeView(sim, request.body);
  } else {
    const port = exchange.listener === "token" ? sim.tokenPort : sim.mtlsPort;
    const cert = await clientCertificate(context, request.clientCert);
    answer = await send(`https://127.0.0.1:${port}${bindings.resolve(request.path)}`, request.method, headers, body, {
      ca: sim.serverCaPem,
      ...(cert ? { cert } : {}),
    });
  }
  const expected = exchange.response!;
  const differences: string[] = [];
  if (answer.status !== expected.status) differences.push(`status: expected ${expected.status}, actual ${answer.status}`);
  const contentType = answer.headers["content-type"];
  if (expected.contentType !== contentType) {
    differences.push(`content-type: expected ${expected.contentType ?? "<none>"}, actual ${String(contentType ?? "<none>")}`);
  }
  if (expected.contentLength !== undefined && answer.headers["content-length"] !== expected.contentLength) {
    differences.push(`content-length: expected ${expected.contentLength}, actual ${String(answer.headers["content-length"] ?? "<none>")}`);
  }
  let actualBody: JsonValue;
  try {
    actualBody = answer.text === "" ? "" : (JSON.parse(answer.text) as JsonValue);
  } catch {
    actualBody = answer.text;
  }
  compareJson(expected.body, actualBody, "body", bindings, differences);

  if (exchange.definesCertificate) {
    const chain = (actualBody as { data?: { result?: { certificateChain?: string } } } | null)?.data?.result?.certificateChain;
    const keyPath = [...csrKeys.values()][0];
    if (chain && keyPath) {
      context.certificates.set(exchange.definesCertificate, {
        chainPem: Buffer.from(chain, "base64").toString("utf8"),
        keyPem: await readFile(keyPath, "utf8"),
      });
    }
  }
  return differences;
}
