// The physical floor of a full synchronization, for bench/agent-sync.bench.ts: the Applications and Secrets the agent
// created, created again under fresh names by a plain loop — keep-alive HTTPS POSTs (node:https, no client library)
// with the agent's identity, each Application's Secrets right after it with its uid as owner, at the agent's write
// concurrency — against the same API server. What is left when nothing but the writes themselves is done.
import { Agent, request } from "node:https";
import { performance } from "node:perf_hooks";
import type { Application, SecretObject } from "@runtime-agent/k8s-store";
import { readKubeconfig } from "@runtime-agent/kube-testenv";
import { runTasks, WRITE_CONCURRENCY, type Task } from "../src/controller/write-executor.js";

export interface FloorResult {
  seconds: number;
  applications: number;
  secrets: number;
  concurrency: number;
}

/**
 * Creates copies of `applications` and `secrets` (named `<prefix><name>`; each Secret owned by the copy of the
 * Application its owner reference names) with plain POSTs as the identity of `kubeconfigPath`. The bodies are the
 * objects as listed, without what the server adds (uid, resourceVersion, managedFields, ...). In write-executor's
 * order (its runTasks), the agent's WRITE_CONCURRENCY in flight.
 */
export async function floorCreate(
  kubeconfigPath: string,
  applications: readonly Application[],
  secrets: readonly SecretObject[],
  options: { prefix?: string } = {},
): Promise<FloorResult> {
  const prefix = options.prefix ?? "floor-";
  const concurrency = WRITE_CONCURRENCY;
  const credentials = readKubeconfig(kubeconfigPath);
  const server = new URL(credentials.server);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: credentials.ca, cert: credentials.cert, key: credentials.key });
  // The agent's identity in kube-testenv is a bearer token, as an in-cluster ServiceAccount's is.
  const auth: Record<string, string> = credentials.token ? { authorization: `Bearer ${credentials.token}` } : {};
  const post = (path: string, body: string, wantBody: boolean): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        { agent, host: server.hostname, port: server.port, method: "POST", path: `${path}?fieldManager=compass-runtime-agent`, headers: { ...auth, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          if (wantBody || (res.statusCode ?? 0) >= 300) res.on("data", (c: Buffer) => chunks.push(c));
          else res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  // Bodies first (not timed): what the agent sent, as far as the listing shows it.
  const secretsOf = new Map<string, SecretObject[]>();
  for (const s of secrets) {
    const owner = s.metadata.ownerReferences?.find((o) => o.kind === "Application")?.name ?? "";
    secretsOf.set(owner, [...(secretsOf.get(owner) ?? []), s]);
  }
  const meta = (m: { labels?: Record<string, string>; annotations?: Record<string, string> }) => ({
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  });
  const appBody = (a: Application) => JSON.stringify({ apiVersion: a.apiVersion, kind: a.kind, metadata: { name: `${prefix}${a.metadata.name}`, ...meta(a.metadata) }, spec: a.spec });
  const secretBody = (s: SecretObject, owner: string, uid: string) => {
    const ownerReferences = (s.metadata.ownerReferences ?? []).map((o) => (o.kind === "Application" ? { ...o, name: `${prefix}${owner}`, uid } : o));
    const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]));
    return JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: `${prefix}${s.metadata.name}`, namespace: s.metadata.namespace, ...meta(s.metadata), ownerReferences }, type: s.type, data });
  };
  const bodies = applications.map((a) => ({ name: a.metadata.name, body: appBody(a) }));

  let failures = 0;
  let firstFailure = "";
  const fail = (what: string, r: { status: number; body: string }) => {
    failures++;
    firstFailure ||= `${what}: ${r.status} ${r.body.slice(0, 300)}`;
  };
  const started = performance.now();
  await runTasks(
    bodies.map(({ name, body }) => async (): Promise<Task[]> => {
      const r = await post("/apis/applicationconnector.kyma-project.io/v1alpha1/applications", body, true);
      if (r.status !== 201) {
        fail(`create Application ${prefix}${name}`, r);
        return [];
      }
      const uid = (JSON.parse(r.body) as { metadata: { uid: string } }).metadata.uid;
      return (secretsOf.get(name) ?? []).map((s) => async () => {
        const rs = await post(`/api/v1/namespaces/${encodeURIComponent(s.metadata.namespace ?? "")}/secrets`, secretBody(s, name, uid), false);
        if (rs.status !== 201) fail(`create Secret ${prefix}${s.metadata.name}`, rs);
      });
    }),
    concurrency,
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  if (failures > 0) throw new Error(`floor: ${failures} creates failed, e.g. ${firstFailure}`);
  return { seconds, applications: applications.length, secrets: secrets.length, concurrency };
}
