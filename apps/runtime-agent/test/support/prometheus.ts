/**
 * A real Prometheus for the monitoring tests: `prometheus` and `promtool` built from the Go module proxy (the Go module
 * in test/monitoring/prometheus-build pins github.com/prometheus/prometheus), cached like kube-testenv's binaries under
 * `~/.cache/runtime-agent/prometheus/<version>-<hash>/`, and a server started on a loopback port with a scrape
 * config and rule files of the test's choosing.
 *
 * Never skipped: without Go, or when the build fails, ensurePrometheus() throws with the reason and the test fails.
 * `RUNTIME_AGENT_PROMETHEUS_DIR` may name a directory that already holds both binaries (e.g. Debian's package:
 * /usr/bin) instead of building.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { constants, existsSync, readFileSync } from "node:fs";
import { access, chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { freePort, waitFor } from "./agent-process.js";

/** The Prometheus release (github.com/prometheus/prometheus v0.316.0 is Prometheus 3.16.0). */
export const PROMETHEUS_VERSION = "3.16.0";
const BUILD_MODULE = fileURLToPath(new URL("../monitoring/prometheus-build", import.meta.url));
/** No service discovery plugins (the tests use static_configs): a third of the code to compile. */
const BUILD_TAGS = "remove_all_sd";
const PACKAGES = [
  "github.com/prometheus/prometheus/cmd/prometheus",
  "github.com/prometheus/prometheus/cmd/promtool",
];

function buildArgs(outDir: string): string[] {
  const ldflags = ["-s", "-w", `-X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION}`].join(
    " ",
  );
  return ["build", "-trimpath", "-tags", BUILD_TAGS, `-ldflags=${ldflags}`, "-o", outDir + "/", ...PACKAGES];
}

/** Cache key: the release, the build arguments, go.mod and go.sum. */
function cacheVersion(): string {
  const hash = createHash("sha256");
  hash.update(buildArgs("OUT").join("\0"));
  for (const f of ["go.mod", "go.sum"]) hash.update(readFileSync(join(BUILD_MODULE, f)));
  return `${PROMETHEUS_VERSION}-${hash.digest("hex").slice(0, 12)}`;
}

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
  /** Where they came from: "cache", "built in N s" or the directory of RUNTIME_AGENT_PROMETHEUS_DIR. */
  origin: string;
}

const BINARIES = ["prometheus", "promtool"] as const;

function binariesIn(dir: string, origin: string): PrometheusBinaries {
  return { prometheus: join(dir, "prometheus"), promtool: join(dir, "promtool"), origin };
}

