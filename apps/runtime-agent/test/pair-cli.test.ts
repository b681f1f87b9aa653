import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SimAdmin } from "./support/admin.js";
import { runCli } from "./support/cli.js";

// The CLI against the Compass simulator over real TLS and mTLS, as a user runs it.
let sim: Awaited<ReturnType<typeof startCompassSimulator>>;
let admin: SimAdmin;
let work: string;

beforeAll(async () => {
  sim = await startCompassSimulator({});
  admin = new SimAdmin(sim.adminUrl);
  work = await mkdtemp(join(tmpdir(), "ra-pair-"));
});

afterAll(async () => {
  await sim?.close();
  await rm(work, { recursive: true, force: true });
});

async function freshToken(): Promise<{ runtimeId: string; token: string; connectorURL: string }> {
  const runtime = await admin.createRuntime(`rt-${Math.random().toString(36).slice(2, 8)}`);
  const token = await admin.issueToken(runtime.id);
  return { runtimeId: runtime.id, ...token };
}

const KEY = ["--key-size", "2048"];

/** Pairs into `dir` with a fresh token; the pairing must succeed (a failure shows the CLI's stderr). */
async function pairInto(dir: string) {
  const { token, connectorURL } = await freshToken();
  const result = await runCli(["pair", "--connector-url", connectorURL, "--token", token, "--out", dir, "--ca-file", sim.serverCaFile, ...KEY]);
  expect(result.code, result.stderr).toBe(0);
  return { result, token, connectorURL };
}

