// pnpm bench (in packages/k8s-store) — the store's write path as the agent uses it
// (apps/runtime-agent/src/controller/write-executor.ts and synchronization.ts), against a real kube-apiserver + etcd
// (kube-testenv), as the agent's ServiceAccount:
//  1. first pass, a first synchronization: the agent's two metadata listings (Applications, app Secrets), then each
//     Application created with a POST (applications.create) and, right after it, its Secrets with a POST
//     (applications.createSecret, owner uid from the create answer: no lookup), BENCH_K8S_CONCURRENCY in flight
//     (default 16, the agent's WRITE_CONCURRENCY), an Application's Secrets taken before the next Application;
//  2. the physical floor: a plain keep-alive HTTPS loop (node:https, no client library) POSTing the same bodies
//     under fresh names, in the same order, at the same concurrency — interleaved with 1 in 10 slices (ABBA) so
//     that other load on the machine hits both alike; its copies are deleted afterwards (not timed);
//  3. no-change pass: the two metadata listings again; every object has the uid/resourceVersion its create
//     returned (the agent's no-change check), so nothing may be written;
//  4. change pass: every 10th Application (BENCH_K8S_CHANGE_EVERY) changed as write-executor changes one — read
//     (applications.find) and replaced with the resourceVersion read (applications.update) — and its Secrets'
//     data changed with one merge patch each, conditional on uid and resourceVersion (applications.patchSecret).
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
  APPLICATION_API_VERSION,
  APPLICATION_KIND,
  createK8sStore,
  diffCounts,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  secretBody,
  type ApplicationSpec,
  type DesiredApplication,
  type DesiredAppSecret,
  type ObjectMeta,
  type RequestCounts,
} from "../src/index.js";

const APPS = Number(process.env["BENCH_K8S_APPS"] ?? 1000);
const SECRETS = Number(process.env["BENCH_K8S_SECRETS"] ?? 2500);
const CONCURRENCY = Number(process.env["BENCH_K8S_CONCURRENCY"] ?? 16);
const SLICES = Number(process.env["BENCH_K8S_SLICES"] ?? 10);
const CHANGE_EVERY = Number(process.env["BENCH_K8S_CHANGE_EVERY"] ?? 10);
const NS = "kyma-system";
/** The agent's page size of metadata listings (apps/runtime-agent/src/controller/synchronization.ts). */
const METADATA_PAGE_SIZE = 2000;
const DESIRED_HASH_ANNOTATION = "compass.kyma-project.io/desired-hash";
/** Marks the copies of the raw loop (and the warm-up objects), to delete them in one request per kind. */
const COPY_LABEL = "bench.runtime-agent/copy";

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

/** The agent's objects carry its content hash (app-sync) as an annotation; a fixed one has the same size. */
const hashAnnotation = (i: number): Record<string, string> => ({ [DESIRED_HASH_ANNOTATION]: i.toString(16).padStart(64, "0") });

const apps: DesiredApplication[] = Array.from({ length: APPS }, (_, i) => ({ metadata: { name: `bench-app-${i}`, annotations: hashAnnotation(i) }, spec: appSpec(i) }));

/** 2,500 Secrets for 1,000 apps: OAuth + Basic credentials for every app, request parameters for every other one. */
const secrets: DesiredAppSecret[] = [];
for (let i = 0; secrets.length < SECRETS; i = (i + 1) % APPS) {
  const round = Math.floor(secrets.length / APPS);
  const common = { owner: `bench-app-${i}`, annotations: hashAnnotation(secrets.length), type: "Opaque" };
  if (round === 0) secrets.push({ ...common, name: `bench-app-${i}-b0`, labels: { app: `bench-app-${i}`, bundleId: "b0" }, data: { clientId: `client-${i}`, clientSecret: `secret-${i}-${"x".repeat(24)}` } });
  else if (round === 1) secrets.push({ ...common, name: `bench-app-${i}-b1`, labels: { app: `bench-app-${i}`, bundleId: "b1" }, data: { username: `user-${i}`, password: `password-${i}-${"y".repeat(16)}` } });
  else
    secrets.push({
      ...common,
      name: `params-bench-app-${i}-b2`,
      labels: { app: `bench-app-${i}`, bundleId: "b2" },
      data: { headers: JSON.stringify({ "X-Tenant": [`t-${i}`] }), queryParameters: JSON.stringify({ client: [`c-${i}`] }) },
    });
}
const secretsOf = new Map<string, DesiredAppSecret[]>();
for (const s of secrets) secretsOf.set(s.owner ?? "", [...(secretsOf.get(s.owner ?? "") ?? []), s]);

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

