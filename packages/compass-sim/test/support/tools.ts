/**
 * Independent clients for the integration tests: openssl for keys and CSRs, node:https for requests.
 * Nothing here uses the simulator's own PKI code.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";

const execFileAsync = promisify(execFile);

export async function run(command: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(command, args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.toString();
}

export async function tempDir(prefix = "compass-sim-test-"): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** `O=Org,OU=OrgUnit,CN=x` → `/O=Org/OU=OrgUnit/CN=x` (openssl -subj). */
export function opensslSubject(subject: string): string {
  return "/" + subject.split(",").join("/");
}

let counter = 0;

export interface CsrFiles {
  keyPath: string;
  csrPath: string;
  csrPem: string;
  /** What `signCertificateSigningRequest(csr:)` expects: std base64 of the PEM text. */
  csrArgument: string;
}

/** A fresh key and CSR made by `openssl req -new -newkey …`. */
export async function opensslCsr(
  dir: string,
  subject: string,
  options: { newkey?: string; multivalueRdn?: boolean; outform?: "PEM" | "DER" } = {},
): Promise<CsrFiles> {
  const n = ++counter;
  const keyPath = join(dir, `key-${n}.pem`);
  const csrPath = join(dir, `csr-${n}.${options.outform === "DER" ? "der" : "pem"}`);
  const args = ["req", "-new", "-nodes", "-keyout", keyPath, "-out", csrPath, "-subj", opensslSubject(subject)];
  const newkey = options.newkey ?? "rsa:2048";
  if (newkey.startsWith("ec:")) args.push("-newkey", "ec", "-pkeyopt", `ec_paramgen_curve:${newkey.slice(3)}`);
  else args.push("-newkey", newkey);
  if (options.multivalueRdn) args.push("-multivalue-rdn");
  if (options.outform) args.push("-outform", options.outform);
  await run("openssl", args);
  const raw = await readFile(csrPath);
  return { keyPath, csrPath, csrPem: raw.toString("latin1"), csrArgument: raw.toString("base64") };
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test helper: responses are asserted field by field
  json: any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** PEM of the CA that issued the server certificate. */
  ca?: string;
  cert?: string;
  key?: string;
}

/** One request on a fresh connection (no agent, no TLS session reuse). */
export function httpCall(url: string, options: RequestOptions = {}): Promise<HttpResult> {
  const target = new URL(url);
  const isHttps = target.protocol === "https:";
  return new Promise((resolve, reject) => {
    const req = (isHttps ? httpsRequest : httpRequest)(
      target,
      {
        method: options.method ?? "POST",
        headers: options.headers ?? {},
        agent: false,
        ...(isHttps
          ? {
              ca: options.ca,
              ...(options.cert ? { cert: options.cert } : {}),
              ...(options.key ? { key: options.key } : {}),
            }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export interface GraphQLCallOptions {
  ca: string;
  token?: string;
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
}

export function graphqlCall(url: string, query: string, options: GraphQLCallOptions): Promise<HttpResult> {
  return httpCall(url, {
    ca: options.ca,
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.key ? { key: options.key } : {}),
    headers: {
      "content-type": "application/json",
      ...(options.token ? { "connector-token": options.token } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query }),
  });
}

export const CONFIGURATION_QUERY =
  "query { result: configuration { token { token } certificateSigningRequestInfo { subject keyAlgorithm } managementPlaneInfo { directorURL certificateSecuredConnectorURL } } }";

export function signMutation(csrArgument: string): string {
  return `mutation { result: signCertificateSigningRequest(csr: "${csrArgument}") { certificateChain caCertificate clientCertificate } }`;
}

export const REVOKE_MUTATION = "mutation { result: revokeCertificate }";

/**
 * What real Compass answers an unauthenticated Connector call (Oathkeeper, before the Connector): HTTP 400 with an
 * empty body. The simulator's `legacyConnectorAnswers` gives the GraphQL error UNAUTHENTICATED instead.
 */
export function expectRefused(result: HttpResult): void {
  expect({ status: result.status, contentType: result.headers["content-type"], length: result.headers["content-length"], text: result.text }).toEqual({
    status: 400,
    contentType: "application/json;charset=UTF-8",
    length: "0",
    text: "",
  });
}

export const UNAUTHENTICATED =
  "Failed to authenticate request. Token authentication error: Failed to authenticate with one time token.. Certificate authentication error: Failed to authenticate with Certificate. Invalid subject.";

export function fromB64(text: string): string {
  return Buffer.from(text, "base64").toString("utf8");
}
