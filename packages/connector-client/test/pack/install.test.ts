/**
 * The library packages as other Kyma tooling gets them: `pnpm pack` tarballs (workspace:* rewritten to versions),
 * installed with plain `npm install <tarballs>` into a scratch project OUTSIDE the workspace (the npm registry
 * provides the third-party dependencies), then used there:
 * - a script pairs with the Compass simulator (started from the workspace with --generate-apps 3, a fresh one-time
 *   token from its admin API) through the installed connector-client and cert-manager, and lists the runtime's
 *   applications through the installed director-client;
 * - TypeScript compiles a consumer against the installed type declarations;
 * - the installed compass-sim CLI starts (its GraphQL schemas travel in the tarball).
 * The npm cache lives in the OS temp directory; nothing is written outside it.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const LIBRARIES = [
  "cert-manager",
  "connector-client",
  "director-client",
  "app-sync",
  "k8s-store",
  "compass-sim",
  "kube-testenv",
];
/** What the scratch project installs: the clients, what they need, and the simulator (to prove its CLI runs). */
const INSTALLED = ["cert-manager", "connector-client", "director-client", "compass-sim"];
const NPM_CACHE = join(tmpdir(), "runtime-agent-pack-npm-cache");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 240_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function mustRun(command: string, args: string[], options: Parameters<typeof run>[2]): Promise<string> {
  const r = await run(command, args, options);
  if (r.code !== 0)
    throw new Error(
      `${command} ${args.join(" ")} exited ${r.code}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`,
    );
  return r.stdout;
}

/** An environment for the scratch project: no pnpm/npm workspace settings leak into npm or node. */
function scratchEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(npm_|pnpm_|NODE_OPTIONS$|NODE_PATH$|VITEST)/i.test(k)) env[k] = v;
  return { ...env, npm_config_cache: NPM_CACHE, npm_config_update_notifier: "false", ...extra };
}

