import { existsSync, readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { K8sStoreError } from "./errors.js";

export interface KubeConfigOptions {
  /** An explicit kubeconfig file; wins over everything else. */
  kubeconfigPath?: string;
  /** Force the in-cluster configuration (ServiceAccount token and CA under /var/run/secrets). */
  inCluster?: boolean;
  /** Context to use instead of the file's current-context. */
  context?: string;
  /** Environment to read KUBECONFIG / KUBERNETES_SERVICE_HOST from (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Where a KubeConfig came from, for logs. */
export type KubeConfigSource = "file" | "KUBECONFIG" | "in-cluster" | "home";

/** An exec credential plugin (client.authentication.k8s.io), as a kubeconfig user names it. */
export interface ExecPlugin {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion: string;
  /** Directory a relative command is resolved against (the kubeconfig's). */
  dir: string;
}

/** How requests authenticate, besides a client certificate. */
export type KubeCredentials =
  | { kind: "none" }
  | { kind: "token"; token: string }
  /** Re-read as it rotates (the ServiceAccount token in a Pod). */
  | { kind: "tokenFile"; path: string }
  | { kind: "basic"; username: string; password: string }
  | { kind: "exec"; plugin: ExecPlugin };

/** The TLS settings of the connection to the API server. */
export interface KubeTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** False with `insecure-skip-tls-verify: true`. */
  rejectUnauthorized: boolean;
  /** `tls-server-name`: the name the server's certificate is checked against instead of the URL's host. */
  servername?: string;
}

export interface LoadedKubeConfig {
  source: KubeConfigSource;
  /** The API server URL of the current context. */
  server: string;
  tls: KubeTls;
  credentials: KubeCredentials;
}

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Loads the Kubernetes client configuration, in this order: `kubeconfigPath`; `inCluster: true`; the
 * `KUBECONFIG` environment variable (a path list, merged as kubectl does: the first file that names a cluster,
 * user, context or current-context wins); the in-cluster configuration when `KUBERNETES_SERVICE_HOST` is set;
 * `~/.kube/config`. Relative file paths in a kubeconfig are relative to that file. Throws K8S_CONFIG when nothing
 * usable is found, or the configuration uses what the store does not support (auth-provider plugins, proxy-url).
 */
export function loadKubeConfig(options: KubeConfigOptions = {}): LoadedKubeConfig {
  const env = options.env ?? process.env;
  try {
    if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== "") {
      if (!existsSync(options.kubeconfigPath)) {
        throw new K8sStoreError("K8S_CONFIG", `kubeconfig file ${options.kubeconfigPath} does not exist`);
      }
      return fromFiles([options.kubeconfigPath], "file", options.context);
    }
    if (options.inCluster === true) return inCluster(env);
    if (env["KUBECONFIG"] !== undefined && env["KUBECONFIG"] !== "") {
      const files = env["KUBECONFIG"].split(process.platform === "win32" ? ";" : ":").filter((f) => f !== "");
      const existing = files.filter((f) => existsSync(f));
      if (existing.length === 0) throw new K8sStoreError("K8S_CONFIG", `no file of KUBECONFIG=${env["KUBECONFIG"]} exists`);
      return fromFiles(existing, "KUBECONFIG", options.context);
    }
    if (env["KUBERNETES_SERVICE_HOST"] !== undefined && env["KUBERNETES_SERVICE_HOST"] !== "") return inCluster(env);
    const home = join(homedir(), ".kube", "config");
    if (!existsSync(home)) {
      throw new K8sStoreError(
        "K8S_CONFIG",
        "no Kubernetes configuration: pass a kubeconfig path, set KUBECONFIG, or run in a cluster (KUBERNETES_SERVICE_HOST)",
      );
    }
    return fromFiles([home], "home", options.context);
  } catch (err) {
    if (err instanceof K8sStoreError) throw err;
    throw new K8sStoreError("K8S_CONFIG", `cannot load the Kubernetes configuration: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      retryable: false,
    });
  }
}

/** The Pod's ServiceAccount: the API server from the service environment, its CA, its (rotating) token. */
function inCluster(env: Readonly<Record<string, string | undefined>>): LoadedKubeConfig {
  const host = env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "";
  if (host === "" || port === "") throw new K8sStoreError("K8S_CONFIG", "in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  return {
    source: "in-cluster",
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(`${SERVICE_ACCOUNT}/ca.crt`), rejectUnauthorized: true },
    credentials: { kind: "tokenFile", path: `${SERVICE_ACCOUNT}/token` },
  };
}

type Doc = Record<string, unknown>;
interface Named {
  item: Doc;
  /** Directory of the file the entry came from: its relative paths are relative to it. */
  dir: string;
}

function fromFiles(paths: string[], source: KubeConfigSource, contextOverride: string | undefined): LoadedKubeConfig {
  const clusters = new Map<string, Named>();
  const users = new Map<string, Named>();
  const contexts = new Map<string, Named>();
  let currentContext: string | undefined;
  for (const path of paths) {
    const doc: unknown = parseYaml(readFileSync(path, "utf8"));
    if (doc === null || doc === undefined) continue; // an empty file, as kubectl allows
    if (!isRecord(doc)) throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${path} is not a YAML mapping`);
    const dir = dirname(resolve(path));
    collect(doc["clusters"], "cluster", clusters, dir, path);
    collect(doc["users"], "user", users, dir, path);
    collect(doc["contexts"], "context", contexts, dir, path);
    if (currentContext === undefined && typeof doc["current-context"] === "string" && doc["current-context"] !== "") currentContext = doc["current-context"];
  }
  const where = paths.join(", ");
  const contextName = contextOverride ?? currentContext;
  if (contextName === undefined) throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${where} has no current-context`);
  const context = contexts.get(contextName)?.item;
  if (context === undefined) throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${where} has no context ${contextName}`);
  const clusterName = str(context["cluster"]);
  const cluster = clusterName === undefined ? undefined : clusters.get(clusterName);
  if (cluster === undefined) throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${where}: context ${contextName} names no cluster it defines`);
  const userName = str(context["user"]);
  const user = userName === undefined ? undefined : users.get(userName);

  const server = str(cluster.item["server"]);
  if (server === undefined) throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${where}: cluster ${clusterName} has no server`);
  if (cluster.item["proxy-url"] !== undefined) {
    throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${where}: cluster ${clusterName} sets proxy-url, which this client does not support`);
  }
  const tls: KubeTls = { rejectUnauthorized: cluster.item["insecure-skip-tls-verify"] !== true };
  const servername = str(cluster.item["tls-server-name"]);
  if (servername !== undefined) tls.servername = servername;
  const ca = dataOrFile(cluster, "certificate-authority");
  if (ca !== undefined) tls.ca = ca;
  if (user === undefined) return { source, server, tls, credentials: { kind: "none" } };

  if (user.item["auth-provider"] !== undefined) {
    throw new K8sStoreError(
      "K8S_CONFIG",
      `kubeconfig ${where}: user ${userName} uses an auth-provider plugin, which Kubernetes removed in 1.26; use an exec credential plugin (for OIDC: kubelogin)`,
    );
  }
  const cert = dataOrFile(user, "client-certificate");
  const key = dataOrFile(user, "client-key");
  if ((cert === undefined) !== (key === undefined)) {
    throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${where}: user ${userName} has a client certificate without a key, or a key without a certificate`);
  }
  if (cert !== undefined && key !== undefined) Object.assign(tls, { cert, key });
  return { source, server, tls, credentials: credentialsOf(user, `kubeconfig ${where}: user ${userName}`) };
}

