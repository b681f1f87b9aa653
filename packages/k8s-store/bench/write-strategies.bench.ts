// tsx packages/k8s-store/bench/write-strategies.bench.ts — what a first sync's writes cost the API server, by
// strategy: POST (create) vs server-side apply PATCH, at several concurrencies, for Applications and Secrets.
// Raw node:https keep-alive requests (no client library), interleaved in slices in rotating order so that other
// load on the machine hits every strategy alike. Prints objects/s per strategy and the client CPU.
import { readdirSync, readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { startControlPlane } from "@runtime-agent/kube-testenv";

const PER = Number(process.env["BENCH_PER_STRATEGY"] ?? 600);
const SLICES = Number(process.env["BENCH_SLICES"] ?? 6);
const CONCURRENCIES = (process.env["BENCH_CONCURRENCIES"] ?? "16,64").split(",").map(Number);
const VERBS = (process.env["BENCH_VERBS"] ?? "post,apply").split(",");
const KINDS = (process.env["BENCH_KINDS"] ?? "app,secret").split(",");
const NS = "kyma-system";

function appBody(name: string, i: number): object {
  return {
    apiVersion: "applicationconnector.kyma-project.io/v1alpha1",
    kind: "Application",
    metadata: { name, labels: { "applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent" }, annotations: { "compass.kyma-project.io/desired-hash": "f".repeat(64) } },
    spec: {
      description: `Application ${i}`,
      skipVerify: false,
      encodeUrl: false,
      labels: { "connected-app": name },
      displayName: "",
      providerDisplayName: "",
      longDescription: "",
      compassMetadata: { applicationId: `a${String(i).padStart(7, "0")}-0000-4000-8000-000000000000`, authentication: { clientIds: [`c${i}-0000-4000-8000-000000000000`] } },
      services: Array.from({ length: 5 }, (_, s) => ({
        id: `b${String(i).padStart(5, "0")}${s}-0000-4000-8000-000000000000`,
        identifier: "",
        name: `bundle-${s}-abcde`,
        displayName: `Bundle ${s}`,
        description: "Description not provided",
        providerDisplayName: "",
        entries: [
          ...[0, 1, 2].map((e) => ({
            type: "API",
            id: `api${i}-${s}-${e}-0000-4000-8000-000000000000`,
            name: `API ${e}`,
            targetUrl: `https://app-${i}.example.com/api/v${e + 1}`,
            centralGatewayUrl: `http://central-application-gateway.kyma-system.svc.cluster.local:8082/${name}/bundle-${s}/api-${e}`,
            gatewayUrl: "",
            credentials: s % 2 === 0 ? { type: "Basic", secretName: `${name}-b${s}` } : { type: "", secretName: "" },
          })),
          ...[0, 1].map((e) => ({ type: "Events", id: `ev${i}-${s}-${e}`, name: `Events ${e}`, targetUrl: "", centralGatewayUrl: "", gatewayUrl: "", credentials: { type: "", secretName: "" } })),
        ],
      })),
    },
  };
}

function secretBody(name: string, i: number): object {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: NS,
      labels: { app: `app-${i}`, bundleId: `b${i}`, "applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent" },
      annotations: { "compass.kyma-project.io/desired-hash": "f".repeat(64) },
    },
    type: "Opaque",
    data: { username: Buffer.from(`user-${i}`).toString("base64"), password: Buffer.from(`password-${i}-${"y".repeat(16)}`).toString("base64") },
  };
}

interface Strategy {
  name: string;
  concurrency: number;
  requests: (slice: number, from: number, to: number) => Req[];
  ms: number;
  cpuUs: number;
  serverMs: number;
  n: number;
}

interface Req {
  method: string;
  path: string;
  contentType: string;
  body: string;
  accept?: string;
}
const PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

const strategies: Strategy[] = [];
for (const kind of KINDS) {
  for (const c of CONCURRENCIES) {
    for (const verb of VERBS) {
      const tag = `${kind}-${verb}-${c}`;
      strategies.push({
        name: `${kind.padEnd(6)} ${verb.padEnd(5)} c=${c}`,
        concurrency: c,
        ms: 0,
        cpuUs: 0,
        serverMs: 0,
        n: 0,
        requests: (_slice, from, to) =>
          Array.from({ length: to - from }, (_, k) => {
            const i = from + k;
            const name = `${tag}-${i}`;
            const body = JSON.stringify(kind === "app" ? appBody(name, i) : secretBody(name, i));
            const base = kind === "app" ? "/apis/applicationconnector.kyma-project.io/v1alpha1/applications" : `/api/v1/namespaces/${NS}/secrets`;
            const req: Req = verb.startsWith("post")
              ? { method: "POST", path: `${base}?fieldManager=compass-runtime-agent`, contentType: "application/json", body }
              : { method: "PATCH", path: `${base}/${name}?fieldManager=compass-runtime-agent&force=true`, contentType: "application/apply-patch+yaml", body };
            if (verb.endsWith("-meta")) req.accept = PARTIAL;
            return req;
          }),
      });
    }
  }
}

