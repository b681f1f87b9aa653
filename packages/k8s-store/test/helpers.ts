import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import { createK8sStore, type K8sStore, type K8sStoreOptions } from "../src/index.js";

export const adminKubeconfig = (): string => inject("k8sStoreAdminKubeconfig");
export const agentKubeconfig = (): string => inject("k8sStoreAgentKubeconfig");

/** A store as the agent's ServiceAccount (RBAC enforced). */
export function agentStore(options: K8sStoreOptions = {}): K8sStore {
  return createK8sStore({ kubeconfigPath: agentKubeconfig(), ...options });
}

/** A store as cluster admin (for setting up foreign objects). */
export function adminStore(options: K8sStoreOptions = {}): K8sStore {
  return createK8sStore({ kubeconfigPath: adminKubeconfig(), ...options });
}

/** A unique DNS-label-safe name. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it returns true; fails after timeoutMs. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A TCP proxy in front of the real kube-apiserver, to simulate an API server outage: `down()` destroys every
 * open connection and stops accepting (clients get ECONNREFUSED), `up()` listens again on the same port.
 * TLS passes through untouched (the serving certificate is valid for 127.0.0.1 on any port).
 */
export class ApiServerProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  kubeconfigPath = "";
  /** Bytes the API server sent through the proxy (TLS records: what went over the wire). */
  bytesFromServer = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Starts a proxy for the API server of `kubeconfigPath` and writes a kubeconfig that points at it. */
  static async start(kubeconfigPath: string): Promise<ApiServerProxy> {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("no cluster");
    const url = new URL(cluster.server);
    const proxy = new ApiServerProxy(url.hostname, Number(url.port));
    await proxy.up();
    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      clusters: kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${proxy.port}` } : c)),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.getCurrentContext(),
    });
    proxy.kubeconfigPath = join(tmpdir(), `k8s-store-proxy-${proxy.port}-${randomBytes(3).toString("hex")}.kubeconfig`);
    writeFileSync(proxy.kubeconfigPath, proxied.exportConfig(), { mode: 0o600 });
    return proxy;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      upstream.on("data", (chunk: Buffer) => (this.bytesFromServer += chunk.length));
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    const addr = server.address();
    if (addr !== null && typeof addr !== "string") this.port = addr.port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