/** Starts a CLI that prints one JSON ready line on stdout. */
async function startReady(
  command: string,
  args: string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${args.join(" ")}: no ready line within 60 s\n${stderr}`)),
      60_000,
    );
    child.once("exit", (code) =>
      reject(new Error(`${args.join(" ")} exited ${code} before its ready line\n${stderr}`)),
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch (error) {
        reject(new Error(`not a ready line: ${line}`, { cause: error }));
      }
    });
  });
  return { child, ready };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

let work: string;
let tarballs: Map<string, string>;
let consumer: string;
let simulator: ChildProcess | undefined;
/** The simulator's ready line. */
let sim: { adminUrl: string; runtimeId: string; tenant: string; serverCaFile: string; event: string };

/** A fresh one-time token for the generated runtime, through the admin API (as an operator gets one from Compass). */
async function issueToken(): Promise<{ token: string; connectorURL: string }> {
  const res = await fetch(`${sim.adminUrl}/admin/runtimes/${sim.runtimeId}/tokens`, { method: "POST" });
  expect(res.status).toBe(200);
  return (await res.json()) as { token: string; connectorURL: string };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "runtime-agent-pack-"));
  const packDir = join(work, "tarballs");
  await mkdir(packDir);
  // `prepack` builds each package (and the workspace packages it compiles against) with turbo first.
  await mustRun("pnpm", ["--filter", "./packages/*", "pack", "--pack-destination", packDir], {
    cwd: repoRoot,
  });
  tarballs = new Map();
  for (const file of await readdir(packDir)) {
    const m = /^runtime-agent-(.+)-\d+\.\d+\.\d+\.tgz$/.exec(file);
    if (m?.[1]) tarballs.set(m[1], join(packDir, file));
  }
  consumer = join(work, "consumer");
  await mkdir(consumer);
  await writeFile(
    join(consumer, "package.json"),
    JSON.stringify({ name: "pack-consumer", private: true, type: "module" }, null, 2),
  );
  const wanted = INSTALLED.map((name) => tarballs.get(name) ?? `missing tarball for ${name}`);
  await mustRun(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...wanted],
    { cwd: consumer, env: scratchEnv(), timeoutMs: 300_000 },
  );
  // The Compass simulator from the workspace, with a generated runtime and three applications.
  const started = await startReady(
    process.execPath,
    ["--conditions=development", "--import", "tsx", "src/cli.ts", "--quiet", "--generate-apps", "3"],
    join(repoRoot, "packages", "compass-sim"),
  );
  simulator = started.child;
  sim = started.ready as typeof sim;
}, 600_000);

afterAll(async () => {
  await stop(simulator);
  if (work) await rm(work, { recursive: true, force: true });
});

describe("pnpm pack", () => {
  test("makes a tarball per library with README, dist and every export target; workspace:* became versions", async () => {
    expect([...tarballs.keys()].sort()).toEqual([...LIBRARIES].sort());
    for (const name of LIBRARIES) {
      const tarball = tarballs.get(name) as string;
      const files = (await mustRun("tar", ["tzf", tarball], { cwd: work }))
        .split("\n")
        .filter(Boolean)
        .map((f) => f.replace(/^package\//, ""));
      expect(files, name).toContain("README.md");
      expect(
        files.some((f) => f.startsWith("dist/")),
        name,
      ).toBe(true);
      expect(
        files.some((f) => f.startsWith("src/") || f.endsWith(".test.js")),
        name,
      ).toBe(false);
      const manifest = JSON.parse(
        await mustRun("tar", ["xzfO", tarball, "package/package.json"], { cwd: work }),
      ) as {
        exports: Record<string, string | Record<string, string>>;
        dependencies?: Record<string, string>;
        bin?: Record<string, string>;
      };
      for (const spec of Object.values(manifest.dependencies ?? {}))
        expect(spec, name).not.toMatch(/^workspace:/);
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        const targets = typeof target === "string" ? { default: target } : target;
        expect(targets.types ?? subpath === "./package.json", `${name} ${subpath} has types`).toBeTruthy();
        // "development" points at the TypeScript sources, which are not published: the monorepo's own condition.
        for (const [condition, path] of Object.entries(targets)) {
          if (condition !== "development")
            expect(files, `${name} exports ${subpath} ${condition}`).toContain(path.replace(/^\.\//, ""));
        }
      }
      for (const path of Object.values(manifest.bin ?? {}))
        expect(files, `${name} bin`).toContain(path.replace(/^\.\//, ""));
    }
  });

  test("compass-sim carries its GraphQL schemas; nothing is left behind in the workspace", async () => {
    const files = await mustRun("tar", ["tzf", tarballs.get("compass-sim") as string], { cwd: work });
    expect(files).toContain("package/schemas/connector.graphql");
    expect(files).toContain("package/schemas/director.graphql");
    expect(existsSync(join(repoRoot, "packages", "compass-sim", "schemas"))).toBe(false);
  });
});

describe("the installed packages, outside the workspace", () => {
  test("the scratch project is outside the workspace and resolves the packages from its own node_modules", async () => {
    expect(relative(repoRoot, consumer).startsWith("..")).toBe(true);
    const out = await mustRun(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `for (const p of ${JSON.stringify(INSTALLED.map((n) => `@runtime-agent/${n}`))}) console.log(import.meta.resolve(p))`,
      ],
      { cwd: consumer, env: scratchEnv() },
    );
    for (const url of out.trim().split("\n"))
      expect(fileURLToPath(url).startsWith(join(consumer, "node_modules"))).toBe(true);
  });

  test("pair with the simulator and list the runtime's applications", async () => {
    expect(sim).toMatchObject({ event: "ready" });
    const issued = await issueToken();

    await writeFile(
      join(consumer, "pair-and-list.mjs"),
      `import { readFileSync } from "node:fs";
import { shouldRenew } from "@runtime-agent/cert-manager";
import { clientCertificateOf, isConnectorError, pairWithToken } from "@runtime-agent/connector-client";
import { DirectorClient } from "@runtime-agent/director-client";

const tls = { caPem: readFileSync(process.env.CA_FILE, "utf8") };
const credentials = await pairWithToken(process.env.CONNECTOR_URL, process.env.TOKEN, { tls, keySize: 2048 });
const director = new DirectorClient({
  url: credentials.configuration.directorUrl,
  tenant: process.env.TENANT,
  clientCertificate: clientCertificateOf(credentials),
  tls,
});
try {
  const { applications, totalCount, stats } = await director.listApplicationsForRuntime(process.env.RUNTIME_ID);
  const renewal = shouldRenew({ notBefore: credentials.certificate.notBefore, notAfter: credentials.certificate.notAfter, now: new Date(), minimalSyncTimeMs: 10_000 });
  console.log(JSON.stringify({
    subject: credentials.certificate.subject,
    key: credentials.privateKeyPem.split("\\n")[0],
    renew: renewal.renew,
    totalCount,
    requests: stats.requests,
    applications: applications.map((a) => a.name).sort(),
  }));
} finally {
  await director.close();
}
// The token is used now: a second pairing is refused with a stable error code.
try {
  await pairWithToken(process.env.CONNECTOR_URL, process.env.TOKEN, { tls, keySize: 2048 });
  console.log(JSON.stringify({ reuse: "accepted" }));
} catch (error) {
  console.log(JSON.stringify({ reuse: isConnectorError(error) ? error.code : String(error) }));
}
`,
    );
    const out = await mustRun(process.execPath, ["pair-and-list.mjs"], {
      cwd: consumer,
      env: scratchEnv({
        CONNECTOR_URL: issued.connectorURL,
        TOKEN: issued.token,
        TENANT: sim.tenant,
        RUNTIME_ID: sim.runtimeId,
        CA_FILE: sim.serverCaFile,
      }),
      timeoutMs: 120_000,
    });
    const [result, reuse] = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(result).toMatchObject({
      key: "-----BEGIN RSA PRIVATE KEY-----",
      renew: false,
      totalCount: 3,
      // The Director names them as Compass does for a runtime: "mp-" + the normalized name.
      applications: ["mp-generated-app-0", "mp-generated-app-1", "mp-generated-app-2"],
    });
    expect(result?.subject).toMatch(/CN=/);
    expect(reuse?.reuse).toMatch(/^CONNECTOR_/);
  }, 180_000);

  test("the README example runs as written (node example.ts) from the installed package", async () => {
    const readme = await readFile(join(repoRoot, "packages", "connector-client", "README.md"), "utf8");
    const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("## Example")))?.[1];
    expect(code).toContain('from "@runtime-agent/connector-client"');
    await writeFile(join(consumer, "example.ts"), code ?? "");
    const issued = await issueToken();
    const r = await run(process.execPath, ["example.ts"], {
      cwd: consumer,
      env: scratchEnv({ CONNECTOR_URL: issued.connectorURL, TOKEN: issued.token, CA_FILE: sim.serverCaFile }),
      timeoutMs: 120_000,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^paired: .*CN=/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^director: https:\/\/127\.0\.0\.1:\d+\/director\/graphql$/),
      "renewed: true",
      "revoked first: true",
    ]);
  }, 180_000);

  test("TypeScript compiles a consumer against the installed declarations", async () => {
    await writeFile(
      join(consumer, "consumer.ts"),
      `import { parseSubject, type CertificateFacts } from "@runtime-agent/cert-manager";
import { pairWithToken, type RuntimeCredentials, type TlsTrust } from "@runtime-agent/connector-client";
import { DirectorClient, type DirectorClientOptions } from "@runtime-agent/director-client";

export async function connect(url: string, token: string, tls: TlsTrust): Promise<RuntimeCredentials> {
  return pairWithToken(url, token, { tls, keySize: 2048 });
}
export function commonName(facts: CertificateFacts): string {
  return parseSubject(facts.subject).commonName ?? "";
}
export function director(options: DirectorClientOptions): DirectorClient {
  return new DirectorClient(options);
}
// @ts-expect-error pairWithToken needs a token
void pairWithToken("https://example.com");
`,
    );
    await writeFile(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(repoRoot, "node_modules", "@types")],
        },
        files: ["consumer.ts"],
      }),
    );
    const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    const r = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: consumer, env: scratchEnv() });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  }, 120_000);

  test("the installed compass-sim CLI starts (schemas found next to dist/)", async () => {
    const bin = join(consumer, "node_modules", ".bin", "compass-sim");
    const { child, ready } = await startReady(
      bin,
      ["--quiet", "--generate-apps", "1"],
      consumer,
      scratchEnv(),
    );
    try {
      expect(ready).toMatchObject({ event: "ready", generated: { applications: 1 } });
      const state = (await (await fetch(`${String(ready.adminUrl)}/admin/healthz`)).json()) as {
        status: string;
      };
      expect(state.status).toBe("ok");
    } finally {
      await stop(child);
    }
  }, 120_000);
});
