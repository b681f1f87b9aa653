// The compass-sim CLI as a process: ready line, signals, flags, seed.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { CONFIGURATION_QUERY, graphqlCall, httpCall, tempDir } from "./support/tools.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const cliArgs = ["--conditions=development", "--import", "tsx", "src/cli.ts"];

interface Running {
  child: ChildProcess;
  ready: Record<string, string>;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];
let dir: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  dir = await tempDir();
});

afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

afterAll(async () => {
  await dir?.remove();
});

function spawnCli(args: string[]) {
  const child = spawn(process.execPath, [...cliArgs, ...args], { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] });
  started.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

async function startCli(args: string[] = []): Promise<Running> {
  const proc = spawnCli(args);
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    const onData = () => {
      const newline = proc.stdout().indexOf("\n");
      if (newline >= 0) {
        proc.child.stdout!.off("data", onData);
        resolve(JSON.parse(proc.stdout().slice(0, newline)) as Record<string, string>);
      }
    };
    proc.child.stdout!.on("data", onData);
    void proc.exit.then(({ code }) => reject(new Error(`exited with ${code} before ready: ${proc.stderr()}`)));
  });
  return { ...proc, ready };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const admin = (base: string, method: string, path: string, body?: unknown) =>
  httpCall(new URL(path, base).toString(), {
    method,
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });

describe("compass-sim CLI", () => {
  test("prints one ready line, serves, and exits 0 on SIGTERM after removing its files", async () => {
    const cli = await startCli();
    expect(Object.keys(cli.ready).sort()).toEqual(
      ["adminUrl", "certSecuredConnectorUrl", "clientCaFile", "connectorUrl", "directorUrl", "event", "serverCaFile"].sort(),
    );
    expect(cli.ready["event"]).toBe("ready");
    expect(cli.ready["connectorUrl"]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/connector\/graphql$/);
    expect(cli.ready["certSecuredConnectorUrl"]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/connector\/graphql$/);
    expect(cli.ready["directorUrl"]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/director\/graphql$/);
    expect(cli.ready["adminUrl"]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const serverCa = await readFile(cli.ready["serverCaFile"]!, "utf8");
    expect(serverCa).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(await readFile(cli.ready["clientCaFile"]!, "utf8")).toMatch(/^-----BEGIN CERTIFICATE-----/);

    const runtime = (await admin(cli.ready["adminUrl"]!, "POST", "/admin/runtimes", { name: "cli" })).json;
    const token = (await admin(cli.ready["adminUrl"]!, "POST", `/admin/runtimes/${runtime.id}/tokens`)).json;
    expect(token.connectorURL).toBe(cli.ready["connectorUrl"]);
    const config = await graphqlCall(token.connectorURL, CONFIGURATION_QUERY, { ca: serverCa, token: token.token });
    expect(config.json.data.result.managementPlaneInfo.directorURL).toBe(cli.ready["directorUrl"]);

    cli.child.kill("SIGTERM");
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    expect(cli.stdout().trim().split("\n")).toHaveLength(1);
    expect(existsSync(cli.ready["serverCaFile"]!)).toBe(false);
    expect(existsSync(cli.ready["clientCaFile"]!)).toBe(false);
  });

  test("exits 0 on SIGINT", async () => {
    const cli = await startCli(["--quiet"]);
    cli.child.kill("SIGINT");
    expect(await cli.exit).toEqual({ code: 0, signal: null });
  });

  test("fixed ports, certificate validity and token TTL flags", async () => {
    const [tokenPort, mtlsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const cli = await startCli([
      "--host", "127.0.0.1",
      "--token-port", String(tokenPort),
      "--mtls-port", String(mtlsPort),
      "--admin-port", String(adminPort),
      "--cert-validity", "30s",
      "--token-ttl", "2m",
    ]);
    expect(cli.ready["connectorUrl"]).toBe(`https://127.0.0.1:${tokenPort}/connector/graphql`);
    expect(cli.ready["directorUrl"]).toBe(`https://127.0.0.1:${mtlsPort}/director/graphql`);
    expect(cli.ready["adminUrl"]).toBe(`http://127.0.0.1:${adminPort}`);
    const runtime = (await admin(cli.ready["adminUrl"]!, "POST", "/admin/runtimes", { name: "ttl" })).json;
    const token = (await admin(cli.ready["adminUrl"]!, "POST", `/admin/runtimes/${runtime.id}/tokens`)).json;
    expect(Date.parse(token.expiresAt) - Date.parse(token.createdAt)).toBe(120_000);
    cli.child.kill("SIGTERM");
    expect((await cli.exit).code).toBe(0);
  });

  test("loads tenants, runtimes and applications from --seed and reports sections it does not know", async () => {
    const seedPath = `${dir.path}/seed.json`;
    await writeFile(
      seedPath,
      JSON.stringify({
        tenants: ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
        runtimes: [
          {
            id: "0ab2ca6e-767c-4d34-a292-618b01681c50",
            name: "seeded",
            tenant: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            labels: { runtime_consoleUrl: "https://console.kyma.local" },
            formations: ["DEFAULT"],
          },
        ],
        applications: [{ name: "seeded-app", formations: ["DEFAULT"], tenant: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" }],
        unknownSection: [],
      }),
    );
    const cli = await startCli(["--seed", seedPath]);
    const state = (await admin(cli.ready["adminUrl"]!, "GET", "/admin/state")).json;
    expect(state.runtimes).toEqual([
      expect.objectContaining({
        id: "0ab2ca6e-767c-4d34-a292-618b01681c50",
        name: "seeded",
        tenant: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        labels: { isNormalized: "true", runtimeType: "kyma", runtime_consoleUrl: "https://console.kyma.local", scenarios: ["DEFAULT"] },
        formations: ["DEFAULT"],
      }),
    ]);
    const token = await admin(cli.ready["adminUrl"]!, "POST", "/admin/runtimes/0ab2ca6e-767c-4d34-a292-618b01681c50/tokens");
    expect(token.status).toBe(200);
    cli.child.kill("SIGTERM");
    expect((await cli.exit).code).toBe(0);
    expect(state.applications).toEqual([expect.objectContaining({ name: "seeded-app", labels: { managed: "false", name: "mp-seeded-app", scenarios: ["DEFAULT"] } })]);
    expect(cli.stderr()).toContain('seed loaded: {"tenants":1,"runtimes":1,"applications":1}');
    expect(cli.stderr()).toContain("seed sections not loaded: unknownSection");
  });

  test("--generate-apps: a runtime with generated applications, and runtimeId, tenant and a token on the ready line", async () => {
    const started = performance.now();
    const cli = await startCli(["--quiet", "--generate-apps", "20", "--bundles", "2", "--apis", "1", "--events", "3", "--credentials-ratio", "1"]);
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(cli.ready).toMatchObject({
      event: "ready",
      runtimeId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      tenant: "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae",
      token: expect.stringMatching(/^[A-Za-z0-9_-]{86}==$/),
      generated: { applications: 20, bundles: 40, apiDefinitions: 40, eventDefinitions: 120, credentials: 40 },
    });
    const state = (await admin(cli.ready["adminUrl"]!, "GET", "/admin/state")).json;
    const runtime = state.runtimes.find((r: { id: string }) => r.id === cli.ready["runtimeId"]);
    expect(runtime).toMatchObject({ formations: ["generated"], status: { condition: "INITIAL" } });
    expect(state.applications).toHaveLength(20);
    expect(state.applications.every((a: { labels: { scenarios: string[] } }) => a.labels.scenarios[0] === "generated")).toBe(true);
    const auth = state.systemAuths.find((s: { oneTimeToken?: { token: string } }) => s.oneTimeToken?.token === cli.ready["token"]);
    expect(auth).toMatchObject({ refType: "Runtime", refId: cli.ready["runtimeId"], oneTimeToken: { used: false } });
    // The token pairs like any other: configuration accepts it.
    const config = await graphqlCall(cli.ready["connectorUrl"]!, CONFIGURATION_QUERY, {
      ca: await readFile(cli.ready["serverCaFile"]!, "utf8"),
      token: cli.ready["token"]!,
    });
    expect(config.json.data.result.certificateSigningRequestInfo.subject).toContain(`CN=${auth.id}`);
    cli.child.kill("SIGTERM");
    expect((await cli.exit).code).toBe(0);
  });

  test("--seed examples/seed.json (the README's seed format)", async () => {
    const cli = await startCli(["--seed", "examples/seed.json"]);
    const state = (await admin(cli.ready["adminUrl"]!, "GET", "/admin/state")).json;
    expect(state.applications.map((a: { name: string }) => a.name).sort()).toEqual(
      ["Commerce Mock", "S4 System", "hidden from runtimes", "in another formation"].sort(),
    );
    expect(state.runtimes[0]).toMatchObject({ id: "0ab2ca6e-767c-4d34-a292-618b01681c50", formations: ["DEFAULT"] });
    expect(state.hideSelectors).toEqual({ hidden: ["true"] });
    expect(cli.stderr()).toContain('seed loaded: {"tenants":2,"formations":1,"runtimes":1,"applications":4,"formationAssignments":3,"hideSelectors":1}');
    cli.child.kill("SIGTERM");
    expect((await cli.exit).code).toBe(0);
  });

  test.each([
    [["--generate-apps", "1.5"], /--generate-apps must be a whole number/],
    [["--events", "2"], /--events needs --generate-apps/],
    [["--token-port", "abc"], /--token-port must be a port number/],
    [["--mtls-port", "70000"], /--mtls-port must be a port number/],
    [["--cert-validity", "9x"], /--cert-validity: invalid duration "9x"/],
    [["--token-ttl", "0s"], /--token-ttl: duration must be positive/],
    [["--seed", "/nonexistent/seed.json"], /--seed: cannot read seed file/],
    [["positional"], /positional/i],
  ])("bad flags %j exit 2 with a message on stderr", async (args, message) => {
    const proc = spawnCli(args);
    const { code } = await proc.exit;
    expect(code).toBe(2);
    expect(proc.stderr()).toMatch(message);
    expect(proc.stdout()).toBe("");
  });

  test("an invalid seed exits 2", async () => {
    const seedPath = `${dir.path}/bad-seed.json`;
    await writeFile(seedPath, JSON.stringify({ runtimes: [{ labels: {} }] }));
    const proc = spawnCli(["--seed", seedPath]);
    expect((await proc.exit).code).toBe(2);
    expect(proc.stderr()).toMatch(/runtimes\[0\]\.name is required/);
  });
});