type Task = () => Promise<Task[] | void>;

/**
 * write-executor's order: at most `concurrency` tasks in flight; the tasks a task returns (an Application's
 * Secrets) run before the remaining initial ones (the next Applications).
 * A copy of runTasks in apps/runtime-agent/src/controller/write-executor.ts: a package cannot import app code, and a bench is no reason for a public export.
 */
async function runTasks(initial: Task[], concurrency: number): Promise<void> {
  const urgent: Task[] = [];
  let index = 0;
  const take = (): Task | undefined => urgent.pop() ?? (index < initial.length ? initial[index++] : undefined);
  const running = new Set<Promise<void>>();
  const spawn = (): void => {
    while (running.size < concurrency && (urgent.length > 0 || index < initial.length)) {
      const p: Promise<void> = (async () => {
        for (let task = take(); task !== undefined; task = take()) {
          const more = await task();
          if (more) urgent.push(...more);
        }
      })().finally(() => {
        running.delete(p);
        spawn();
      });
      running.add(p);
    }
  };
  spawn();
  while (running.size > 0) await Promise.race(running);
}

/** Plain HTTPS to the API server with a kubeconfig's identity: one keep-alive agent, no client library. */
class RawClient {
  private readonly agent: Agent;
  private readonly server: URL;
  private readonly auth: Record<string, string>;

  constructor(kubeconfigPath: string, maxSockets: number) {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (!cluster || !user) throw new Error("kubeconfig without cluster/user");
    const read = (data?: string, file?: string): Buffer | undefined => (data ? Buffer.from(data, "base64") : file ? readFileSync(file) : undefined);
    this.server = new URL(cluster.server);
    this.agent = new Agent({ keepAlive: true, maxSockets, ca: read(cluster.caData, cluster.caFile), cert: read(user.certData, user.certFile), key: read(user.keyData, user.keyFile) });
    // kube-testenv's agent identity authenticates with a bearer token, as an in-cluster ServiceAccount does.
    this.auth = user.token ? { authorization: `Bearer ${user.token}` } : {};
  }

