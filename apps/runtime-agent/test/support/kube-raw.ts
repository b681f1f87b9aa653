import { request } from "node:https";
import { readKubeconfig } from "@runtime-agent/kube-testenv";
import type { KubeCredentials } from "@runtime-agent/kube-testenv";

export interface RawResponse<T = unknown> {
  status: number;
  body: T;
}

/**
 * Plain HTTPS to the API server with the admin kubeconfig, for what the store does not offer on purpose
 * (listing Events, replacing a CRD, foreign Applications without the managed-by label, Leases).
 */
export class KubeRaw {
  readonly #creds: KubeCredentials;

  constructor(kubeconfigPath: string) {
    this.#creds = readKubeconfig(kubeconfigPath);
  }

  request<T = unknown>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<RawResponse<T>> {
    const url = new URL(path, this.#creds.server);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ...(this.#creds.ca ? { ca: this.#creds.ca } : {}),
          ...(this.#creds.cert ? { cert: this.#creds.cert } : {}),
          ...(this.#creds.key ? { key: this.#creds.key } : {}),
          rejectUnauthorized: !this.#creds.insecureSkipTlsVerify,
          headers: {
            accept: "application/json",
            ...(this.#creds.token ? { authorization: `Bearer ${this.#creds.token}` } : {}),
            ...(payload === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            let parsed: unknown = text;
            try {
              parsed = text === "" ? undefined : JSON.parse(text);
            } catch {
              // keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Like request, but throws unless the status is 2xx. */
  async ok<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const res = await this.request<T>(method, path, body, contentType);
    if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async events(namespace = "default"): Promise<KubeEvent[]> {
    const list = await this.ok<{ items: KubeEvent[] }>("GET", `/api/v1/namespaces/${namespace}/events`);
    return list.items;
  }

  async deleteEvents(namespace = "default"): Promise<void> {
    await this.ok("DELETE", `/api/v1/namespaces/${namespace}/events`);
  }
}

export interface KubeEvent {
  metadata: { name: string; namespace: string };
  type: string;
  reason: string;
  message: string;
  count?: number;
  involvedObject: { kind: string; name: string };
}
