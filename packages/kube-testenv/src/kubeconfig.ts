import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { KubeTestenvError } from "./errors.js";

/** Everything needed to talk to an API server, as read from a kubeconfig. */
export interface KubeCredentials {
  server: string;
  /** PEM CA bundle; undefined means the system trust store. */
  ca?: string;
  /** PEM client certificate and key (mTLS). */
  cert?: string;
  key?: string;
  /** Bearer token. */
  token?: string;
  /** Basic auth. */
  username?: string;
  password?: string;
  insecureSkipTlsVerify?: boolean;
}

/** Writes a kubeconfig with one cluster/user/context that embeds the given PEM data (client certificate or token). */
export async function writeKubeconfig(
  path: string,
  opts: { name: string; server: string; ca: string; namespace?: string } & (
    { cert: string; key: string } | { token: string }
  ),
): Promise<void> {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    clusters: [
      { name: "kube-testenv", cluster: { server: opts.server, "certificate-authority-data": b64(opts.ca) } },
    ],
    users: [
      {
        name: opts.name,
        user:
          "token" in opts
            ? { token: opts.token }
            : { "client-certificate-data": b64(opts.cert), "client-key-data": b64(opts.key) },
      },
    ],
    contexts: [
      {
        name: opts.name,
        context: {
          cluster: "kube-testenv",
          user: opts.name,
          ...(opts.namespace ? { namespace: opts.namespace } : {}),
        },
      },
    ],
    "current-context": opts.name,
  };
  await writeFile(path, stringify(doc), { mode: 0o600 });
}

type Named<T> = { name?: unknown } & Record<string, T>;

function invalid(path: string, what: string): never {
  throw new KubeTestenvError("KUBECONFIG_INVALID", `kubeconfig ${path}: ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function findNamed(list: unknown, name: string, key: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  for (const item of list as Named<unknown>[]) {
    if (isRecord(item) && item.name === name && isRecord(item[key]))
      return item[key] as Record<string, unknown>;
  }
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/**
 * Reads the current context of a kubeconfig file. Supports what kind, k3d, minikube and kube-testenv write:
 * inline or file CA/client certificates, bearer tokens (also `tokenFile`), basic auth and
 * `insecure-skip-tls-verify`. Exec and auth-provider plugins are not supported.
 */
export function readKubeconfig(path: string): KubeCredentials {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new KubeTestenvError(
      "KUBECONFIG_INVALID",
      `cannot read kubeconfig ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (!isRecord(doc)) invalid(path, "not a YAML mapping");
  const ctxName = str(doc["current-context"]) ?? invalid(path, "no current-context");
  const ctx = findNamed(doc["contexts"], ctxName, "context") ?? invalid(path, `context ${ctxName} not found`);
  const clusterName = str(ctx["cluster"]) ?? invalid(path, `context ${ctxName} names no cluster`);
  const cluster =
    findNamed(doc["clusters"], clusterName, "cluster") ?? invalid(path, `cluster ${clusterName} not found`);
  const userName = str(ctx["user"]);
  const user = userName ? (findNamed(doc["users"], userName, "user") ?? {}) : {};
  const base = dirname(path);
  const file = (p: string) => readFileSync(isAbsolute(p) ? p : resolve(base, p), "utf8");
  const dataOrFile = (data: unknown, f: unknown): string | undefined => {
    const d = str(data);
    if (d) return Buffer.from(d, "base64").toString("utf8");
    const p = str(f);
    return p ? file(p) : undefined;
  };

  if (user["exec"] !== undefined || user["auth-provider"] !== undefined) {
    invalid(
      path,
      `user ${userName} uses an exec or auth-provider plugin, which kube-testenv does not support; use a certificate or token kubeconfig`,
    );
  }
  const creds: KubeCredentials = {
    server: str(cluster["server"]) ?? invalid(path, `cluster ${clusterName} has no server`),
  };
  const ca = dataOrFile(cluster["certificate-authority-data"], cluster["certificate-authority"]);
  if (ca) creds.ca = ca;
  if (cluster["insecure-skip-tls-verify"] === true) creds.insecureSkipTlsVerify = true;
  const cert = dataOrFile(user["client-certificate-data"], user["client-certificate"]);
  const key = dataOrFile(user["client-key-data"], user["client-key"]);
  if (cert && key) {
    creds.cert = cert;
    creds.key = key;
  }
  const token =
    str(user["token"]) ??
    (str(user["tokenFile"]) ? file(str(user["tokenFile"]) as string).trim() : undefined);
  if (token) creds.token = token;
  const username = str(user["username"]);
  const password = str(user["password"]);
  if (username && password) {
    creds.username = username;
    creds.password = password;
  }
  return creds;
}

/** The namespace of a kubeconfig's current context, when it names one (kubectl's default namespace). */
export function contextNamespace(path: string): string | undefined {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new KubeTestenvError(
      "KUBECONFIG_INVALID",
      `cannot read kubeconfig ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (!isRecord(doc)) return undefined;
  const ctxName = str(doc["current-context"]);
  const ctx = ctxName ? findNamed(doc["contexts"], ctxName, "context") : undefined;
  return ctx ? str(ctx["namespace"]) : undefined;
}

/** The first file of a KUBECONFIG path list (colon-separated), or `~/.kube/config` semantics left to the caller. */
export function firstKubeconfigPath(value: string): string {
  const first = value.split(process.platform === "win32" ? ";" : ":").find((p) => p !== "");
  if (!first) throw new KubeTestenvError("KUBECONFIG_INVALID", "KUBECONFIG is empty");
  return first;
}
