// The command as a process (tsx scripts/codegen-refresh/main.ts, what `pnpm codegen:refresh` runs): exit codes and
// where messages go.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { fixture, makeTempRoot, REPO_ROOT } from "./support.js";
import type { TempRoot } from "./support.js";

const TSX = join(REPO_ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const MAIN = join(REPO_ROOT, "scripts", "codegen-refresh", "main.ts");

let root: TempRoot;
beforeAll(() => {
  root = makeTempRoot();
});
afterAll(() => root.remove());

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [TSX, MAIN, ...args], { encoding: "utf8", cwd: REPO_ROOT, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("--help: usage on stdout, exit 0", () => {
  const r = cli("--help");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("Usage: pnpm codegen:refresh --connector <url|file> --director <url|file> [options]");
  expect(r.stdout).toContain("Exit codes: 0 done");
});

test("bad flags: message and usage on stderr, exit 1", () => {
  const r = cli("--connector");
  expect(r.status).toBe(1);
  expect(r.stderr).toContain("codegen:refresh: Option '--connector <value>' argument missing");
  expect(r.stderr).toContain("Usage: pnpm codegen:refresh");
});

test("an operation that no longer validates: exit 2 (pnpm's `--` separator accepted)", () => {
  const r = cli("--", "--root", root.dir, "--connector", fixture("connector-without-ca-certificate.graphql"));
  expect(r.status).toBe(2);
  expect(r.stdout).toContain("✗ operation SignCertificateSigningRequest");
  expect(r.stderr).toContain("✗ 1 operation no longer validates against the new schema: nothing written");
});

test("an unreadable file: exit 1", () => {
  const r = cli("--root", root.dir, "--director", join(root.dir, "missing.graphql"));
  expect(r.status).toBe(1);
  expect(r.stderr).toContain("✗ director: cannot read");
});

test("a valid dry run: exit 0", () => {
  const r = cli("--root", root.dir, "--connector", fixture("connector-additions.graphql"), "--dry-run");
  expect(r.status).toBe(0);
  expect(r.stderr).toBe("");
});
