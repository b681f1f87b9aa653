// Runs the README's example as a script, so the documentation cannot drift from the code.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

it("the README example runs and prints what its comment says", { timeout: 120_000 }, () => {
  const readme = readFileSync(join(packageDir, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Example"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const entry = new URL("../src/index.ts", import.meta.url).href;
  const script = code.replace('from "@runtime-agent/compass-sim"', `from ${JSON.stringify(entry)}`);
  expect(script).toContain(entry);

  const dir = mkdtempSync(join(tmpdir(), "compass-sim-readme-"));
  try {
    const file = join(dir, "example.mts");
    writeFileSync(file, script);
    const run = spawnSync(process.execPath, ["--conditions=development", "--import", "tsx", file], {
      cwd: packageDir,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    // The comment after each console.log is what it prints; "…" stands for any text, <systemAuthId> for a UUID.
    const comments = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1] ?? "");
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(comments.length);
    comments.forEach((comment, i) => {
      const pattern = comment
        .split(/(…|<systemAuthId>)/)
        .map((part) =>
          part === "…"
            ? ".+?"
            : part === "<systemAuthId>"
              ? "[0-9a-f-]{36}"
              : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
        )
        .join("");
      expect(lines[i]).toMatch(new RegExp(`^${pattern}$`));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
