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
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const entry = new URL("../src/index.ts", import.meta.url).href;
  const script = code.replace('from "@runtime-agent/app-sync"', `from ${JSON.stringify(entry)}`);
  expect(script).toContain(entry);

  const dir = mkdtempSync(join(tmpdir(), "app-sync-readme-"));
  try {
    const file = join(dir, "example.mts");
    writeFileSync(file, script);
    const run = spawnSync(process.execPath, ["--conditions=development", "--import", "tsx", file], { cwd: packageDir, encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    // Each printed line is what the comment after the console.log in the README says.
    const comments = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1] ?? "");
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(comments.length);
    expect(lines).toEqual(comments);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