describe("runtime-agent pair / renew / revoke", () => {
  test("pairs with a one-time token and writes verified credentials", async () => {
    const dir = join(work, "paired");
    const { result } = await pairInto(dir);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("Paired with Compass");

    expect((await readdir(dir)).sort()).toEqual(["ca.pem", "chain.pem", "connection.json", "crt.pem", "key.pem"]);
    expect((await stat(join(dir, "key.pem"))).mode & 0o777).toBe(0o600);
    const key = await readFile(join(dir, "key.pem"), "utf8");
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(result.stdout).not.toContain(key.split("\n")[1]);

    const connection = JSON.parse(await readFile(join(dir, "connection.json"), "utf8"));
    const cert = new X509Certificate(await readFile(join(dir, "crt.pem"), "utf8"));
    expect(connection).toEqual({
      directorUrl: sim.directorUrl,
      connectorUrl: sim.certSecuredConnectorUrl,
      subject: expect.stringContaining("CN="),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      fingerprint: cert.fingerprint256.replace(/:/g, "").toLowerCase(),
    });
    // An independent check of the chain: openssl verifies crt.pem against ca.pem.
    const verify = execFileSync("openssl", ["verify", "-CAfile", join(dir, "ca.pem"), join(dir, "crt.pem")]).toString();
    expect(verify).toContain(": OK");
    const state = await admin.state();
    expect(state.issuedCertificates.map((c) => c.fingerprint)).toContain(connection.fingerprint);
  });

  test("a token cannot be used twice, and nothing is written on failure", async () => {
    const first = join(work, "reuse-1");
    const { token, connectorURL } = await pairInto(first);
    const second = join(work, "reuse-2");
    const result = await runCli(["pair", "--connector-url", connectorURL, "--token", token, "--out", second, "--ca-file", sim.serverCaFile, ...KEY]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("CONNECTOR_NOT_AUTHENTICATED");
    expect(result.stderr).not.toContain(token);
    await expect(stat(second)).rejects.toThrow();
  });

  test("a token that begins with '-' reaches Compass, written --token TOKEN or --token=TOKEN", async () => {
    const { connectorURL } = await freshToken();
    const dir = join(work, "dash");
    for (const token of [["--token", "-not-issued"], ["--token=-not-issued"]]) {
      const refused = await runCli(["pair", "--connector-url", connectorURL, ...token, "--out", dir, "--ca-file", sim.serverCaFile, ...KEY]);
      expect(refused.code, refused.stderr).toBe(3);
      expect(refused.stderr).toContain("CONNECTOR_NOT_AUTHENTICATED");
    }
    await expect(stat(dir)).rejects.toThrow();
  });

  test("an expired token is refused", async () => {
    // A simulator of its own: moving its clock would make certificates it issues later not yet valid.
    const own = await startCompassSimulator({});
    try {
      const ownAdmin = new SimAdmin(own.adminUrl);
      const runtime = await ownAdmin.createRuntime("expiring");
      const { token, connectorURL } = await ownAdmin.issueToken(runtime.id);
      await ownAdmin.advanceClock(61 * 60);
      const dir = join(work, "expired");
      const result = await runCli(["pair", "--connector-url", connectorURL, "--token", token, "--out", dir, "--ca-file", own.serverCaFile, ...KEY]);
      expect(result.code, result.stderr).toBe(3);
      await expect(stat(dir)).rejects.toThrow();
    } finally {
      await own.close();
    }
  });

  test("an untrusted server certificate fails unless --ca-file or --insecure-skip-tls-verify", async () => {
    const { token, connectorURL } = await freshToken();
    const dir = join(work, "untrusted");
    const refused = await runCli(["pair", "--connector-url", connectorURL, "--token", token, "--out", dir, ...KEY]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain("CONNECTOR_TLS_FAILED");
    await expect(stat(dir)).rejects.toThrow();
    // The TLS failure happened before any request, so the token is still unused.
    const skipped = await runCli(["pair", "--connector-url", connectorURL, "--token", token, "--out", dir, "--insecure-skip-tls-verify", ...KEY]);
    expect(skipped.code).toBe(0);
  });

  test("renews over mTLS; the old certificate keeps working", async () => {
    const dir = join(work, "renew");
    await pairInto(dir);
    const before = JSON.parse(await readFile(join(dir, "connection.json"), "utf8"));
    const oldKey = await readFile(join(dir, "key.pem"), "utf8");
    const oldChain = await readFile(join(dir, "chain.pem"), "utf8");

    const result = await runCli(["renew", "--cert-dir", dir, "--ca-file", sim.serverCaFile, ...KEY]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const after = JSON.parse(await readFile(join(dir, "connection.json"), "utf8"));
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.subject).toBe(before.subject);
    expect(await readFile(join(dir, "key.pem"), "utf8")).not.toBe(oldKey);

    // Put the old credentials back in a directory of their own and renew with them: still accepted.
    const oldDir = join(work, "renew-old");
    await pairInto(oldDir);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(oldDir, "key.pem"), oldKey);
    await writeFile(join(oldDir, "chain.pem"), oldChain);
    const again = await runCli(["renew", "--cert-dir", oldDir, "--ca-file", sim.serverCaFile, ...KEY]);
    expect(again.code).toBe(0);
  });

  test("a revoked certificate cannot renew", async () => {
    const dir = join(work, "revoked");
    await pairInto(dir);
    const revoke = await runCli(["revoke", "--cert-dir", dir, "--ca-file", sim.serverCaFile]);
    expect(revoke.code).toBe(0);
    const connection = JSON.parse(await readFile(join(dir, "connection.json"), "utf8"));
    const state = await admin.state();
    expect(state.issuedCertificates.find((c) => c.fingerprint === connection.fingerprint)?.revoked).toBe(true);

    const files = await readFile(join(dir, "crt.pem"), "utf8");
    const renew = await runCli(["renew", "--cert-dir", dir, "--ca-file", sim.serverCaFile, ...KEY]);
    expect(renew.code).toBe(3);
    expect(renew.stderr).toContain("CONNECTOR_NOT_AUTHENTICATED");
    expect(await readFile(join(dir, "crt.pem"), "utf8")).toBe(files);
    // Real Compass answers a revoked certificate with HTTP 400 and an empty body, on every operation.
    const again = await runCli(["revoke", "--cert-dir", dir, "--ca-file", sim.serverCaFile]);
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toContain("CONNECTOR_NOT_AUTHENTICATED");
  });

  test("usage errors exit 2", async () => {
    expect((await runCli(["pair", "--token", "x"])).code).toBe(2);
    expect((await runCli(["pair", "--connector-url", "http://plain", "--token", "x", "--out", "/tmp/x"])).code).toBe(2);
    expect((await runCli(["pair", "--connector-url", "https://x", "--token", "a b", "--out", "/tmp/x"])).code).toBe(2);
    expect((await runCli(["nope"])).code).toBe(2);
    expect((await runCli(["renew", "--cert-dir", join(work, "missing")])).code).toBe(2);
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("runtime-agent pair");
  });
});
