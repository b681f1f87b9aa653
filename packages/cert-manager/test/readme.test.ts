// Runs the README's example as a script, so the documentation cannot drift from the code.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

it("the README example runs and prints what its comments say", { timeout: 120_000 }, () => {
  const readme = readFileSync(join(packageDir, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Example"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  const entry = new URL("../src/index.ts", import.meta.url).href;
  const script = (code ?? "").replace('from "@runtime-agent/cert-manager"', `from ${JSON.stringify(entry)}`);
  expect(script).toContain(entry);

  const dir = mkdtempSync(join(tmpdir(), "cert-manager-readme-"));
  try {
    const file = join(dir, "example.mts");
    writeFileSync(file, script);
    const run = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: packageDir, encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual([
      "a0aa0faf-4ac5-44c3-8e79-9a551eeaac75",
      "-----BEGIN RSA PRIVATE KEY-----",
      "true C=DE,ST=province,L=locality,O=Org,OU=OrgUnit,CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75",
      "true threshold 2026-03-05T00:00:00.000Z",
      "CERT_SUBJECT_INVALID",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
