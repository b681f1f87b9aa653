import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBinaries } from "./build.js";
import { KubeClient, type KubeObject } from "./client.js";
import { KubeTestenvError } from "./errors.js";
import { firstKubeconfigPath, readKubeconfig, writeKubeconfig } from "./kubeconfig.js";
import { readManifests, RBAC_KINDS, type ManifestObject } from "./manifests.js";
import { AGENT_GROUPS, AGENT_USER, createPki } from "./pki.js";
import { progress } from "./progress.js";

export interface ControlPlaneOptions {
  /** CRD YAML files or directories (searched recursively) to install and wait for. */
  crds?: string[];
  /**
   * Directory (searched recursively) whose Namespace, ServiceAccount, ClusterRole, Role, ClusterRoleBinding
   * and RoleBinding objects are applied, binding the agent identity. Default: `apps/runtime-agent/deploy`
   * of this repository, when it exists.
   */
  rbacDir?: string;
}

export interface ControlPlane {
  /** Admin kubeconfig (client certificate in group system:masters). */
  kubeconfigPath: string;
  /**
   * Kubeconfig of the agent identity, a bearer token for user
   * `system:serviceaccount:kyma-system:compass-runtime-agent`, groups `system:serviceaccounts`,
   * `system:serviceaccounts:kyma-system`, `system:authenticated`;
   * it can do only what the RBAC objects from `rbacDir` grant. With USE_EXISTING_CLUSTER: the same as
   * kubeconfigPath.
   */
  agentKubeconfigPath: string;
  /** The API server's https URL. */
  server: string;
  /** Stops kube-apiserver and etcd and removes the temp directory. Idempotent. */
  stop(): Promise<void>;
}

/** Namespaces every control plane has, besides the built-in ones. */
export const DEFAULT_NAMESPACES = ["kyma-system", "istio-system"];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Root of this repository (the directory holding pnpm-workspace.yaml), if the package runs inside it. */
export function repoRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function defaultRbacDir(): string | undefined {
  const root = repoRoot();
  if (!root) return undefined;
  const dir = join(root, "apps", "runtime-agent", "deploy");
  return existsSync(dir) ? dir : undefined;
}

