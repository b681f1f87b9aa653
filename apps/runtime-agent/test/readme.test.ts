import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { withConfigTable } from "../src/config/markdown.js";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

test("the README's configuration table matches the settings (run pnpm docs:config after changing them)", () => {
  expect(readme).toBe(withConfigTable(readme));
});

test(".ci/run finds exactly the README's test command", () => {
  const ciRun = readFileSync(new URL("../../../.ci/run", import.meta.url), "utf8");
  const awk = /TEST_COMMAND=\$\(awk '([^']+)' README\.md\)/.exec(ciRun)?.[1];
  expect(awk).toBeDefined();
  const command = execFileSync("awk", [awk as string, "README.md"], { cwd: new URL("../../..", import.meta.url) }).toString().trim();
  expect(command).toBe("pnpm install --frozen-lockfile && pnpm test");
  expect(readme).toContain("```sh\npnpm install --frozen-lockfile && pnpm test\n```");
});
