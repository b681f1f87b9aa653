// pnpm bench (in packages/k8s-store) — the store against a real kube-apiserver + etcd (kube-testenv):
//  1. the store, first pass: applyAll of 1,000 Applications (5 services with entries each) and 2,500 Secrets
//     (owner references to their Application) as the agent's ServiceAccount;
//  2. the raw limit: a plain keep-alive HTTPS create loop (node:https, no client library) of the same objects
//     under fresh names at the same concurrency — interleaved with 1 in 10 slices (ABBA) so that other load on
//     the machine hits both alike;
//  3. the store, second pass with the same objects: must send 0 writes.
// The API server, etcd and this process share the machine's CPUs, so the store's client CPU per object counts.
// Prints a table, then one JSON record as the last line.
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { Agent, request } from "node:https";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { KubeConfig } from "@kubernetes/client-node";
import { startControlPlane } from "@runtime-agent/kube-testenv";
import {
  createK8sStore,
  diffCounts,
  type Application,
  type ApplicationSpec,
  type ApplyResult,
  type DesiredApplication,
  type DesiredAppSecret,
  type RequestCounts,
  type SecretObject,
} from "../src/index.js";

const APPS = Number(process.env["BENCH_K8S_APPS"] ?? 1000);
const SECRETS = Number(process.env["BENCH_K8S_SECRETS"] ?? 2500);
const CONCURRENCY = Number(process.env["BENCH_K8S_CONCURRENCY"] ?? 16);
const SLICES = Number(process.env["BENCH_K8S_SLICES"] ?? 10);
const NS = "kyma-system";

const crdDir = fileURLToPath(new URL("../../../schemas/crds", import.meta.url));
const rbacDir = fileURLToPath(new URL("../test/fixtures/rbac", import.meta.url));

/** An Application as the agent writes it: 5 services (API bundles), each with 2 API entries and 1 Events entry. */
function appSpec(i: number): ApplicationSpec {
  return {
    description: `Application ${i} registered in Compass for the benchmark`,
    skipVerify: false,
    encodeUrl: false,
    labels: { "connected-app": `bench-app-${i}` },
    displayName: `Bench App ${i}`,
    providerDisplayName: "SAP",
    longDescription: "A realistic application with several API bundles, credentials and event definitions.",
    tenant: "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae",
    compassMetadata: { applicationId: `a${String(i).padStart(7, "0")}-0000-4000-8000-000000000000`, authentication: { clientIds: [`client-${i}`] } },
    services: Array.from({ length: 5 }, (_, s) => ({
      id: `b${String(i).padStart(5, "0")}${s}-0000-4000-8000-000000000000`,
      identifier: "",
      name: `bundle-${s}`,
      displayName: `Bundle ${s}`,
      description: `API bundle ${s} of application ${i}`,
      providerDisplayName: "SAP",
      entries: [
        ...[0, 1].map((e) => ({
          type: "API" as const,
          id: `api-${i}-${s}-${e}`,
          name: `orders-api-${e}`,
          targetUrl: `https://app-${i}.example.com/api/v${e + 1}`,
          centralGatewayUrl: `http://central-application-gateway.kyma-system:8082/bench-app-${i}/bundle-${s}/orders-api-${e}`,
          gatewayUrl: "",
          specificationUrl: `https://app-${i}.example.com/api/v${e + 1}/openapi.json`,
          apiType: "OPEN_API",
          credentials:
            s < 2
              ? { type: s === 0 ? "OAuth" : "Basic", secretName: `bench-app-${i}-b${s}`, ...(s === 0 ? { authenticationUrl: `https://auth.example.com/oauth/token` } : {}) }
              : { type: "", secretName: "" },
          ...(s === 2 && i % 2 === 0 ? { requestParametersSecretName: `params-bench-app-${i}-b${s}` } : {}),
        })),
        { type: "Events" as const, id: `ev-${i}-${s}`, name: `order-events-${s}`, targetUrl: "", centralGatewayUrl: "", gatewayUrl: "", credentials: { type: "", secretName: "" } },
      ],
    })),
  };
}

const apps: DesiredApplication[] = Array.from({ length: APPS }, (_, i) => ({ metadata: { name: `bench-app-${i}` }, spec: appSpec(i) }));

