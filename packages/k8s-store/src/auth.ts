import { execFile } from "node:child_process";
import type { Agent } from "node:http";
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve, sep } from "node:path";
import { K8sStoreError } from "./errors.js";
import type { ExecPlugin, KubeCredentials, KubeTls, LoadedKubeConfig } from "./kubeconfig.js";
import { keepAliveAgent } from "./transport.js";

/** What a request carries to authenticate: its headers, and the pooled connection with the right client certificate. */
export interface Authentication {
  headers: Record<string, string>;
  agent: Agent;
}

/** How long an exec plugin's credential without an expiry is used; then the plugin runs again. */
const EXEC_DEFAULT_LIFETIME_MS = 10 * 60_000;
const EXEC_TIMEOUT_MS = 60_000;

interface ExecCredential {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  /** performance.now() after which the plugin runs again. */
  until: number;
}

/**
 * The credentials of each request, from the kubeconfig: a token, a token file (re-read, so a rotated ServiceAccount
 * token is picked up), basic auth, or an exec credential plugin (run again when its credential expires). The result
 * is reused for `ttlMs` (1 s): a rotation is still seen within a second, without a file read per request. One
 * keep-alive Agent per client certificate: a new certificate (from an exec plugin) gets a new pool.
 */
export class Authenticator {
  readonly #server: URL;
  readonly #tls: KubeTls;
  readonly #credentials: KubeCredentials;
  readonly #ttlMs: number;
  readonly #agents: { cert: Buffer | undefined; agent: Agent }[] = [];
  #cached: { at: number; value: Authentication } | undefined;
  #pending: Promise<Authentication> | undefined;
  #exec: ExecCredential | undefined;

  constructor(config: LoadedKubeConfig, ttlMs = 1_000) {
    this.#server = new URL(config.server);
    this.#tls = config.tls;
    this.#credentials = config.credentials;
    this.#ttlMs = ttlMs;
  }

  async current(): Promise<Authentication> {
    if (this.#cached !== undefined && performance.now() - this.#cached.at <= this.#ttlMs) return this.#cached.value;
    this.#pending ??= this.#derive()
      .then((value) => {
        this.#cached = { at: performance.now(), value };
        return value;
      })
      .finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  /** Closes every pooled connection. */
  close(): void {
    for (const { agent } of this.#agents.splice(0)) agent.destroy();
  }

  async #derive(): Promise<Authentication> {
    const c = this.#credentials;
    let headers: Record<string, string> = {};
    let tls = this.#tls;
    if (c.kind === "token") headers = bearer(c.token);
    else if (c.kind === "tokenFile") headers = bearer((await readFile(c.path, "utf8")).trim());
    else if (c.kind === "basic") headers = { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` };
    else if (c.kind === "exec") {
      if (this.#exec === undefined || performance.now() > this.#exec.until) this.#exec = await runExecPlugin(c.plugin);
      if (this.#exec.token !== undefined) headers = bearer(this.#exec.token);
      if (this.#exec.cert !== undefined && this.#exec.key !== undefined) tls = { ...tls, cert: this.#exec.cert, key: this.#exec.key };
    }
    return { headers, agent: this.#agentFor(tls) };
  }

  #agentFor(tls: KubeTls): Agent {
    const found = this.#agents.find((a) => a.cert === tls.cert || (a.cert !== undefined && tls.cert !== undefined && a.cert.equals(tls.cert)));
    if (found !== undefined) return found.agent;
    // Keep a few (certificate rotation lets requests under way finish); close the oldest.
    if (this.#agents.length >= 4) this.#agents.shift()?.agent.destroy();
    const agent = keepAliveAgent(this.#server, tls);
    this.#agents.push({ cert: tls.cert, agent });
    return agent;
  }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/**
 * Runs a client.authentication.k8s.io exec plugin as kubectl does (KUBERNETES_EXEC_INFO set, not interactive) and
 * reads the ExecCredential it prints. A failure is K8S_UNAUTHORIZED with the plugin's first line of stderr (plugins
 * print why: an expired login, a missing tool); the credential itself never appears in a message.
 */
async function runExecPlugin(plugin: ExecPlugin): Promise<ExecCredential> {
  // A command with a path separator is relative to the kubeconfig's directory; a bare name is looked up in PATH.
  const command = !isAbsolute(plugin.command) && plugin.command.includes(sep) ? resolve(plugin.dir, plugin.command) : plugin.command;
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: plugin.apiVersion, kind: "ExecCredential", spec: { interactive: false } }) };
  for (const e of plugin.env) env[e.name] = e.value;
  const failed = (detail: string, cause?: unknown) =>
    new K8sStoreError("K8S_UNAUTHORIZED", `exec credential plugin ${plugin.command}: ${detail}`, cause === undefined ? {} : { cause });
  const stdout = await new Promise<string>((resolvePromise, reject) => {
    execFile(command, plugin.args, { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, out, stderr) => {
      if (err) reject(failed(stderr.trim().split("\n")[0] || err.message, err));
      else resolvePromise(out);
    });
  });
  let status: Record<string, unknown>;
  try {
    const parsed = JSON.parse(stdout) as { status?: unknown };
    if (typeof parsed.status !== "object" || parsed.status === null) throw new Error("no status");
    status = parsed.status as Record<string, unknown>;
  } catch {
    throw failed("did not print an ExecCredential with a status");
  }
  const text = (field: string) => (typeof status[field] === "string" && status[field] !== "" ? (status[field] as string) : undefined);
  const token = text("token");
  const cert = text("clientCertificateData");
  const key = text("clientKeyData");
  if (token === undefined && (cert === undefined || key === undefined)) throw failed("the ExecCredential holds neither a token nor a client certificate and key");
  const expiry = text("expirationTimestamp");
  const lifetime = expiry === undefined ? EXEC_DEFAULT_LIFETIME_MS : Date.parse(expiry) - Date.now();
  return {
    ...(token !== undefined ? { token } : {}),
    ...(cert !== undefined && key !== undefined ? { cert: Buffer.from(cert), key: Buffer.from(key) } : {}),
    until: performance.now() + (Number.isFinite(lifetime) ? lifetime : 0),
  };
}
