import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { generate } from "@graphql-codegen/cli";
import { expect, test } from "vitest";
import config from "../codegen.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

test("the committed generated client matches the schema and operations", async () => {
  const cwd = process.cwd();
  process.chdir(packageDir);
  try {
    const outputs = await generate({ ...config, silent: true }, false);
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) {
      const committed = await readFile(new URL(`../${output.filename}`, import.meta.url), "utf8");
      expect(committed, `${output.filename} is stale: run pnpm codegen`).toBe(output.content);
    }
  } finally {
    process.chdir(cwd);
  }
}, 60_000);