/** Reserves `n` distinct free loopback TCP ports (there is a small race until the server binds them). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import("node:net").Server>((resolveServer, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolveServer(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === "string") throw new Error("unexpected server address");
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

function logTail(path: string, lines = 25): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<void>;
  exitCode: () => number | null | string;
}

function startProcess(name: string, bin: string, args: string[], log: string): Proc {
  const fd = openSync(log, "a");
  let code: number | null | string = null;
  let done = false;
  const child = spawn(bin, args, {
    // stdin stays an open pipe: the binary exits when it closes, i.e. when this process dies.
    stdio: ["pipe", fd, fd],
    env: { ...process.env, KUBE_TESTENV_WATCH_STDIN: "1" },
  });
  closeSync(fd);
  const exited = new Promise<void>((r) => {
    child.once("exit", (c, s) => {
      code = c ?? s;
      done = true;
      r();
    });
    child.once("error", (err) => {
      code = err.message;
      done = true;
      r();
    });
  });
  // Never let a write error on stdin (EPIPE when the child died) crash the parent.
  child.stdin?.on("error", () => undefined);
  return { name, child, log, exited, exitCode: () => (done ? code : null) };
}

async function stopProcess(p: Proc, graceMs: number): Promise<void> {
  if (p.exitCode() !== null) return;
  p.child.kill("SIGTERM");
  const timedOut = await Promise.race([p.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    p.child.kill("SIGKILL");
    await p.exited;
  }
}

function exitedError(p: Proc): KubeTestenvError {
  const tail = logTail(p.log);
  return new KubeTestenvError(
    "PROCESS_EXITED",
    `${p.name} exited (${String(p.exitCode())}) before it was ready; log ${p.log}:\n${tail}`,
    {
      retryable: /address already in use/.test(tail),
    },
  );
}

async function waitFor(
  p: Proc,
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.exitCode() !== null) throw exitedError(p);
    try {
      if (await check()) return;
    } catch {
      // not listening yet
    }
    if (p.exitCode() !== null) throw exitedError(p);
    if (Date.now() > deadline) {
      throw new KubeTestenvError(
        "NOT_READY",
        `${what} not ready after ${timeoutMs / 1000} s; log ${p.log}:\n${logTail(p.log)}`,
        { retryable: true },
      );
    }
    await sleep(100);
  }
}

function byKindOrder(a: ManifestObject, b: ManifestObject): number {
  const order = (k: string) => {
    const i = (RBAC_KINDS as readonly string[]).indexOf(k);
    return i < 0 ? RBAC_KINDS.length : i;
  };
  return order(a.object.kind) - order(b.object.kind);
}

async function applyNamespaces(client: KubeClient, names: Iterable<string>): Promise<void> {
  await Promise.all(
    [...new Set(names)].map((name) =>
      client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } }),
    ),
  );
}

async function applyRbac(client: KubeClient, dir: string): Promise<number> {
  const objects = (await readManifests([dir], { kinds: RBAC_KINDS })).sort(byKindOrder);
  const namespaces = new Set<string>();
  for (const m of objects) {
    if (
      m.object.kind !== "Namespace" &&
      m.object.kind !== "ClusterRole" &&
      m.object.kind !== "ClusterRoleBinding"
    ) {
      m.object.metadata.namespace ??= "default";
      namespaces.add(m.object.metadata.namespace);
    }
  }
  await applyNamespaces(client, namespaces);
  for (const m of objects) {
    try {
      await client.apply(m.object);
    } catch (err) {
      throw new KubeTestenvError(
        "MANIFEST_INVALID",
        `applying ${m.object.kind} ${m.object.metadata.name} from ${m.file}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return objects.length;
}

interface CrdInfo {
  name: string;
  group: string;
  plural: string;
  versions: string[];
}

function crdInfo(obj: KubeObject): CrdInfo {
  const spec = obj["spec"] as
    | { group?: unknown; names?: { plural?: unknown }; versions?: { name?: unknown; served?: unknown }[] }
    | undefined;
  const versions = (spec?.versions ?? []).filter((v) => v.served !== false).map((v) => String(v.name));
  return {
    name: obj.metadata.name,
    group: String(spec?.group),
    plural: String(spec?.names?.plural),
    versions,
  };
}

/**
 * kube-apiserver holds every create of a custom resource for 2 s while its CRD became Established less than 2 s
 * ago (apiextensions-apiserver, customresource_handler.go, for HA servers that have not seen the CRD yet).
 */
const JUST_ESTABLISHED_MS = 2_000;

/**
 * Applies CRDs (and any other objects in the same files, after the CRDs) and waits until they are served, and until
 * creates are no longer held back (JUST_ESTABLISHED_MS): a cluster's CRDs are normally older than its controllers,
 * and a test or benchmark would otherwise measure the API server's pause as the first create's latency.
 */
