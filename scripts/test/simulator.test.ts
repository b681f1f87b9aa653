// codegen:refresh against the project's Compass simulator over real TLS: the Connector's schema by introspection with a
// one-time token, the Director's over mTLS with a client certificate from a real pairing (pairWithToken).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSchema, validate } from "graphql";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCompassSimulator } from "../../packages/compass-sim/src/index.js";
import type { CompassSimulator } from "../../packages/compass-sim/src/index.js";
import { pairWithToken } from "../../packages/connector-client/src/index.js";
import { introspect, loadSchema } from "../codegen-refresh/load.js";
import { subsetProblems } from "../codegen-refresh/subset.js";
import { makeTempRoot, repoWritableFiles, run } from "./support.js";
import type { TempRoot } from "./support.js";

let sim: CompassSimulator;
let runtimeId: string;
let work: string;
let certDir: string;
let caFile: string;

beforeAll(async () => {
  sim = await startCompassSimulator({});
  runtimeId = sim.createRuntime({ name: "codegen-refresh" }).id;
  const { token, connectorURL } = sim.issueToken(runtimeId);
  const credentials = await pairWithToken(connectorURL, token, { tls: { caPem: sim.serverCaPem }, keySize: 2048 });
  work = mkdtempSync(join(tmpdir(), "codegen-refresh-sim-"));
  // The two files of what `runtime-agent pair` writes that codegen:refresh reads.
  certDir = join(work, "certs");
  mkdirSync(certDir);
  writeFileSync(join(certDir, "key.pem"), credentials.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(certDir, "chain.pem"), credentials.certificateChainPem);
  caFile = join(work, "server-ca.pem");
  writeFileSync(caFile, sim.serverCaPem);
});

