/**
 * A fault-injecting HTTPS proxy in front of a real kube-apiserver, for fault-point sweeps: "fail or cut the
 * Nth request that matches a method and path". It terminates TLS with its own certificate, forwards
 * everything else unchanged over TLS, and streams answers (watches) through unbuffered.
 */
import { X509Certificate } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent, createServer } from "node:https";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { KubeTestenvError } from "./errors.js";
import { answer, cut, forward, newEntry, type Entry, type Upstream } from "./fault-forward.js";
import {
  RuleCounter,
  statusBody,
  validateRule,
  type ArmedRule,
  type FaultRule,
  type ProxiedRequest,
  type RequestMatch,
} from "./fault-rules.js";
import { contextNamespace, readKubeconfig, writeKubeconfig } from "./kubeconfig.js";
import { createServingPki } from "./pki.js";

export interface FaultProxyOptions {
  /** The API server's https URL (e.g. `ControlPlane.server`). Default: the server of `kubeconfig`. */
  target?: string;
  /** PEM CA bundle for the API server's certificate. Default: the CA of `kubeconfig`. */
  ca?: string;
  /** A kubeconfig of the cluster to take `target` and `ca` from (e.g. `ControlPlane.kubeconfigPath`). */
  kubeconfig?: string;
  /** Port on 127.0.0.1. Default: a free one. */
  port?: number;
}

export interface FaultProxy {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** PEM of the CA that issued the proxy's serving certificate (embedded in kubeconfigFor's kubeconfigs). */
  readonly ca: string;
  /** Every request so far, in order of arrival; an entry is updated in place while its request proceeds. */
  readonly requests: readonly ProxiedRequest[];
  /**
   * Writes a kubeconfig that reaches the cluster through the proxy with the same identity as `kubeconfigPath`
   * (its current context: bearer token, or client certificate; the namespace is kept) and returns its path.
   */
  kubeconfigFor(kubeconfigPath: string): Promise<string>;
  /** Arms a rule; it counts matching requests from now on. Throws `USAGE` for an invalid rule. */
  arm(rule: FaultRule): ArmedRule;
  /** Disarms every rule. */
  disarm(): void;
  /** Resolves with the matching request (the `nth`, default the next) once its answer was written or it was cut. */
  nextMatch(match: RequestMatch): Promise<ProxiedRequest>;
  /** Cuts every open connection, stops listening, removes the temp files. Idempotent. */
  close(): Promise<void>;
}

class Armed implements ArmedRule {
  readonly counter: RuleCounter;
  readonly hits: ProxiedRequest[] = [];
  readonly hit: Promise<ProxiedRequest>;
  resolve: (r: ProxiedRequest) => void = () => undefined;
  reject: (e: Error) => void = () => undefined;

  constructor(
    rule: FaultRule,
    private readonly onDisarm: (a: Armed) => void,
  ) {
    this.counter = new RuleCounter(rule);
    this.hit = new Promise<ProxiedRequest>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The PROXY_CLOSED rejection is for callers who await `hit`; a handle nobody awaits must not crash the run.
    this.hit.catch(() => undefined);
  }
  get rule(): FaultRule {
    return this.counter.rule;
  }
  get matched(): number {
    return this.counter.matched;
  }
  disarm(): void {
    this.counter.active = false;
    this.onDisarm(this);
  }
}