  /** One request; the answer's body is read only when `wantBody`. */
  send(method: string, path: string, body: string | undefined, wantBody: boolean): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...this.auth };
      if (body !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      const req = request({ agent: this.agent, host: this.server.hostname, port: this.server.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        if (wantBody) res.on("data", (c: Buffer) => chunks.push(c));
        else res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: wantBody ? Buffer.concat(chunks).toString("utf8") : "" }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

const APPS_PATH = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications";
const SECRETS_PATH = `/api/v1/namespaces/${NS}/secrets`;

/** The body the store POSTs for an Application (ApplicationStore.create), under `name`, with extra labels. */
function appBody(app: DesiredApplication, name: string, extraLabels: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: APPLICATION_API_VERSION,
    kind: APPLICATION_KIND,
    metadata: { annotations: app.metadata.annotations, name, labels: { ...(app.metadata.labels ?? {}), [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, ...extraLabels } },
    spec: app.spec,
  });
}

/** The body the store POSTs for an app Secret (createSecret → SecretStore.create), owned by `owner`/`uid`. */
function secretCreateBody(s: DesiredAppSecret, name: string, owner: string, uid: string, extraLabels: Record<string, string>): string {
  return JSON.stringify(
    secretBody({
      namespace: NS,
      name,
      labels: { ...(s.labels ?? {}), app: owner, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, ...extraLabels },
      ...(s.annotations ? { annotations: s.annotations } : {}),
      type: s.type ?? "Opaque",
      data: s.data,
      ownerReferences: [{ apiVersion: APPLICATION_API_VERSION, kind: APPLICATION_KIND, name: owner, uid }],
    }),
  );
}

/** The physical floor: the same POSTs as the store's first pass, in the same order, with plain HTTPS. */
async function rawCreate(raw: RawClient, slice: DesiredApplication[], suffix: string, concurrency: number): Promise<number> {
  let failures = 0;
  let firstFailure = "";
  const fail = (what: string, status: number, body: string) => {
    failures++;
    firstFailure ||= `${what}: ${status} ${body.slice(0, 200)}`;
  };
  const labels = { [COPY_LABEL]: suffix };
  const started = performance.now();
  await runTasks(
    slice.map((app) => async (): Promise<Task[]> => {
      const name = `${app.metadata.name}-${suffix}`;
      const res = await raw.send("POST", `${APPS_PATH}?fieldManager=compass-runtime-agent`, appBody(app, name, labels), true);
      if (res.status !== 201) {
        fail(`create ${name}`, res.status, res.body);
        return [];
      }
      const uid = (JSON.parse(res.body) as { metadata: { uid: string } }).metadata.uid;
      return (secretsOf.get(app.metadata.name) ?? []).map((s) => async () => {
        const r = await raw.send("POST", `${SECRETS_PATH}?fieldManager=compass-runtime-agent`, secretCreateBody(s, `${s.name}-${suffix}`, name, uid, labels), false);
        if (r.status !== 201) fail(`create secret ${s.name}-${suffix}`, r.status, r.body);
      });
    }),
    concurrency,
  );
  const seconds = (performance.now() - started) / 1000;
  if (failures > 0) throw new Error(`raw create loop: ${failures} requests failed, e.g. ${firstFailure}`);
  return seconds;
}

/** Deletes the raw loop's copies (and the warm-up objects): one deletecollection per kind, as admin. */
async function deleteCopies(admin: RawClient): Promise<void> {
  const selector = `labelSelector=${encodeURIComponent(COPY_LABEL)}`;
  for (const path of [`${SECRETS_PATH}?${selector}`, `${APPS_PATH}?${selector}`]) {
    const res = await admin.send("DELETE", path, undefined, true);
    if (res.status !== 200) throw new Error(`delete copies ${path}: ${res.status} ${res.body.slice(0, 200)}`);
  }
}

const version = (meta: Pick<ObjectMeta, "uid" | "resourceVersion">): string => `${meta.uid ?? ""}/${meta.resourceVersion ?? ""}`;

const cpStarted = performance.now();
const cp = await startControlPlane({ crds: [crdDir], rbacDir });
const controlPlaneSeconds = (performance.now() - cpStarted) / 1000;
const store = createK8sStore({ kubeconfigPath: cp.agentKubeconfigPath });
const raw = new RawClient(cp.agentKubeconfigPath, CONCURRENCY);
const adminRaw = new RawClient(cp.kubeconfigPath, 2);
try {
  const objects = APPS + secrets.length;
  /** uid/resourceVersion and data keys of everything the store wrote: what the agent's sync memory keeps. */
  const written = new Map<string, { uid: string | undefined; resourceVersion: string | undefined; dataKeys: string[] }>();
  const failures: string[] = [];

  /**
   * The store's writes of a first synchronization for `slice`, in write-executor's order. With `copy`, under names
   * with that suffix and labelled as copies (the warm-up), and not remembered.
   */
  const storeCreate = async (slice: DesiredApplication[], copy?: string): Promise<void> => {
    const rename = (name: string): string => (copy === undefined ? name : `${name}-${copy}`);
    const extra: Record<string, string> = copy === undefined ? {} : { [COPY_LABEL]: copy };
    await runTasks(
      slice.map((desired) => async (): Promise<Task[]> => {
        const appName = rename(desired.metadata.name);
        let uid: string | undefined;
        try {
          const created = await store.applications.create({ ...desired, metadata: { ...desired.metadata, name: appName, labels: { ...(desired.metadata.labels ?? {}), ...extra } } });
          if (copy === undefined) written.set(`A/${appName}`, { uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion, dataKeys: [] });
          uid = created.metadata.uid;
        } catch (err) {
          failures.push(`create ${appName}: ${String(err)}`);
          return [];
        }
        return (secretsOf.get(desired.metadata.name) ?? []).map((s) => async () => {
          const name = rename(s.name);
          try {
            const x = await store.applications.createSecret({ ...s, name, owner: appName, labels: { ...(s.labels ?? {}), app: appName, ...extra }, ...(uid !== undefined ? { ownerUid: uid } : {}) });
            if (copy === undefined) written.set(`S/${name}`, { uid: x.metadata.uid, resourceVersion: x.metadata.resourceVersion, dataKeys: Object.keys(x.data) });
          } catch (err) {
            failures.push(`create secret ${name}: ${String(err)}`);
          }
        });
      }),
      CONCURRENCY,
    );
  };
  /** The agent's listings at the start of a cycle: metadata only, every Application, the app Secrets. */
  const listings = async () => {
    const [appMetas, secretMetas] = await Promise.all([
      store.applications.listMetadata({ labelSelector: "", pageSize: METADATA_PAGE_SIZE }),
      store.applications.listManagedSecretMetadata(NS, { pageSize: METADATA_PAGE_SIZE }),
    ]);
    return { appMetas, secretMetas };
  };

  // Warm-up (connections, JIT, API server caches) for both contestants, with throw-away names.
  const warmApps = apps.slice(0, 50);
  await rawCreate(raw, warmApps, "warm", CONCURRENCY);
  await storeCreate(warmApps, "warm-store");
  await deleteCopies(adminRaw);
  if (failures.length > 0) throw new Error(`warm-up: ${failures.length} objects failed, e.g. ${failures[0]}`);

  // 1 + 2. The store's first pass and the raw floor, interleaved in slices (ABBA order) so that load from other
  // processes on the machine and the growing etcd affect both alike. The store lists first, as the agent does.
  const c0 = store.counter.snapshot();
  let storeMs = 0;
  let storeCpuUs = 0;
  let rawMs = 0;
  let rawCpuUs = 0;
  const timed = async (fn: () => Promise<void>): Promise<{ ms: number; cpuUs: number }> => {
    const t = performance.now();
    const cpu = process.cpuUsage();
    await fn();
    const u = process.cpuUsage(cpu);
    return { ms: performance.now() - t, cpuUs: u.user + u.system };
  };
  {
    const { ms, cpuUs } = await timed(async () => void (await listings()));
    storeMs += ms;
    storeCpuUs += cpuUs;
  }
  for (let slice = 0; slice < SLICES; slice++) {
    const part = apps.slice(Math.floor((slice * APPS) / SLICES), Math.floor(((slice + 1) * APPS) / SLICES));
    const runStore = async (): Promise<void> => {
      const { ms, cpuUs } = await timed(() => storeCreate(part));
      storeMs += ms;
      storeCpuUs += cpuUs;
    };
    const runRaw = async (): Promise<void> => {
      let seconds = 0;
      const { cpuUs } = await timed(async () => void (seconds = await rawCreate(raw, part, "raw", CONCURRENCY)));
      rawMs += seconds * 1000;
      rawCpuUs += cpuUs;
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
  if (failures.length > 0) throw new Error(`first pass: ${failures.length} objects failed, e.g. ${failures[0]}`);
  const created = written.size;
  const firstThroughput = objects / firstSeconds;
  const rawThroughput = objects / rawSeconds;
  const rawCpuMsPerObject = rawCpuUs / 1000 / objects;
  const storeCpuMsPerObject = storeCpuUs / 1000 / objects;
  await deleteCopies(adminRaw); // the agent's listings would otherwise hold the raw loop's copies too

  // 3. No change: the listings, and every object as written (uid/resourceVersion) → nothing to write.
  const c1 = store.counter.snapshot();
  const t1 = performance.now();
  const { appMetas, secretMetas } = await listings();
  const listed = new Map<string, string>([...appMetas.map((a) => [`A/${a.metadata.name}`, version(a.metadata)] as const), ...secretMetas.map((x) => [`S/${x.metadata.name}`, version(x.metadata)] as const)]);
  const unchanged = [...written].filter(([key, w]) => listed.get(key) === version(w)).length;
  const secondSeconds = (performance.now() - t1) / 1000;
  const secondRequests = diffCounts(store.counter.snapshot(), c1);
  const secondWrites = secondRequests.create + secondRequests.update + secondRequests.patch + secondRequests.delete;

  // 4. One Application in CHANGE_EVERY changed, and its Secrets: write-executor's update path.
  const changedApps = apps.filter((_, i) => i % CHANGE_EVERY === 0);
  const c2 = store.counter.snapshot();
  const t2 = performance.now();
  let changedObjects = 0;
  await runTasks(
    changedApps.map((app) => async (): Promise<Task[]> => {
      try {
        const live = await store.applications.find(app.metadata.name);
        if (live === undefined) throw new Error("gone");
        await store.applications.update({ ...live, spec: { ...live.spec, description: `${live.spec.description ?? ""} (changed)` } });
        changedObjects++;
      } catch (err) {
        failures.push(`update ${app.metadata.name}: ${String(err)}`);
        return [];
      }
      return (secretsOf.get(app.metadata.name) ?? []).map((s) => async () => {
        const current = written.get(`S/${s.name}`);
        try {
          if (current === undefined) throw new Error("not written");
          const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, `${v}-changed`]));
          const ownerUid = written.get(`A/${app.metadata.name}`)?.uid;
          await store.applications.patchSecret({ ...s, data, ...(ownerUid !== undefined ? { ownerUid } : {}) }, current);
          changedObjects++;
        } catch (err) {
          failures.push(`patch secret ${s.name}: ${String(err)}`);
        }
      });
    }),
    CONCURRENCY,
  );
  const changeSeconds = (performance.now() - t2) / 1000;
  const changeRequests = diffCounts(store.counter.snapshot(), c2);
  if (failures.length > 0) throw new Error(`change pass: ${failures.length} objects failed, e.g. ${failures[0]}`);

  // The kernel's high-water mark of this process's resident set.
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const fraction = firstThroughput / rawThroughput;
  const req = (c: RequestCounts): string =>
    Object.entries(c)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";

  const rows: [string, string][] = [
    ["objects", `${APPS} Applications (5 services, 15 entries each) + ${secrets.length} Secrets, concurrency ${CONCURRENCY}`],
    ["control plane start", `${fmt(controlPlaneSeconds)} s`],
    ["floor: raw POST loop (node:https)", `${fmt(rawSeconds, 2)} s, ${fmt(rawThroughput)} objects/s, client CPU ${fmt(rawCpuMsPerObject, 3)} ms/object`],
    ["store first pass (create path)", `${fmt(firstSeconds, 2)} s, ${fmt(firstThroughput)} objects/s (${fmt(fraction * 100)} % of the floor), ${created} created, client CPU ${fmt(storeCpuMsPerObject, 3)} ms/object`],
    ["  requests", req(firstRequests)],
    ["store no-change pass", `${fmt(secondSeconds, 2)} s, ${unchanged}/${objects} as written, ${secondWrites} writes`],
    ["  requests", req(secondRequests)],
    ["store change pass (update path)", `${fmt(changeSeconds, 2)} s, ${changedObjects} objects (${changedApps.length} Applications: get + update; their Secrets: merge patch), ${fmt(changedObjects / changeSeconds)} objects/s`],
    ["  requests", req(changeRequests)],
    ["peak RSS (bench process)", `${fmt(peakRss / 1024 / 1024)} MiB`],
    ["machine", `${cpus().length} CPUs, load average ${loadavg().map((l) => fmt(l, 2)).join(" ")}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);

  const record = {
    bench: "k8s",
    path: "create+createSecret; find+update, patchSecret; listMetadata+listManagedSecretMetadata",
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
    changePassObjects: changedObjects,
    changePassSeconds: Number(fmt(changeSeconds, 3)),
    changePassRequests: changeRequests,
    peakRssMiB: Number(fmt(peakRss / 1024 / 1024)),
  };
  console.log(JSON.stringify(record));
  if (secondWrites !== 0 || unchanged !== objects) process.exitCode = 1;
} finally {
  raw.close();
  adminRaw.close();
  await store.close();
  await cp.stop();
}