async function installCrds(
  client: KubeClient,
  paths: readonly string[],
  timeoutMs = 60_000,
): Promise<number> {
  const all = await readManifests(paths);
  const crds = all.filter((m) => m.object.kind === "CustomResourceDefinition");
  const others = all.filter((m) => m.object.kind !== "CustomResourceDefinition");
  await Promise.all(
    crds.map(async (m) => {
      try {
        await client.apply(m.object);
      } catch (err) {
        throw new KubeTestenvError(
          "MANIFEST_INVALID",
          `applying CRD ${m.object.metadata.name} from ${m.file}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }),
  );
  const deadline = Date.now() + timeoutMs;
  let lastEstablished = 0;
  await Promise.all(
    crds.map(async (m) => {
      const info = crdInfo(m.object);
      const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(info.name)}`;
      for (;;) {
        const res = await client.request("GET", path);
        const conditions =
          (
            res.json as
              | {
                  status?: { conditions?: { type?: string; status?: string; lastTransitionTime?: string }[] };
                }
              | undefined
          )?.status?.conditions ?? [];
        const established = conditions.find((c) => c.type === "Established" && c.status === "True");
        if (established) {
          // Served = in discovery, and a list answers (the watch cache of a new CRD first answers
          // 429 "storage is (re)initializing").
          const served = await Promise.all(
            info.versions.map(async (v) => {
              const inDiscovery = (await client.resources(`${info.group}/${v}`, true)).some(
                (r) => r.name === info.plural,
              );
              if (!inDiscovery) return false;
              const list = await client.request("GET", `/apis/${info.group}/${v}/${info.plural}?limit=1`);
              return list.status === 200 || list.status === 403;
            }),
          );
          if (served.every(Boolean)) {
            // The server compares with this stored time (whole seconds) too.
            const at = Date.parse(established.lastTransitionTime ?? "");
            if (Number.isFinite(at)) lastEstablished = Math.max(lastEstablished, at);
            return;
          }
        }
        if (Date.now() > deadline) {
          throw new KubeTestenvError(
            "NOT_READY",
            `CRD ${info.name} not established and served after ${timeoutMs / 1000} s (conditions: ${JSON.stringify(conditions)})`,
            { retryable: true },
          );
        }
        await sleep(100);
      }
    }),
  );
  // +50 ms: the server checks a moment after our clock says the 2 s are over.
  const heldUntil = lastEstablished + JUST_ESTABLISHED_MS + 50;
  if (heldUntil > Date.now()) await sleep(heldUntil - Date.now());
  for (const m of others) await client.apply(m.object);
  return crds.length;
}

async function setUpCluster(
  client: KubeClient,
  options: ControlPlaneOptions,
  withRbac: boolean,
): Promise<void> {
  await applyNamespaces(client, DEFAULT_NAMESPACES);
  if (withRbac) {
    const explicit = options.rbacDir !== undefined;
    const dir = options.rbacDir ?? defaultRbacDir();
    if (dir !== undefined) {
      if (!explicit || existsSync(dir)) {
        const n = await applyRbac(client, dir);
        progress(`applied ${n} RBAC objects from ${dir}`);
      } else {
        throw new KubeTestenvError("MANIFEST_INVALID", `rbacDir ${dir} does not exist`);
      }
    }
  }
  if (options.crds && options.crds.length > 0) {
    const n = await installCrds(client, options.crds);
    progress(`installed ${n} CRDs from ${options.crds.join(", ")}`);
  }
}

/** Live control planes, killed synchronously if the process exits without stop(). */
const live = new Set<{ procs: Proc[]; dir: string }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const cp of live) {
      for (const p of cp.procs) if (p.exitCode() === null) p.child.kill("SIGKILL");
      try {
        rmSync(cp.dir, { recursive: true, force: true });
      } catch {
        // best effort at exit
      }
    }
  });
}

