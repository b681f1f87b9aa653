import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { access, chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { constants } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeTestenvError } from "./errors.js";
import { progress } from "./progress.js";

/** The Kubernetes release kube-apiserver is built from (k8s.io/kubernetes in go/go.mod). */
export const KUBERNETES_VERSION = "v1.35.4";
/** The etcd release (go.etcd.io/etcd/server/v3 in go/go.mod). */
export const ETCD_VERSION = "v3.6.5";

const BINARY_NAME = "kube-testenv-server";
/** The manifest reader: kubectl's YAML/JSON decoding (go/manifests, a Go module of its own). */
const READER_NAME = "kube-testenv-manifests";

/** Directory of the Go module that builds the server binary (`packages/kube-testenv/go`). */
export function goModuleDir(): string {
  // Works from both src/ (development) and dist/ (built): both sit next to go/.
  return join(dirname(fileURLToPath(import.meta.url)), "..", "go");
}

/** Directory of the manifest reader's Go module (`packages/kube-testenv/go/manifests`). */
export function manifestReaderModuleDir(): string {
  return join(goModuleDir(), "manifests");
}

/** Root of the binary cache: `KUBE_TESTENV_CACHE` or `$HOME/.cache/runtime-agent/kube-testenv`. */
export function cacheRoot(): string {
  const fromEnv = process.env["KUBE_TESTENV_CACHE"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return join(homedir(), ".cache", "runtime-agent", "kube-testenv");
}

/** The `go build` arguments; part of the cache version, so changing them rebuilds. */
function goBuildArgs(output: string): string[] {
  const [major, minor] = KUBERNETES_VERSION.replace(/^v/, "").split(".");
  const versionPkg = "k8s.io/component-base/version";
  const ldflags = [
    "-s",
    "-w",
    // What the official release build stamps, so /version reports the real Kubernetes version.
    `-X ${versionPkg}.gitVersion=${KUBERNETES_VERSION}`,
    `-X ${versionPkg}.gitMajor=${major}`,
    `-X ${versionPkg}.gitMinor=${minor}`,
    `-X ${versionPkg}.gitTreeState=clean`,
  ].join(" ");
  return ["build", "-v", "-trimpath", `-ldflags=${ldflags}`, "-o", output, "."];
}

/** sha256 over build arguments and the go.mod, go.sum and *.go files directly in `dir`; 12 hex digits. */
function sourceHash(dir: string, args: readonly string[]): string {
  const hash = createHash("sha256");
  hash.update(args.join("\0"));
  const files = readdirSync(dir)
    .filter((f) => f === "go.mod" || f === "go.sum" || f.endsWith(".go"))
    .sort();
  for (const f of files) {
    hash.update(f);
    hash.update("\0");
    hash.update(readFileSync(join(dir, f)));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 12);
}

/**
 * Cache version: Kubernetes and etcd versions plus a hash of the Go sources, so any change to
 * go.mod, go.sum or *.go builds a fresh binary. (Only files directly in go/: the manifest reader in
 * go/manifests is a module of its own with its own version, see manifestReaderVersion.)
 */
export function binaryVersion(): string {
  return `${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}-${sourceHash(goModuleDir(), goBuildArgs("OUT"))}`;
}

/** The `go build` arguments of the manifest reader; part of its cache version. */
function readerBuildArgs(output: string): string[] {
  return ["build", "-v", "-trimpath", "-ldflags=-s -w", "-o", output, "."];
}

/**
 * Cache version of the manifest reader: `manifests-` plus a hash of go/manifests (go.mod, go.sum, *.go)
 * and its build arguments. Keyed apart from binaryVersion(): changing one never rebuilds the other.
 */
export function manifestReaderVersion(): string {
  return `manifests-${sourceHash(manifestReaderModuleDir(), readerBuildArgs("OUT"))}`;
}

export interface BinaryInfo {
  /** Absolute path of the server binary (`kube-apiserver` and `etcd` subcommands). */
  path: string;
  version: string;
  /** Whether the binary came from the cache (false: built by this call). */
  cached: boolean;
  /** Build time in seconds when built by this call. */
  buildSeconds?: number;
}

/** Finds the `go` command: `$GO`, PATH, `$GOROOT/bin`, `/usr/local/go/bin`. */
export function findGo(): string {
  const candidates: string[] = [];
  const explicit = process.env["GO"];
  if (explicit) candidates.push(explicit);
  for (const p of (process.env["PATH"] ?? "").split(delimiter)) if (p) candidates.push(join(p, "go"));
  const goroot = process.env["GOROOT"];
  if (goroot) candidates.push(join(goroot, "bin", "go"));
  candidates.push("/usr/local/go/bin/go", join(homedir(), "go", "bin", "go"), "/usr/lib/go/bin/go");
  for (const c of candidates) if (existsSync(c)) return c;
  throw new KubeTestenvError(
    "GO_NOT_FOUND",
    "kube-testenv builds kube-apiserver, etcd and its manifest reader from source and needs the Go toolchain (>= 1.25): " +
      "put `go` on PATH, set GO=/path/to/go, or install it to /usr/local/go.",
  );
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Takes a cross-process lock (a directory holding the owner's pid). Returns a release function. */
async function acquireLock(lockDir: string, timeoutMs: number): Promise<() => Promise<void>> {
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, "pid"), String(process.pid));
      return async () => {
        await rm(lockDir, { recursive: true, force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let owner = NaN;
    try {
      owner = Number((await readFile(join(lockDir, "pid"), "utf8")).trim());
    } catch {
      // the owner may not have written its pid yet
    }
    if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Number.isNaN(owner)) {
      // A lock without a pid file older than a minute is stale.
      try {
        const s = await stat(lockDir);
        if (Date.now() - s.mtimeMs > 60_000) {
          await rm(lockDir, { recursive: true, force: true });
          continue;
        }
      } catch {
        continue;
      }
    }
    if (!announced) {
      progress(`another process (pid ${owner}) is building the binaries; waiting for it`);
      announced = true;
    }
    if (Date.now() - started > timeoutMs) {
      throw new KubeTestenvError(
        "BUILD_LOCKED",
        `build lock ${lockDir} still held by pid ${owner} after ${Math.round(timeoutMs / 1000)} s; remove it if that process is gone`,
        { retryable: true },
      );
    }
    await sleep(1000);
  }
}

interface BuildSpec {
  /** File name of the binary in its cache directory. */
  name: string;
  /** Cache version: the directory under cacheRoot(). */
  version: string;
  /** Directory of the Go module to build. */
  moduleDir: string;
  args: (output: string) => string[];
  /** Progress lines printed before a build. */
  announce: string[];
  lockTimeoutMs: number;
}

/** The cached binary of `spec`, built first (under a cross-process lock) when the cache lacks it. */
async function ensureBuilt(spec: BuildSpec): Promise<BinaryInfo> {
  const { name, version } = spec;
  const dir = join(cacheRoot(), version);
  const path = join(dir, name);
  if (await isExecutable(path)) return { path, version, cached: true };

  await mkdir(dir, { recursive: true });
  const release = await acquireLock(join(cacheRoot(), `${version}.lock`), spec.lockTimeoutMs);
  try {
    if (await isExecutable(path)) return { path, version, cached: true };
    const started = Date.now();
    for (const line of spec.announce) progress(line.replace("{dir}", dir));
    const tmp = join(dir, `${name}.tmp-${process.pid}`);
    await runGoBuild(spec.moduleDir, spec.args(tmp), tmp);
    await chmod(tmp, 0o755);
    await rename(tmp, path);
    const buildSeconds = (Date.now() - started) / 1000;
    progress(`built ${version} in ${buildSeconds.toFixed(1)} s`);
    return { path, version, cached: false, buildSeconds };
  } finally {
    await release();
  }
}

/**
 * Returns the cached server binary, building it first when the cache lacks it. The build runs
 * `go build -trimpath -ldflags="-s -w"` in `packages/kube-testenv/go` and streams progress to stderr.
 * A cold build (module download and compile of kube-apiserver) takes many minutes; later calls are
 * instant. Concurrent callers (also in other processes) share one build.
 */
export async function ensureBinaries(): Promise<BinaryInfo> {
  return ensureBuilt({
    name: BINARY_NAME,
    version: binaryVersion(),
    moduleDir: goModuleDir(),
    args: goBuildArgs,
    announce: [
      `building kube-apiserver ${KUBERNETES_VERSION} and etcd ${ETCD_VERSION} from Go modules into {dir}`,
      "a cold build downloads the modules and compiles kube-apiserver: expect 10-25 minutes on 2 cores",
    ],
    lockTimeoutMs: 60 * 60 * 1000,
  });
}

/**
 * Returns the cached manifest reader (`kube-testenv-manifests`: kubectl's YAML/JSON decoding, see
 * go/manifests/main.go), building it first when the cache lacks it: a few seconds with a warm Go build
 * cache, a few minutes on a machine that has never compiled Go. Independent of ensureBinaries(): its own
 * module, cache version and lock.
 */
export async function ensureManifestReader(): Promise<BinaryInfo> {
  return ensureBuilt({
    name: READER_NAME,
    version: manifestReaderVersion(),
    moduleDir: manifestReaderModuleDir(),
    args: readerBuildArgs,
    announce: ["building the manifest reader (kubectl's YAML decoding, sigs.k8s.io/yaml) into {dir}"],
    lockTimeoutMs: 30 * 60 * 1000,
  });
}

function runGoBuild(cwd: string, args: string[], output: string): Promise<void> {
  const go = findGo();
  // -mod=mod lets go fill in go.sum entries if a toolchain wants more than the committed ones; any -mod
  // already in GOFLAGS (e.g. -mod=vendor, -mod=readonly from CI) is replaced.
  const goflags = [
    ...(process.env["GOFLAGS"] ?? "").split(/\s+/).filter((f) => f && !f.startsWith("-mod=")),
    "-mod=mod",
  ].join(" ");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOFLAGS: goflags,
    CGO_ENABLED: process.env["CGO_ENABLED"] ?? "0",
  };
  // Make sure the toolchain directory is on PATH for tools go itself invokes.
  env["PATH"] = [dirname(go), process.env["PATH"] ?? ""].join(delimiter);
  progress(`$ (cd ${cwd} && ${go} ${args.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" ")})`);

  return new Promise((resolve, reject) => {
    const child = spawn(go, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    let packages = 0;
    let downloads = 0;
    let lastPackage = "";
    let lastReport = Date.now();
    const started = Date.now();
    const report = () => {
      const secs = Math.round((Date.now() - started) / 1000);
      progress(
        `build: ${secs}s, ${downloads} modules downloaded, ${packages} packages compiled${lastPackage ? ` (last: ${lastPackage})` : ""}`,
      );
      lastReport = Date.now();
    };
    const timer = setInterval(() => {
      if (Date.now() - lastReport >= 15_000) report();
    }, 5_000);
    let buf = "";
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trimEnd();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        tail.push(line);
        if (tail.length > 60) tail.shift();
        if (line.startsWith("go: downloading ")) {
          downloads++;
          progress(`build: ${line}`);
        } else if (/^[\w.\-/]+$/.test(line)) {
          packages++;
          lastPackage = line;
          if (Date.now() - lastReport >= 5_000) report();
        } else {
          progress(`build: ${line}`);
        }
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => {
      clearInterval(timer);
      reject(new KubeTestenvError("BUILD_FAILED", `could not run ${go}: ${err.message}`, { cause: err }));
    });
    child.on("close", (code, signal) => {
      clearInterval(timer);
      if (code === 0) {
        report();
        resolve();
        return;
      }
      rm(output, { force: true }).catch(() => undefined);
      reject(
        new KubeTestenvError(
          "BUILD_FAILED",
          `go build in ${cwd} failed (${signal ?? `exit ${code}`}); check the Go toolchain (>= 1.25) and GOPROXY. Last output:\n${tail.join("\n")}`,
          { retryable: true },
        ),
      );
    });
  });
}
