import { request as httpsRequest, Agent } from "node:https";
import { request as httpRequest } from "node:http";
import { KubeTestenvError } from "./errors.js";
import type { KubeCredentials } from "./kubeconfig.js";

export interface KubeResponse {
  status: number;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** A Kubernetes object as read from a manifest (only the fields kube-testenv looks at are typed). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A deliberately small HTTPS client for the API server: enough to create namespaces, apply RBAC and CRDs
 * with server-side apply and to poll readiness. The agent itself uses packages/k8s-store.
 */
export class KubeClient {
  readonly server: URL;
  private readonly agent: Agent | undefined;
  private readonly headers: Record<string, string> = {};
  private readonly discovery = new Map<string, Promise<ApiResource[]>>();

  constructor(creds: KubeCredentials) {
    this.server = new URL(creds.server);
    if (this.server.protocol === "https:") {
      this.agent = new Agent({
        keepAlive: true,
        maxSockets: 8,
        ...(creds.ca ? { ca: creds.ca } : {}),
        ...(creds.cert && creds.key ? { cert: creds.cert, key: creds.key } : {}),
        rejectUnauthorized: creds.insecureSkipTlsVerify !== true,
      });
    }
    if (creds.token) this.headers["authorization"] = `Bearer ${creds.token}`;
    else if (creds.username && creds.password) {
      this.headers["authorization"] =
        `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
    }
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent?.destroy();
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    timeoutMs = 10_000,
  ): Promise<KubeResponse> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const headers: Record<string, string> = { accept: "application/json", ...this.headers };
    if (payload !== undefined) {
      headers["content-type"] = contentType;
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    const doRequest = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = doRequest(url, { method, headers, agent: this.agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: text, json });
        });
        res.on("error", reject);
      });
      req.on("timeout", () =>
        req.destroy(new Error(`${method} ${url.href} timed out after ${timeoutMs} ms`)),
      );
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Like request() but throws API_ERROR unless the status is 2xx. */
  async expectOk(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse> {
    const res = await this.request(method, path, body, contentType);
    if (res.status < 200 || res.status >= 300) {
      const message =
        isRecord(res.json) && typeof res.json["message"] === "string"
          ? res.json["message"]
          : res.body.slice(0, 500);
      throw new KubeTestenvError("API_ERROR", `${method} ${path}: HTTP ${res.status}: ${message}`, {
        status: res.status,
        retryable: res.status >= 500 || res.status === 429 || res.status === 409,
      });
    }
    return res;
  }

  private groupVersionPath(apiVersion: string): string {
    return apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  }

  /** Discovery for one group/version; cached unless `fresh`. */
  resources(apiVersion: string, fresh = false): Promise<ApiResource[]> {
    const cached = this.discovery.get(apiVersion);
    if (cached && !fresh) return cached;
    const p = this.request("GET", this.groupVersionPath(apiVersion)).then((res) => {
      if (res.status === 404) return [];
      if (res.status !== 200 || !isRecord(res.json) || !Array.isArray(res.json["resources"])) {
        throw new KubeTestenvError("API_ERROR", `discovery of ${apiVersion}: HTTP ${res.status}`, {
          status: res.status,
          retryable: true,
        });
      }
      return (res.json["resources"] as unknown[]).filter(isRecord).map((r) => ({
        name: String(r["name"]),
        kind: String(r["kind"]),
        namespaced: r["namespaced"] === true,
      }));
    });
    this.discovery.set(apiVersion, p);
    p.catch(() => this.discovery.delete(apiVersion));
    return p;
  }

  /** REST path of an object, resolved through discovery. */
  async objectPath(obj: KubeObject): Promise<string> {
    const resources = await this.resources(obj.apiVersion);
    const r = resources.find((x) => x.kind === obj.kind && !x.name.includes("/"));
    if (!r) {
      throw new KubeTestenvError(
        "MANIFEST_INVALID",
        `the API server does not serve kind ${obj.kind} in ${obj.apiVersion} (object ${obj.metadata.name})`,
      );
    }
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata.namespace ?? "default")}` : "";
    return `${this.groupVersionPath(obj.apiVersion)}${ns}/${r.name}/${encodeURIComponent(obj.metadata.name)}`;
  }

  /** Server-side apply (field manager `kube-testenv`, forced): creates or updates the object. */
  async apply(obj: KubeObject): Promise<unknown> {
    const path = await this.objectPath(obj);
    const res = await this.expectOk(
      "PATCH",
      `${path}?fieldManager=kube-testenv&force=true`,
      obj,
      "application/apply-patch+yaml",
    );
    return res.json;
  }
}