const cp = await startControlPlane({ crds: [fileURLToPath(new URL("../../../schemas/crds", import.meta.url))], rbacDir: fileURLToPath(new URL("../test/fixtures/rbac", import.meta.url)) });
const kc = new KubeConfig();
kc.loadFromFile(cp.agentKubeconfigPath);
const cluster = kc.getCurrentCluster()!;
const user = kc.getCurrentUser()!;
const read = (data?: string, file?: string): Buffer | undefined => (data ? Buffer.from(data, "base64") : file ? readFileSync(file) : undefined);
const server = new URL(cluster.server);

/** CPU time (ms) of the kube-apiserver and etcd processes of this control plane, from /proc. */
const etcdPort = (() => {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (cmd.includes("kube-apiserver") && cmd.includes(`--secure-port=${server.port}`)) return /:(\d+)$/.exec(cmd.find((a) => a.startsWith("--etcd-servers=")) ?? "")?.[1];
    } catch {
      // gone
    }
  }
  return undefined;
})();
const serverPids = readdirSync("/proc")
  .filter((d) => /^\d+$/.test(d))
  .filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return (cmd.includes("kube-apiserver") && cmd.includes(`--secure-port=${server.port}`)) || (cmd.includes("etcd") && cmd.includes(`http://127.0.0.1:${etcdPort}`));
    } catch {
      return false;
    }
  });
if (serverPids.length !== 2) throw new Error(`expected 2 server processes, found ${serverPids.length}`);
const serverCpuMs = (): number =>
  serverPids.reduce((sum, pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").slice(readFileSync(`/proc/${pid}/stat`, "utf8").lastIndexOf(")") + 2).split(" ");
    return sum + ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  }, 0);
const agent = new Agent({ keepAlive: true, ca: read(cluster.caData, cluster.caFile), cert: read(user.certData, user.certFile), key: read(user.keyData, user.keyFile) });

async function run(reqs: Req[], concurrency: number): Promise<void> {
  let next = 0;
  let failures = 0;
  let example = "";
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const r = reqs[next++];
        if (r === undefined) return;
        const [status, text] = await new Promise<[number, string]>((resolve, reject) => {
          const req = request(
            { agent, host: server.hostname, port: server.port, method: r.method, path: r.path, headers: { "content-type": r.contentType, "content-length": Buffer.byteLength(r.body), ...(r.accept ? { accept: r.accept } : {}) } },
            (res) => {
              let t = "";
              res.on("data", (c: Buffer) => (t += c.length < 2000 ? c.toString() : ""));
              res.on("end", () => resolve([res.statusCode ?? 0, t]));
            },
          );
          req.on("error", reject);
          req.end(r.body);
        });
        if (status !== 201 && status !== 200) {
          failures++;
          example = `${status} ${text.slice(0, 300)}`;
        }
      }
    }),
  );
  if (failures > 0) throw new Error(`${failures} failed: ${example}`);
}

try {
  // warm-up
  for (const s of strategies) await run(s.requests(-1, PER * 10, PER * 10 + 20), s.concurrency);
  for (let slice = 0; slice < SLICES; slice++) {
    const from = Math.floor((slice * PER) / SLICES);
    const to = Math.floor(((slice + 1) * PER) / SLICES);
    const order = strategies.map((_, k) => strategies[(k + slice) % strategies.length]!);
    if (slice % 2 === 1) order.reverse();
    for (const s of order) {
      const reqs = s.requests(slice, from, to);
      const cpu = process.cpuUsage();
      const srv = serverCpuMs();
      const t = performance.now();
      await run(reqs, s.concurrency);
      s.ms += performance.now() - t;
      s.serverMs += serverCpuMs() - srv;
      const u = process.cpuUsage(cpu);
      s.cpuUs += u.user + u.system;
      s.n += reqs.length;
    }
  }
  for (const s of strategies) console.log(`${s.name.padEnd(24)} ${(s.n / (s.ms / 1000)).toFixed(1).padStart(7)} objects/s  client ${(s.cpuUs / 1000 / s.n).toFixed(3)} ms/object  apiserver+etcd ${(s.serverMs / s.n).toFixed(2)} ms/object`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
} finally {
  agent.destroy();
  await cp.stop();
}