function findGo(): string {
  const candidates = [
    process.env["GO"],
    ...(process.env["PATH"] ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((p) => join(p, "go")),
  ];
  if (process.env["GOROOT"]) candidates.push(join(process.env["GOROOT"], "bin", "go"));
  candidates.push("/usr/local/go/bin/go", join(homedir(), "go", "bin", "go"), "/usr/lib/go/bin/go");
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error(
    "The monitoring tests build prometheus and promtool from the Go module proxy and need the Go toolchain (>= 1.26, the README's prerequisite): " +
      "put `go` on PATH, set GO=/path/to/go, or set RUNTIME_AGENT_PROMETHEUS_DIR to a directory holding prometheus and promtool.",
  );
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first of the two binaries that is not an executable in `dir`; undefined when both are. */
async function missingIn(dir: string): Promise<string | undefined> {
  for (const b of BINARIES) if (!(await executable(join(dir, b)))) return join(dir, b);
  return undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const progress = (line: string) => process.stderr.write(`[prometheus] ${line}\n`);

/** A cross-process lock (a directory holding the owner's pid); stale locks of dead processes are taken over. */
async function lock(dir: string, timeoutMs: number): Promise<() => Promise<void>> {
  const started = Date.now();
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(join(dir, "pid"), String(process.pid));
      return () => rm(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number((await readFile(join(dir, "pid"), "utf8").catch(() => "")).trim());
    let alive: boolean;
    if (Number.isInteger(owner) && owner > 0) {
      try {
        process.kill(owner, 0);
        alive = true;
      } catch (error) {
        alive = (error as NodeJS.ErrnoException).code === "EPERM";
      }
    } else {
      // No pid yet: the owner is between mkdir and writeFile, unless the lock is old.
      const s = await stat(dir).catch(() => undefined);
      alive = s !== undefined && Date.now() - s.mtimeMs < 60_000;
    }
    if (!alive) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`build lock ${dir} still held by pid ${owner} after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(1000);
  }
}

function goBuild(outDir: string): Promise<void> {
  const go = findGo();
  const args = buildArgs(outDir);
  const goflags = [
    ...(process.env["GOFLAGS"] ?? "").split(/\s+/).filter((f) => f && !f.startsWith("-mod=")),
    "-mod=mod",
  ].join(" ");
  progress(`$ (cd ${BUILD_MODULE} && ${go} ${args.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" ")})`);
  return new Promise((resolve, reject) => {
    const child = spawn(go, args, {
      cwd: BUILD_MODULE,
      env: {
        ...process.env,
        GOFLAGS: goflags,
        CGO_ENABLED: "0",
        PATH: [dirname(go), process.env["PATH"] ?? ""].join(delimiter),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tail: string[] = [];
    const started = Date.now();
    const timer = setInterval(
      () => progress(`building: ${Math.round((Date.now() - started) / 1000)} s`),
      30_000,
    );
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        if (line.startsWith("go: downloading ")) progress(line);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (error) => {
      clearInterval(timer);
      reject(new Error(`could not run ${go}: ${error.message}`, { cause: error }));
    });
    child.on("close", (code, signal) => {
      clearInterval(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `go build of prometheus/promtool in ${BUILD_MODULE} failed (${signal ?? `exit ${code}`}); module proxy reachable? Last output:\n${tail.join("\n")}`,
          ),
        );
    });
  });
}

/**
 * The cached prometheus and promtool, built first when the cache lacks them: a cold build downloads the modules and
 * compiles Prometheus, several minutes on 2 cores (see docs/operations.md, "Monitoring"); later calls are instant.
 * Concurrent callers, also in other processes, share one build.
 */
export async function ensurePrometheus(): Promise<PrometheusBinaries> {
  const given = process.env["RUNTIME_AGENT_PROMETHEUS_DIR"];
  if (given) {
    const missing = await missingIn(given);
    if (missing) throw new Error(`RUNTIME_AGENT_PROMETHEUS_DIR=${given}: ${missing} is not an executable`);
    return binariesIn(given, given);
  }
  const root =
    process.env["RUNTIME_AGENT_PROMETHEUS_CACHE"] || join(homedir(), ".cache", "runtime-agent", "prometheus");
  const version = cacheVersion();
  const dir = join(root, version);
  const built = async () => (await missingIn(dir)) === undefined;
  if (await built()) return binariesIn(dir, "cache");
  await mkdir(root, { recursive: true });
  const release = await lock(join(root, `${version}.lock`), 60 * 60_000);
  try {
    if (await built()) return binariesIn(dir, "cache");
    progress(
      `building prometheus and promtool ${PROMETHEUS_VERSION} from Go modules into ${dir} (a cold build takes several minutes)`,
    );
    const started = Date.now();
    const tmp = join(root, `${version}.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    try {
      await goBuild(tmp);
      for (const b of BINARIES) await chmod(join(tmp, b), 0o755);
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    const seconds = (Date.now() - started) / 1000;
    progress(`built prometheus and promtool in ${seconds.toFixed(0)} s`);
    return binariesIn(dir, `built in ${seconds.toFixed(0)} s`);
  } finally {
    await release();
  }
}

/** The Prometheus rule file (`groups:`) inside a PrometheusRule object. */
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: PromRule[];
}
export interface PromRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** One series of an instant query's vector. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An active alert as /api/v1/alerts lists it. */
export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  value: string;
}

export interface PrometheusServer {
  url: string;
  /** GET /api/v1/<path> with query parameters; the `data` of a successful answer. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  /** An instant query's vector (the result of /api/v1/query). */
  query(expr: string): Promise<Sample[]>;
  /** Active alerts (pending and firing). */
  alerts(): Promise<Alert[]>;
  stop(): Promise<void>;
}

/** How often the server scrapes and evaluates rules. */
export const SCRAPE_INTERVAL = "1s";

/**
 * Starts `prometheus` on a loopback port: one scrape job, scraping and rule evaluation every SCRAPE_INTERVAL, the given
 * rule groups, storage in a temporary directory (removed by stop()).
 */
export async function startPrometheus(options: {
  binary: string;
  job: string;
  targets: string[];
  /** Labels of the static target (e.g. namespace, pod, as a ServiceMonitor would add). */
  targetLabels?: Record<string, string>;
  ruleGroups: RuleGroup[];
}): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), "prometheus-"));
  await writeFile(join(dir, "rules.yaml"), stringify({ groups: options.ruleGroups }));
  await writeFile(
    join(dir, "prometheus.yml"),
    stringify({
      global: {
        scrape_interval: SCRAPE_INTERVAL,
        scrape_timeout: SCRAPE_INTERVAL,
        evaluation_interval: SCRAPE_INTERVAL,
      },
      rule_files: [join(dir, "rules.yaml")],
      scrape_configs: [
        {
          job_name: options.job,
          static_configs: [{ targets: options.targets, labels: options.targetLabels ?? {} }],
        },
      ],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  const child: ChildProcess = spawn(
    options.binary,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  // A failed spawn is reported by the readiness wait below (as an exit), not as an uncaught error.
  child.on("error", (error) => (output += `${error.message}\n`));
  /** How the process ended (exit code or signal); null while it runs. */
  const exited = () => child.exitCode ?? child.signalCode;
  const done = new Promise<void>((resolve) => child.on("close", () => resolve()));

  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const response = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success")
      throw new Error(
        `prometheus /api/v1/${path} ${JSON.stringify(params)}: ${body.error ?? response.status}`,
      );
    return body.data;
  };
  const server: PrometheusServer = {
    url,
    api,
    async query(expr) {
      const data = await api<{ resultType: string; result: Sample[] }>("query", { query: expr });
      if (data.resultType !== "vector") throw new Error(`${expr}: a ${data.resultType}, not a vector`);
      return data.result;
    },
    async alerts() {
      return (await api<{ alerts: Alert[] }>("alerts")).alerts;
    },
    async stop() {
      if (exited() === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await done;
      clearTimeout(killer);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    // An exit ends the wait at once (waitFor would retry a thrown error until its timeout).
    const ready = await waitFor(
      "prometheus to be ready",
      async () => {
        if (exited() !== null) return false;
        const r = await fetch(`${url}/-/ready`);
        return r.ok ? true : undefined;
      },
      60_000,
      200,
    );
    if (!ready) throw new Error(`prometheus exited (${exited()})`);
  } catch (error) {
    await server.stop();
    throw new Error(`${(error as Error).message}\n${output.slice(-3000)}`, { cause: error });
  }
  return server;
}