afterAll(async () => {
  await sim?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh one-time token for the runtime (the Connector burns each one on first use). */
const freshToken = () => sim.issueToken(runtimeId).token;

const simArgs = () => [
  "--connector",
  sim.connectorUrl,
  "--token",
  freshToken(),
  "--director",
  sim.directorUrl,
  "--cert-dir",
  certDir,
  "--ca-file",
  caFile,
];

describe("introspection of the simulator", () => {
  test("dry run in the repository: both schemas agree with what the simulator serves, exit 0, nothing written", async () => {
    const before = repoWritableFiles();
    const logStart = sim.state.requestLog.length;
    const r = await run([...simArgs(), "--dry-run"]);
    expect(r.err).toBe("");
    expect(r.exitCode).toBe(0);
    for (const target of r.result.targets) {
      expect(target.invalid).toEqual([]);
      expect(target.changes).toEqual([]);
    }
    expect(r.out.match(/breaking changes for the agent: none/g)).toHaveLength(2);
    expect(r.out).toContain(`connector: introspection of ${sim.connectorUrl}`);
    expect(r.out).toContain(`director: introspection of ${sim.directorUrl}`);
    expect(r.out).toContain("dry run: nothing written, no codegen");
    expect(r.codegenCalls).toEqual([]);
    expect(repoWritableFiles()).toEqual(before);

    // The Connector saw the one-time token, the Director the client certificate.
    const calls = sim.state.requestLog.slice(logStart);
    expect(calls.map((c) => [c.api, c.listener, c.operations, c.identity?.via, c.status])).toEqual([
      ["connector", "token", ["__schema"], "token", 200],
      ["director", "mtls", ["__schema"], "certificate", 200],
    ]);
  });

  test("--prune: the result is a subset of what the simulator serves and validates every operation", async () => {
    const r = await run([...simArgs(), "--dry-run", "--prune"]);
    expect(r.exitCode).toBe(0);
    for (const target of r.result.targets) {
      const pruned = buildSchema(target.content!);
      expect(subsetProblems(pruned, target.newSchema)).toEqual([]);
      for (const operation of target.operations) expect(validate(pruned, operation.document)).toEqual([]);
      expect(target.operations.length).toBeGreaterThan(0);
    }
    const director = buildSchema(r.result.targets.find((t) => t.target === "director")!.content!);
    // Used: kept, with all arguments. Not used: gone.
    expect(Object.keys(director.getQueryType()!.getFields())).toEqual(["runtime", "applicationsForRuntime"]);
    expect(director.getType("Bundle")!.toString()).toBe("Bundle");
    expect(director.getType("RuntimeStatus")).toBeUndefined();
    expect(director.getType("Pageable")).toBeUndefined();
    expect(r.out).toMatch(/schemas\/compass\/director\.graphql: would write the pruned schema \(\d+ of \d+ types/);
  });

  test("--prune writes to a copy of the repository and regenerates both clients", async () => {
    const root: TempRoot = makeTempRoot();
    try {
      const r = await run(["--root", root.dir, ...simArgs(), "--prune"]);
      expect(r.exitCode).toBe(0);
      expect(r.codegenCalls).toEqual(["@runtime-agent/connector-client", "@runtime-agent/director-client"]);
      const written = root.read("schemas/compass/director.graphql");
      expect(written).toContain(`# Refreshed by \`pnpm codegen:refresh\` from introspection of ${sim.directorUrl}, pruned to what the agent's operations use.`);
      // The project's header (wire formats of the scalars) stays.
      expect(written).toContain("# Wire formats of the custom scalars");
      const introspected = (await loadSchema(sim.directorUrl, { caFile, certDir })).schema;
      expect(subsetProblems(buildSchema(written), introspected)).toEqual([]);
    } finally {
      root.remove();
    }
  });
});

describe("transport failures: exit 1, nothing written", () => {
  test("the Director without a client certificate fails the mTLS handshake", async () => {
    const before = repoWritableFiles();
    const r = await run(["--director", sim.directorUrl, "--ca-file", caFile]);
    expect(r.exitCode).toBe(1);
    expect(r.err).toContain(`✗ director: ${sim.directorUrl}: `);
    expect(r.err).toContain("(the server wants a client certificate it trusts: --cert-dir DIR with key.pem and chain.pem)");
    expect(r.err).toContain("nothing written");
    expect(repoWritableFiles()).toEqual(before);
  });

  test("an untrusted server certificate fails without --ca-file; --insecure-skip-tls-verify accepts it", async () => {
    const untrusted = await run(["--connector", sim.connectorUrl, "--token", freshToken(), "--dry-run"]);
    expect(untrusted.exitCode).toBe(1);
    expect(untrusted.err).toMatch(/unable to verify the first certificate.*\(trust the server's CA with --ca-file, or use --insecure-skip-tls-verify\)/);
    const skipped = await run(["--connector", sim.connectorUrl, "--token", freshToken(), "--dry-run", "--insecure-skip-tls-verify"]);
    expect(skipped.exitCode).toBe(0);
  });

  test("an unreachable URL", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const r = await run(["--connector", `https://127.0.0.1:${port}/connector/graphql`, "--dry-run"]);
    expect(r.exitCode).toBe(1);
    expect(r.err).toContain("ECONNREFUSED");
  });

  test("a gateway error in front of the Director (HTTP 503)", async () => {
    sim.addFault({ target: "director", status: 503 });
    const r = await run([...simArgs(), "--dry-run"]);
    expect(r.exitCode).toBe(1);
    expect(r.err).toContain(`✗ director: ${sim.directorUrl}: HTTP 503: no healthy upstream`);
  });

  test("a missing client key file", async () => {
    const r = await run(["--director", sim.directorUrl, "--ca-file", caFile, "--cert-dir", join(work, "missing")]);
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/cannot read client key .*missing\/key\.pem/);
  });
});

test("introspect returns the simulator's data for the raw query (token listener, no identity needed)", async () => {
  const data = (await introspect(sim.connectorUrl, { caFile, token: freshToken() })) as { __schema: { queryType: { name: string } } };
  expect(data.__schema.queryType.name).toBe("Query");
});
