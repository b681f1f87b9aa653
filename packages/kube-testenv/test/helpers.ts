import { execFileSync } from "node:child_process";
import { request as httpsRequest } from "node:https";
import { createConnection } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeClient } from "../src/client.js";
import { readKubeconfig, type KubeCredentials } from "../src/kubeconfig.js";

export const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

export function clientFor(kubeconfigPath: string): KubeClient {
  return new KubeClient(readKubeconfig(kubeconfigPath));
}

export function hasKubectl(): boolean {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Resolves true when something accepts TCP connections on the port. */
export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface WatchEvent {
  type: string;
  object: { metadata: { name: string } };
}

export interface Watch {
  status: number;
  /** The first event (already received or still to come) that satisfies `pred`. */
  next(pred: (e: WatchEvent) => boolean): Promise<WatchEvent>;
  /** Whether the server ended the stream. */
  ended(): boolean;
  close(): void;
}

/**
 * Opens a watch and parses its newline-delimited JSON events as they arrive (KubeClient buffers whole bodies,
 * which is exactly what a watch test must not do).
 */
export function openWatch(creds: KubeCredentials, path: string): Promise<Watch> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, creds.server),
      {
        agent: false,
        ...(creds.ca ? { ca: creds.ca } : {}),
        ...(creds.cert && creds.key ? { cert: creds.cert, key: creds.key } : {}),
        headers: creds.token ? { authorization: `Bearer ${creds.token}` } : {},
      },
      (res) => {
        const events: WatchEvent[] = [];
        const waiters: { pred: (e: WatchEvent) => boolean; resolve: (e: WatchEvent) => void }[] = [];
        let buffered = "";
        let ended = false;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
            const e = JSON.parse(buffered.slice(0, nl)) as WatchEvent;
            buffered = buffered.slice(nl + 1);
            events.push(e);
            for (const w of waiters.filter((x) => x.pred(e))) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(e);
            }
          }
        });
        res.on("error", () => undefined); // close() destroys the stream on purpose
        res.on("end", () => (ended = true));
        resolve({
          status: res.statusCode ?? 0,
          next: (pred) =>
            new Promise((resolveEvent) => {
              const seen = events.find(pred);
              if (seen) resolveEvent(seen);
              else waiters.push({ pred, resolve: resolveEvent });
            }),
          ended: () => ended,
          close: () => req.destroy(),
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** An https request the test can abort (the client "gives up"), with the credentials of a kubeconfig. */
export function abortableRequest(
  creds: KubeCredentials,
  method: string,
  path: string,
  body: unknown,
): { response: Promise<number>; abort(): void } {
  const controller = new AbortController();
  const payload = JSON.stringify(body);
  const response = new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, creds.server),
      {
        method,
        agent: false,
        signal: controller.signal,
        ...(creds.ca ? { ca: creds.ca } : {}),
        ...(creds.cert && creds.key ? { cert: creds.cert, key: creds.key } : {}),
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
          ...(creds.token ? { authorization: `Bearer ${creds.token}` } : {}),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
  return { response, abort: () => controller.abort() };
}