/** 2,500 Secrets for 1,000 apps: OAuth + Basic credentials for every app, request parameters for every other one. */
const secrets: DesiredAppSecret[] = [];
for (let i = 0; secrets.length < SECRETS; i = (i + 1) % APPS) {
  const round = Math.floor(secrets.length / APPS);
  if (round === 0) secrets.push({ name: `bench-app-${i}-b0`, owner: `bench-app-${i}`, labels: { app: `bench-app-${i}`, bundleId: "b0" }, data: { clientId: `client-${i}`, clientSecret: `secret-${i}-${"x".repeat(24)}` } });
  else if (round === 1) secrets.push({ name: `bench-app-${i}-b1`, owner: `bench-app-${i}`, labels: { app: `bench-app-${i}`, bundleId: "b1" }, data: { username: `user-${i}`, password: `password-${i}-${"y".repeat(16)}` } });
  else
    secrets.push({
      name: `params-bench-app-${i}-b2`,
      owner: `bench-app-${i}`,
      labels: { app: `bench-app-${i}`, bundleId: "b2" },
      data: { headers: JSON.stringify({ "X-Tenant": [`t-${i}`] }), queryParameters: JSON.stringify({ client: [`c-${i}`] }) },
    });
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

/** The raw API server limit: POST each object once over keep-alive HTTPS at `concurrency`, no client library. */
async function rawCreateLoop(kubeconfigPath: string, bodies: { path: string; body: string }[], concurrency: number): Promise<number> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster || !user) throw new Error("kubeconfig without cluster/user");
  const read = (data?: string, file?: string): Buffer | undefined => (data ? Buffer.from(data, "base64") : file ? readFileSync(file) : undefined);
  const server = new URL(cluster.server);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: read(cluster.caData, cluster.caFile), cert: read(user.certData, user.certFile), key: read(user.keyData, user.keyFile) });
  // kube-testenv's agent identity authenticates with a bearer token, as an in-cluster ServiceAccount does.
  const auth: Record<string, string> = user.token ? { authorization: `Bearer ${user.token}` } : {};
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= bodies.length) return;
        const { path, body } = bodies[i] as { path: string; body: string };
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(
            { agent, host: server.hostname, port: server.port, method: "POST", path: `${path}?fieldManager=raw-bench`, headers: { ...auth, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
            (res) => {
              res.resume();
              res.on("end", () => resolve(res.statusCode ?? 0));
            },
          );
          req.on("error", reject);
          req.end(body);
        });
        if (status !== 201) failures++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  if (failures > 0) throw new Error(`raw create loop: ${failures} requests failed`);
  return seconds;
}

function rawBodies(suffix: string): { path: string; body: string }[] {
  const out: { path: string; body: string }[] = [];
  for (const a of apps) {
    out.push({
      path: "/apis/applicationconnector.kyma-project.io/v1alpha1/applications",
      body: JSON.stringify({ apiVersion: "applicationconnector.kyma-project.io/v1alpha1", kind: "Application", metadata: { name: `${a.metadata.name}-${suffix}` }, spec: a.spec }),
    });
  }
  for (const s of secrets) {
    const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    out.push({ path: `/api/v1/namespaces/${NS}/secrets`, body: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: `${s.name}-${suffix}`, labels: s.labels }, type: "Opaque", data }) });
  }
  return out;
}


