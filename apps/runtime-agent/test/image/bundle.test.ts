/**
 * What the container image holds, proven without Docker: the bundle built by build/bundle.mjs (the script and
 * options the Dockerfile uses), copied ALONE into an empty directory outside the workspace, run with plain
 * `node` — no node_modules, no tsx, no workspace — for --version, --help, `status` and a real pairing plus
 * synchronization against the Compass simulator and kube-testenv, on the agent's own RBAC. The controller runs
 * under Node's permission model with writes allowed only in its scratch directory, which proves it needs no
 * writable root filesystem. A static check keeps the Dockerfile in line with the bundle and the workspace.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { isBuiltin } from "node:module";
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { freePort, waitFor } from "../support/agent-process.js";
import { Scenario } from "../support/scenario.js";
// Type-only: brings the image's entry point into this package's typecheck (tsconfig.json does not include build/).
import type {} from "../../build/image-entry.js";

const run = promisify(execFile);
const appDir = fileURLToPath(new URL("../..", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const { version } = JSON.parse(await readFile(join(appDir, "package.json"), "utf8")) as { version: string };

/** An environment with nothing that could make Node find the workspace or change how the bundle loads. */
function bareEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    ...extra,
  };
  return env;
}

let buildDir: string;
let imageDir: string;
let bundleLine: string;
let bundleBytes: number;

async function runBundle(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["runtime-agent.mjs", ...args], {
      cwd: imageDir,
      env: bareEnv(env),
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), "runtime-agent-bundle-"));
  const outfile = join(buildDir, "runtime-agent.mjs");
  const { stdout } = await run(
    process.execPath,
    [join(appDir, "build", "bundle.mjs"), "--outfile", outfile],
    { cwd: appDir, timeout: 120_000 },
  );
  bundleLine = stdout.trim();
  bundleBytes = (await stat(outfile)).size;
  // The "image": one file in an otherwise empty directory.
  imageDir = await mkdtemp(join(tmpdir(), "runtime-agent-image-"));
  await copyFile(outfile, join(imageDir, "runtime-agent.mjs"));
});

afterAll(async () => {
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
  if (imageDir) await rm(imageDir, { recursive: true, force: true });
});