// Temp dirs hold private keys (the proxy's, and copies of client credentials): removed even without close().
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function removeAtExit(dir: string): void {
  liveDirs.add(dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}

function resolveTarget(options: FaultProxyOptions): { target: URL; ca?: string; insecure: boolean } {
  const creds = options.kubeconfig !== undefined ? readKubeconfig(options.kubeconfig) : undefined;
  const server = options.target ?? creds?.server;
  if (server === undefined) {
    throw new KubeTestenvError(
      "USAGE",
      "startFaultProxy needs `target` (the API server's URL) or `kubeconfig`",
    );
  }
  const target = new URL(server);
  if (target.protocol !== "https:") {
    throw new KubeTestenvError("USAGE", `startFaultProxy: target ${server} is not an https URL`);
  }
  const ca = options.ca ?? creds?.ca;
  return { target, ...(ca !== undefined ? { ca } : {}), insecure: creds?.insecureSkipTlsVerify === true };
}

/**
 * Starts the fault proxy on 127.0.0.1. Clients that present a client certificate must use a kubeconfig from
 * `kubeconfigFor()`: the proxy then forwards with that same certificate (it holds a copy), after the TLS
 * handshake proved the client has its key. Bearer tokens pass through in the Authorization header.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { target, ca: targetCa, insecure } = resolveTarget(options);
  const dir = await mkdtemp(join(tmpdir(), "kube-testenv-proxy-"));
  removeAtExit(dir);
  const pki = await createServingPki(dir, "kube-testenv-fault-proxy").catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });

  // No keep-alive upstream: a pooled connection the API server closed meanwhile would turn into a 502 the
  // test did not ask for. A fresh loopback TLS connection per request costs about a millisecond.
  const tls = { keepAlive: false, rejectUnauthorized: !insecure, ...(targetCa ? { ca: targetCa } : {}) };
  const anonymous = new Agent(tls);
  const identities = new Map<string, Agent>(); // client certificate SHA-256 fingerprint -> upstream agent
  const upstream = (agent: Agent): Upstream => ({
    hostname: target.hostname,
    port: Number(target.port || 443),
    agent,
  });

  const log: Entry[] = [];
  const armed = new Set<Armed>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const entry = newEntry(log.length + 1, req);
    log.push(entry);
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    let agent = anonymous;
    if (peer?.fingerprint256) {
      const known = identities.get(peer.fingerprint256);
      if (known === undefined) {
        entry.error = "unknown client certificate";
        answer(res, entry, 401, {
          ...statusBody(401),
          message:
            "kube-testenv fault proxy: this client certificate was not registered; use a kubeconfig from kubeconfigFor()",
        });
        return;
      }
      agent = known;
    }

    // Every armed rule sees the request (each keeps its own count); the first applying rule with a fault decides.
    const applying = [...armed].filter((a) => a.counter.offer(entry.method, entry.path));
    const fault = applying.find((a) => a.rule.fault !== undefined)?.rule.fault;
    entry.fault = fault;
    for (const a of applying) a.hits.push(entry);
    const settle = () => {
      for (const a of applying) a.resolve(entry);
    };
    res.once("close", () => {
      if (entry.state === "open") entry.state = res.writableFinished ? "answered" : "cut";
      settle();
    });

    switch (fault?.kind) {
      case undefined:
        return forward(req, res, entry, upstream(agent), false);
      case "reset-after-forward":
        return forward(req, res, entry, upstream(agent), true);
      case "status":
        // Read the body first, as the API server would: the connection then stays usable for the next request.
        req.resume();
        req.once("end", () =>
          answer(res, entry, fault.status, fault.body ?? statusBody(fault.status), fault.headers),
        );
        return;
      case "reset":
        return cut(req);
      case "timeout":
        req.resume();
        settle(); // the request is now held; the caller can act while the client waits
        return;
      case "delay": {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) forward(req, res, entry, upstream(agent), false);
        }, fault.ms);
        timers.add(timer);
        res.once("close", () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
        return;
      }
    }
  };

  const server = createServer(
    {
      cert: pki.servingCert,
      key: pki.servingKey,
      // Ask for a client certificate but let the handshake succeed without one (bearer-token clients);
      // certificates are checked against the registered identities in onRequest.
      requestCert: true,
      rejectUnauthorized: false,
    },
    onRequest,
  );
  // As kube-apiserver (IdleTimeout 90 s): Node's default of 5 s would close idle client connections the
  // client may be about to reuse, a reset no rule asked for.
  server.keepAliveTimeout = 90_000;
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
    throw err;
  }
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("unexpected server address");
  const url = `https://127.0.0.1:${address.port}`;

  let kubeconfigs = 0;
  let closing: Promise<void> | undefined;

  const proxy: FaultProxy = {
    url,
    ca: pki.caCert,
    requests: log,
    async kubeconfigFor(kubeconfigPath) {
      const creds = readKubeconfig(kubeconfigPath);
      const namespace = contextNamespace(kubeconfigPath);
      const path = join(dir, `client-${++kubeconfigs}.kubeconfig`);
      const base = { name: "fault-proxy", server: url, ca: pki.caCert, ...(namespace ? { namespace } : {}) };
      if (creds.cert && creds.key) {
        const fingerprint = new X509Certificate(creds.cert).fingerprint256;
        if (!identities.has(fingerprint)) {
          identities.set(fingerprint, new Agent({ ...tls, cert: creds.cert, key: creds.key }));
        }
        await writeKubeconfig(path, { ...base, cert: creds.cert, key: creds.key });
      } else if (creds.token) {
        await writeKubeconfig(path, { ...base, token: creds.token });
      } else {
        throw new KubeTestenvError(
          "KUBECONFIG_INVALID",
          `kubeconfig ${kubeconfigPath}: the fault proxy supports bearer-token and client-certificate users only`,
        );
      }
      return path;
    },
    arm(rule) {
      validateRule(rule);
      if (closing) throw new KubeTestenvError("PROXY_CLOSED", "the fault proxy is closed");
      const a = new Armed(rule, (x) => armed.delete(x));
      armed.add(a);
      return a;
    },
    disarm() {
      for (const a of [...armed]) a.disarm();
    },
    nextMatch(match) {
      // Only observe, even if the caller passed a whole FaultRule.
      const { fault: _fault, ...observe } = match as FaultRule;
      return proxy.arm(observe).hit;
    },
    close() {
      closing ??= (async () => {
        for (const a of armed) a.counter.active = false;
        for (const t of timers) clearTimeout(t);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
        // One more turn: the responses' 'close' events (which settle hits with the cut request) come first.
        await new Promise((resolve) => setImmediate(resolve));
        for (const agent of [anonymous, ...identities.values()]) agent.destroy();
        const err = new KubeTestenvError(
          "PROXY_CLOSED",
          "the fault proxy closed before the awaited request came",
        );
        for (const a of armed) a.reject(err);
        armed.clear();
        await rm(dir, { recursive: true, force: true });
        liveDirs.delete(dir);
      })();
      return closing;
    },
  };
  return proxy;
}