async function startLocal(bin: string, options: ControlPlaneOptions): Promise<ControlPlane> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), "kube-testenv-"));
  const entry = { procs: [] as Proc[], dir };
  live.add(entry);
  installExitHook();
  let client: KubeClient | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      client?.close();
      // kube-apiserver first, so it does not log etcd errors while shutting down.
      for (const p of [...entry.procs].reverse()) await stopProcess(p, 10_000);
      await rm(dir, { recursive: true, force: true });
      live.delete(entry);
    })();
    return stopping;
  };

  try {
    const pkiDir = join(dir, "pki");
    await mkdir(pkiDir);
    const [pki, ports] = await Promise.all([createPki(pkiDir), freePorts(3)]);
    // The agent authenticates with a bearer token, as an in-cluster ServiceAccount does (the API server caches
    // token authentication; a client certificate would be verified on every request).
    const agentToken = randomBytes(32).toString("hex");
    const tokenFile = join(pkiDir, "tokens.csv");
    await writeFile(tokenFile, `${agentToken},${AGENT_USER},${AGENT_USER},"${AGENT_GROUPS.join(",")}"\n`, {
      mode: 0o600,
    });
    const [etcdPort, peerPort, apiPort] = ports as [number, number, number];

    const etcd = startProcess(
      "etcd",
      bin,
      [
        "etcd",
        "--data-dir",
        join(dir, "etcd"),
        "--listen-client",
        `http://127.0.0.1:${etcdPort}`,
        "--listen-peer",
        `http://127.0.0.1:${peerPort}`,
      ],
      join(dir, "etcd.log"),
    );
    entry.procs.push(etcd);
    await waitFor(etcd, "etcd", 30_000, async () => {
      const res = await fetch(`http://127.0.0.1:${etcdPort}/health`);
      return res.ok && ((await res.json()) as { health?: string }).health === "true";
    });

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = startProcess(
      "kube-apiserver",
      bin,
      [
        "kube-apiserver",
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, "apiserver-certs")}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${tokenFile}`,
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        "--enable-priority-and-fairness=false",
        "--v=1",
      ],
      join(dir, "kube-apiserver.log"),
    );
    entry.procs.push(apiserver);

    const [ca, adminCert, adminKey] = (await Promise.all(
      [pki.caCert, pki.adminCert, pki.adminKey].map((f) => readFile(f, "utf8")),
    )) as [string, string, string];
    const kubeconfigPath = join(dir, "admin.kubeconfig");
    const agentKubeconfigPath = join(dir, "agent.kubeconfig");
    await Promise.all([
      writeKubeconfig(kubeconfigPath, { name: "admin", server, ca, cert: adminCert, key: adminKey }),
      writeKubeconfig(agentKubeconfigPath, {
        name: "compass-runtime-agent",
        server,
        ca,
        token: agentToken,
        namespace: "kyma-system",
      }),
    ]);

    client = new KubeClient({ server, ca, cert: adminCert, key: adminKey });
    const c = client;
    await waitFor(
      apiserver,
      "kube-apiserver",
      90_000,
      async () => (await c.request("GET", "/readyz", undefined, undefined, 2_000)).status === 200,
    );
    progress(`kube-apiserver ready at ${server} after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    await setUpCluster(client, options, true);
    progress(`control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s (temp dir ${dir})`);
    return { kubeconfigPath, agentKubeconfigPath, server, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function useExistingCluster(options: ControlPlaneOptions): Promise<ControlPlane> {
  const env = process.env["KUBECONFIG"];
  if (env === undefined || env === "") {
    throw new KubeTestenvError(
      "KUBECONFIG_INVALID",
      "USE_EXISTING_CLUSTER=true needs KUBECONFIG to point at the cluster's kubeconfig",
    );
  }
  const kubeconfigPath = resolve(firstKubeconfigPath(env));
  const creds = readKubeconfig(kubeconfigPath);
  const client = new KubeClient(creds);
  try {
    progress(`USE_EXISTING_CLUSTER=true: using ${creds.server} from ${kubeconfigPath}`);
    await setUpCluster(client, options, false);
  } finally {
    client.close();
  }
  return {
    kubeconfigPath,
    agentKubeconfigPath: kubeconfigPath,
    server: creds.server,
    stop: async () => undefined,
  };
}

/**
 * Starts a real control plane: etcd and kube-apiserver (built from the official Go modules and cached,
 * see ensureBinaries) on free loopback ports, with fresh certificates and RBAC authorization. Creates the
 * namespaces kyma-system and istio-system, applies the agent RBAC and the given CRDs, and resolves when
 * the CRDs are served.
 *
 * With `USE_EXISTING_CLUSTER=true`, uses the cluster of `KUBECONFIG` instead: only namespaces and CRDs are
 * applied, both kubeconfig paths are `KUBECONFIG`, and stop() leaves the cluster alone.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  if (process.env["USE_EXISTING_CLUSTER"] === "true") return useExistingCluster(options);
  const bin = await ensureBinaries();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLocal(bin.path, options);
    } catch (err) {
      // A port taken between reservation and bind: try again with new ports.
      if (err instanceof KubeTestenvError && err.code === "PROCESS_EXITED" && err.retryable && attempt < 3) {
        progress(`port conflict, retrying (${err.message.split("\n")[0]})`);
        continue;
      }
      throw err;
    }
  }
}