const cpStarted = performance.now();
const cp = await startControlPlane({ crds: [crdDir], rbacDir });
const controlPlaneSeconds = (performance.now() - cpStarted) / 1000;
const store = createK8sStore({ kubeconfigPath: cp.agentKubeconfigPath });
try {
  const objects = APPS + secrets.length;
  // Warm-up (connections, JIT, API server caches) for both contestants, with throw-away names.
  await rawCreateLoop(cp.agentKubeconfigPath, rawBodies("warm").slice(0, 100), CONCURRENCY);
  const warm = apps.slice(0, 50).map((a) => ({ ...a, metadata: { name: `warm-${a.metadata.name}` } }));
  await store.applications.applyAll(warm, { concurrency: CONCURRENCY });
  await Promise.all(warm.map((a) => store.applications.delete(a.metadata.name)));

  // 1 + 2. The store's first pass and the raw limit, interleaved in slices (ABBA order) so that load from other
  // processes on the machine and the growing etcd affect both alike. The store lists the live objects once,
  // as the agent does once per cycle, and applies each slice with them.
  const appIndex = new Map(apps.map((a, i) => [a.metadata.name, i]));
  const ownerIndex = (x: DesiredAppSecret): number => appIndex.get(x.owner ?? "") ?? 0;
  const rawAll = rawBodies("raw");
  const rawSecretBodies = new Map(secrets.map((x, i) => [x, rawAll[APPS + i] as { path: string; body: string }]));
  const c0 = store.counter.snapshot();
  let storeMs = 0;
  let storeCpuUs = 0;
  let rawMs = 0;
  let rawCpuUs = 0;
  const appResults: ApplyResult<unknown>[] = [];
  const secretResults: ApplyResult<unknown>[] = [];
  let liveApps: Application[] = [];
  let liveSecrets: SecretObject[] = [];
  {
    const t = performance.now();
    const cpu = process.cpuUsage();
    liveApps = await store.applications.listManaged();
    liveSecrets = await store.applications.listManagedSecrets();
    storeMs += performance.now() - t;
    const u = process.cpuUsage(cpu);
    storeCpuUs += u.user + u.system;
  }
  for (let slice = 0; slice < SLICES; slice++) {
    const from = Math.floor((slice * APPS) / SLICES);
    const to = Math.floor(((slice + 1) * APPS) / SLICES);
    const appSlice = apps.slice(from, to);
    const secretSlice = secrets.filter((x) => ownerIndex(x) >= from && ownerIndex(x) < to);
    const rawSlice = [...rawAll.slice(from, to), ...secretSlice.map((x) => rawSecretBodies.get(x) as { path: string; body: string })];
    const runStore = async (): Promise<void> => {
      const t = performance.now();
      const cpu = process.cpuUsage();
      appResults.push(...(await store.applications.applyAll(appSlice, { concurrency: CONCURRENCY, live: liveApps })));
      secretResults.push(...(await store.applications.applySecrets(secretSlice, { concurrency: CONCURRENCY, live: liveSecrets })));
      storeMs += performance.now() - t;
      const u = process.cpuUsage(cpu);
      storeCpuUs += u.user + u.system;
    };
    const runRaw = async (): Promise<void> => {
      const cpu = process.cpuUsage();
      rawMs += (await rawCreateLoop(cp.agentKubeconfigPath, rawSlice, CONCURRENCY)) * 1000;
      const u = process.cpuUsage(cpu);
      rawCpuUs += u.user + u.system;
    };
    if (slice % 2 === 0) {
      await runRaw();
      await runStore();
    } else {
      await runStore();
      await runRaw();
    }
  }
  const firstSeconds = storeMs / 1000;
  const rawSeconds = rawMs / 1000;
  const firstRequests = diffCounts(store.counter.snapshot(), c0);
  const failed = [...appResults, ...secretResults].filter((r) => !r.ok);
  if (failed.length > 0) throw new Error(`first pass: ${failed.length} objects failed, e.g. ${failed[0] && !failed[0].ok ? failed[0].error.message : ""}`);
  const created = [...appResults, ...secretResults].filter((r) => r.ok && r.outcome === "created").length;
  const firstThroughput = objects / firstSeconds;
  const rawThroughput = objects / rawSeconds;
  const rawCpuMsPerObject = rawCpuUs / 1000 / objects;
  const storeCpuMsPerObject = storeCpuUs / 1000 / objects;

  // 3. Store, second pass: nothing changed, so nothing may be written.
  const c1 = store.counter.snapshot();
  const t1 = performance.now();
  const again = [...(await store.applications.applyAll(apps, { concurrency: CONCURRENCY })), ...(await store.applications.applySecrets(secrets, { concurrency: CONCURRENCY }))];
  const secondSeconds = (performance.now() - t1) / 1000;
  const secondRequests = diffCounts(store.counter.snapshot(), c1);
  const secondWrites = secondRequests.create + secondRequests.update + secondRequests.patch + secondRequests.delete;
  const unchanged = again.filter((r) => r.ok && r.outcome === "unchanged").length;

  // The kernel's high-water mark of this process's resident set.
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const fraction = firstThroughput / rawThroughput;
  const req = (c: RequestCounts): string => Object.entries(c).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(", ") || "none";

  const rows: [string, string][] = [
    ["objects", `${APPS} Applications (5 services, 15 entries each) + ${secrets.length} Secrets, concurrency ${CONCURRENCY}`],
    ["control plane start", `${fmt(controlPlaneSeconds)} s`],
    ["raw create loop (node:https)", `${fmt(rawSeconds, 2)} s, ${fmt(rawThroughput)} objects/s, client CPU ${fmt(rawCpuMsPerObject, 3)} ms/object`],
    ["store first pass", `${fmt(firstSeconds, 2)} s, ${fmt(firstThroughput)} objects/s (${fmt(fraction * 100)} % of raw), ${created} created, client CPU ${fmt(storeCpuMsPerObject, 3)} ms/object`],
    ["  requests", req(firstRequests)],
    ["store second pass", `${fmt(secondSeconds, 2)} s, ${unchanged}/${objects} unchanged, ${secondWrites} writes`],
    ["  requests", req(secondRequests)],
    ["peak RSS (bench process)", `${fmt(peakRss / 1024 / 1024)} MiB`],
    ["machine", `${cpus().length} CPUs, load average ${loadavg().map((l) => fmt(l, 2)).join(" ")}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);

  const record = {
    bench: "k8s",
    applications: APPS,
    secrets: secrets.length,
    concurrency: CONCURRENCY,
    rawSeconds: Number(fmt(rawSeconds, 3)),
    slices: SLICES,
    rawClientCpuMsPerObject: Number(fmt(rawCpuMsPerObject, 3)),
    storeClientCpuMsPerObject: Number(fmt(storeCpuMsPerObject, 3)),
    loadAverage1m: Number(fmt(loadavg()[0] ?? 0, 2)),
    rawObjectsPerSecond: Number(fmt(rawThroughput)),
    firstPassSeconds: Number(fmt(firstSeconds, 3)),
    firstPassObjectsPerSecond: Number(fmt(firstThroughput)),
    fractionOfRaw: Number(fraction.toFixed(3)),
    firstPassRequests: firstRequests,
    secondPassSeconds: Number(fmt(secondSeconds, 3)),
    secondPassWrites: secondWrites,
    secondPassRequests: secondRequests,
    peakRssMiB: Number(fmt(peakRss / 1024 / 1024)),
  };
  console.log(JSON.stringify(record));
  if (secondWrites !== 0) process.exitCode = 1;
} finally {
  await store.close();
  await cp.stop();
}