function credentialsOf(user: Named, what: string): KubeCredentials {
  const token = str(user.item["token"]);
  if (token !== undefined) return { kind: "token", token };
  const tokenFile = str(user.item["tokenFile"]);
  if (tokenFile !== undefined) return { kind: "tokenFile", path: pathOf(user, tokenFile) };
  const exec = user.item["exec"];
  if (isRecord(exec)) {
    const command = str(exec["command"]);
    if (command === undefined) throw new K8sStoreError("K8S_CONFIG", `${what}: exec names no command`);
    const args = Array.isArray(exec["args"]) ? exec["args"].map(String) : [];
    const env = Array.isArray(exec["env"]) ? exec["env"].filter(isRecord).map((e) => ({ name: String(e["name"]), value: String(e["value"] ?? "") })) : [];
    return { kind: "exec", plugin: { command, args, env, apiVersion: str(exec["apiVersion"]) ?? "client.authentication.k8s.io/v1", dir: user.dir } };
  }
  const username = str(user.item["username"]);
  const password = str(user.item["password"]);
  if (username !== undefined && password !== undefined) return { kind: "basic", username, password };
  return { kind: "none" };
}

/** Adds the named entries of one file's list; an entry an earlier file defined is kept (kubectl's merge). */
function collect(list: unknown, field: string, into: Map<string, Named>, dir: string, path: string): void {
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${path}: ${field}s is not a list`);
  for (const entry of list) {
    const name = isRecord(entry) ? str(entry["name"]) : undefined;
    const item = isRecord(entry) ? entry[field] : undefined;
    if (name === undefined || !isRecord(item)) throw new K8sStoreError("K8S_CONFIG", `kubeconfig ${path}: a ${field} entry lacks a name or its ${field} mapping`);
    if (!into.has(name)) into.set(name, { item, dir });
  }
}

/** `<field>-data` (base64) or the file `<field>` names; the data wins, as in kubectl. */
function dataOrFile(named: Named, field: string): Buffer | undefined {
  const data = str(named.item[`${field}-data`]);
  if (data !== undefined) return Buffer.from(data, "base64");
  const file = str(named.item[field]);
  return file === undefined ? undefined : readFileSync(pathOf(named, file));
}

const pathOf = (named: Named, file: string): string => (isAbsolute(file) ? file : resolve(named.dir, file));

function isRecord(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