describe("the bundle", () => {
  test("is one ES module, reported with its size", async () => {
    expect(bundleLine).toMatch(
      /^bundle: .*runtime-agent\.mjs [\d.]+ (MiB|KiB) \(\d+ bytes, version \d+\.\d+\.\d+.*, \d+ inputs\)$/,
    );
    expect(bundleLine).toContain(`(${bundleBytes} bytes`);
    console.log(`[image] ${bundleLine}`);
    expect(await readdir(imageDir)).toEqual(["runtime-agent.mjs"]);
    const text = await readFile(join(imageDir, "runtime-agent.mjs"), "utf8");
    // Static imports only of Node built-ins; nothing of the workspace or of node_modules is left to resolve.
    const specifiers = [...text.matchAll(/^\s*import\s[^;]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => s === undefined || !isBuiltin(s))).toEqual([]);
    expect(text).not.toMatch(/from\s+["']@runtime-agent\//);
    expect(text).not.toMatch(/compass-sim|kube-testenv/);
    // Pure ASCII, so Node holds the module's source at one byte per character (build/bundle.mjs escapes the rest).
    expect(text.match(/[^\x00-\x7f]/g) ?? []).toEqual([]);
  });

  test("the directory it runs from is outside the workspace and has no node_modules above it", () => {
    expect(relative(repoRoot, imageDir).startsWith("..")).toBe(true);
    for (let dir = imageDir; ; dir = dirname(dir)) {
      expect(existsSync(join(dir, "node_modules")), `${dir}${sep}node_modules`).toBe(false);
      if (dirname(dir) === dir) break;
    }
  });

  test("--version prints the package version (injected at bundle time)", async () => {
    const r = await runBundle(["--version"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toBe(`${version}\n`);
  });

  test("does not load Node's built-in undici (an ES module import of node:http would, through its WebSocket getters) nor node:zlib (prom-client's index would, for its Pushgateway)", async () => {
    // The built-in modules a process loaded, printed by a preload script when it exits.
    const preload = join(buildDir, "print-builtins.cjs");
    await writeFile(preload, 'process.on("exit", () => process.stderr.write(process.moduleLoadList.join("\\n")));');
    const { stderr } = await run(process.execPath, ["--require", preload, "runtime-agent.mjs", "--version"], { cwd: imageDir, env: bareEnv(), timeout: 60_000 });
    const loaded = stderr.split("\n");
    expect(loaded).toContain("NativeModule http"); // the list is what it claims to be
    expect(loaded.filter((m) => m.includes("undici") || m === "NativeModule zlib")).toEqual([]);
  });

  test("--help lists the commands", async () => {
    const r = await runBundle(["--help"]);
    expect(r.code).toBe(0);
    for (const command of ["run", "status", "pair", "renew", "revoke", "sync"])
      expect(r.stdout).toContain(`runtime-agent ${command}`);
    const sub = await runBundle(["status", "--help"]);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain("--kubeconfig");
  });

  test("accepts Kyma's Deployment argument (the Go binary's path) in front of the command", async () => {
    const r = await runBundle(["/app/compass-runtime-agent", "--version"]);
    expect(r).toMatchObject({ code: 0, stdout: `${version}\n` });
    const other = await runBundle(["/app/other", "--version"]);
    expect(other.code).toBe(2);
  });

  test("a usage error exits 2", async () => {
    const r = await runBundle(["no-such-command"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "no-such-command"');
  });

  test("status reads the cluster (admin kubeconfig, and the agent's own RBAC)", async () => {
    for (const kubeconfig of [inject("adminKubeconfig"), inject("agentKubeconfig")]) {
      const r = await runBundle(["status", "--kubeconfig", kubeconfig, "--output", "json"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(Object.keys(report)).toEqual(
        expect.arrayContaining(["compassConnection", "state", "credentialSecrets", "applicationsManaged"]),
      );
      expect(typeof report.applicationsManaged).toBe("number");
    }
    const text = await runBundle(["status", "--kubeconfig", inject("adminKubeconfig")]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/No CompassConnection|state:/);
  });

  test("status with a missing kubeconfig fails with a message, not a stack trace", async () => {
    const r = await runBundle(["status", "--kubeconfig", join(imageDir, "missing-kubeconfig")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("missing-kubeconfig");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("the bundled controller", () => {
  let scenario: Scenario | undefined;
  let child: ChildProcess | undefined;
  let output = "";

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((resolve) => child?.once("exit", resolve));
    }
    await scenario?.close();
  });

  test("pairs and synchronizes on the agent's RBAC, serves probes and metrics, writes nothing to disk, stops on SIGTERM", async () => {
    scenario = await Scenario.start(inject("adminKubeconfig"));
    // One with credentials, so the bundled agent also writes a credential Secret under its RBAC.
    await scenario.addApplication({
      name: "image-check",
      bundles: [
        {
          name: "orders",
          apiDefinitions: [{ name: "orders-api", targetURL: "https://shop.example.com/orders" }],
          defaultInstanceAuth: { credential: { username: "image-user", password: "image-pass-1" } },
        },
      ],
    });
    await scenario.addApplication({ name: "image-check-2", systemNumber: "7", bundles: [] });
    const healthPort = await freePort();
    const metricsPort = await freePort();
    // Node's permission model: reads anywhere (kubeconfig, CA file), writes only in the image directory. The first
    // argument is the one Kyma's Deployment passes.
    child = spawn(
      process.execPath,
      [
        "--permission",
        "--allow-fs-read=*",
        `--allow-fs-write=${imageDir}`,
        "runtime-agent.mjs",
        "/app/compass-runtime-agent",
        "--kubeconfig",
        inject("agentKubeconfig"),
        "--key-size",
        "2048",
      ],
      {
        cwd: imageDir,
        env: bareEnv({
          ...scenario.agentEnv(),
          APP_HEALTH_PORT: String(healthPort),
          APP_METRICS_PORT: String(metricsPort),
          APP_LEADER_ELECTION: "true",
          POD_NAME: "compass-runtime-agent-image-test",
        }),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));

    try {
      await scenario.waitForState("Synchronized", 90_000);
    } catch (error) {
      throw new Error(`${String(error)}\n--- agent output ---\n${output.slice(-4000)}`, { cause: error });
    }
    const apps = (await scenario.managedApplications()).map((a) => a.name).sort();
    expect(apps).toEqual(["mp-image-check", "mp-image-check-2-7"]);

    expect((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status).toBe(200);
    await waitFor(
      "readyz",
      async () => ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200 ? true : undefined),
      30_000,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain("cra_reconcile_total");
    expect(metrics).toMatch(/cra_applications_managed 2/);

    // JSON logs, the leader election took place, and nothing was denied by the permission model.
    const lines = output.split("\n").filter((l) => l.startsWith("{"));
    expect(lines.length).toBeGreaterThan(0);
    expect(output).toContain("became the leader");
    expect(output).not.toContain("ERR_ACCESS_DENIED");
    expect(output).not.toMatch(/K8S_FORBIDDEN|forbidden/i);
    const secrets = await scenario.store.secrets.list("kyma-system", { labelSelector: "app" });
    expect(secrets.length).toBeGreaterThan(0);

    const started = Date.now();
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await readdir(imageDir)).toEqual(["runtime-agent.mjs"]);
  });
});

describe("the Dockerfile", () => {
  let dockerfile: string;
  beforeAll(async () => {
    dockerfile = await readFile(join(appDir, "Dockerfile"), "utf8");
  });

  test("is multi-stage: bundles with the package script and ships only the bundle on distroless Node.js 24", async () => {
    const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(stages).toHaveLength(2);
    expect(dockerfile).toMatch(/^ARG RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs24-debian12:nonroot$/m);
    expect(dockerfile).toMatch(/^ARG BUILD_IMAGE=node:24[-\w]*$/m);
    expect(dockerfile).toContain("pnpm --filter @runtime-agent/runtime-agent bundle");
    // The file the script writes by default is the one copied.
    expect(dockerfile).toContain("cp apps/runtime-agent/dist/bundle/runtime-agent.mjs /out/");
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect([...finalStage.matchAll(/^COPY .*/gm)].map((m) => m[0])).toEqual([
      "COPY --from=build --chown=0:0 --chmod=0444 /out/runtime-agent.mjs /app/runtime-agent.mjs",
    ]);
    expect(finalStage).toMatch(/^USER 65532:65532$/m);
    expect(finalStage).not.toMatch(/^RUN /m);
    // The image runs node with exactly the flags pnpm bench measures (build/node-flags.json).
    const { flags, env } = JSON.parse(await readFile(new URL("../../build/node-flags.json", import.meta.url), "utf8")) as { flags: string[]; env: Record<string, string> };
    expect(finalStage).toContain(`ENTRYPOINT ${JSON.stringify(["/nodejs/bin/node", ...flags, "/app/runtime-agent.mjs"]).replace(/","/g, '", "')}`);
    for (const [name, value] of Object.entries(env)) expect(finalStage).toMatch(new RegExp(`^ENV ${name}=${value}$`, "m"));
  });

  test("copies every workspace manifest before the frozen-lockfile install", async () => {
    const manifests = [...dockerfile.matchAll(/^COPY (\S+\/package\.json) /gm)].map((m) => m[1]).sort();
    const expected: string[] = [];
    for (const group of ["packages", "apps"]) {
      for (const name of await readdir(join(repoRoot, group))) {
        if (existsSync(join(repoRoot, group, name, "package.json")))
          expected.push(`${group}/${name}/package.json`);
      }
    }
    expect(manifests).toEqual(expected.sort());
    expect(dockerfile.indexOf("pnpm install --frozen-lockfile")).toBeGreaterThan(
      dockerfile.lastIndexOf("/package.json packages/"),
    );
  });

  test("the build context leaves out node_modules, dist and .git", async () => {
    const ignore = (await readFile(join(appDir, "Dockerfile.dockerignore"), "utf8")).split("\n");
    expect(ignore).toEqual(expect.arrayContaining(["**/node_modules", "**/dist", ".git"]));
  });
});

/**
 * The Dockerfile's build stage without Docker: its COPY instructions (with Dockerfile.dockerignore applied) fill an
 * empty directory, its RUN instructions run there (the global pnpm install is skipped: pnpm is here already; /out is
 * a temp directory), and the bundle that comes out must be byte for byte the one the workspace builds. This catches
 * a file the build needs but the Dockerfile does not copy, and a lockfile the filtered install rejects.
 */
describe("the Dockerfile's build stage, emulated", () => {
  let stageDir: string;
  afterAll(async () => {
    if (stageDir && !process.env.KEEP_STAGE) await rm(stageDir, { recursive: true, force: true });
  });

  test("COPY + RUN produce the same bundle as the workspace", async () => {
    const dockerfile = await readFile(join(appDir, "Dockerfile"), "utf8");
    const instructions = dockerfile
      .replace(/\\\n/g, " ")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    const stageStart = instructions.findIndex((l) => l.startsWith("FROM "));
    const stageEnd = instructions.findIndex((l, i) => i > stageStart && l.startsWith("FROM "));
    const stage = instructions.slice(stageStart + 1, stageEnd);
    const ignore = (await readFile(join(appDir, "Dockerfile.dockerignore"), "utf8"))
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    const ignored = (path: string) =>
      ignore.some((pattern) => {
        const name = pattern.replace(/^\*\*\//, "");
        const parts = path.split(sep);
        if (name.startsWith("*.")) return path.endsWith(name.slice(1));
        return pattern.startsWith("**/") ? parts.includes(name) : parts[0] === name;
      });

    stageDir = await mkdtemp(join(tmpdir(), "runtime-agent-docker-stage-"));
    const root = join(stageDir, "src");
    const out = join(stageDir, "out");
    await mkdir(root, { recursive: true });
    const ran: string[] = [];
    // The reference is built from the workspace right after the last COPY, so both builds see the same sources even
    // while people edit files (this repository is worked on concurrently).
    const lastCopy = stage.map((l) => l.startsWith("COPY ")).lastIndexOf(true);
    const reference = join(stageDir, "reference.mjs");
    for (const [index, line] of stage.entries()) {
      const [instruction, ...rest] = line.split(/\s+/);
      if (instruction === "COPY") {
        const args = rest.filter((a) => !a.startsWith("--"));
        const dest = args.pop() as string;
        for (const src of args) {
          const from = join(repoRoot, src);
          if ((await stat(from)).isDirectory()) {
            // A directory's content goes into the destination directory.
            await cp(from, join(root, dest), {
              recursive: true,
              filter: (path) => !ignored(relative(repoRoot, path)),
            });
          } else {
            const target = dest.endsWith("/") ? join(root, dest, basename(src)) : join(root, dest);
            await mkdir(dirname(target), { recursive: true });
            await copyFile(from, target);
          }
        }
        if (index === lastCopy)
          await run(process.execPath, [join(appDir, "build", "bundle.mjs"), "--outfile", reference], {
            cwd: appDir,
            timeout: 120_000,
          });
      } else if (instruction === "RUN") {
        const command = rest
          .filter((a) => !a.startsWith("--mount="))
          .join(" ")
          .replace(/ \/out\b/g, ` ${out}`);
        if (/^npm install --global/.test(command)) continue;
        ran.push(command);
        await new Promise<void>((resolve, reject) => {
          execFile(
            "sh",
            ["-c", command],
            { cwd: root, env: { ...bareEnv(), CI: "true" }, timeout: 300_000 },
            (error, _stdout, stderr) =>
              error ? reject(new Error(`RUN ${command}\n${stderr}`, { cause: error })) : resolve(),
          );
        });
      }
    }
    expect(ran.some((c) => c.includes("pnpm install --frozen-lockfile"))).toBe(true);
    expect(ran.some((c) => c.includes("bundle"))).toBe(true);
    const built = await readFile(join(out, "runtime-agent.mjs"));
    const expected = await readFile(reference);
    expect(built.length).toBe(expected.length);
    expect(built.equals(expected)).toBe(true);
  }, 600_000);
});
