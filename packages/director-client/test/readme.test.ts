// Runs the README's example as a script against the test Director, so the documentation cannot drift from the code.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FakeDirector, fakeId } from "./support/fake-director.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const director = new FakeDirector();

beforeAll(() => director.start());
afterAll(() => director.stop());

it("the README example runs against a Director", { timeout: 120_000 }, async () => {
  director.applications = [
    {
      id: fakeId("a0000000", 1),
      name: "mp-commerce-mock",
      bundles: [{ id: fakeId("b0000000", 1), name: "orders", apis: [{ id: fakeId("c0000000", 1), name: "orders-api", targetURL: "https://x" }] }],
    },
  ];
  const readme = readFileSync(join(packageDir, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Example"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  const entry = new URL("../src/index.ts", import.meta.url).href;
  const script = (code ?? "").replace('from "@runtime-agent/director-client"', `from ${JSON.stringify(entry)}`);
  expect(script).toContain(entry);

  const dir = mkdtempSync(join(tmpdir(), "director-client-readme-"));
  try {
    const file = join(dir, "example.mts");
    const caFile = join(dir, "ca.pem");
    writeFileSync(file, script);
    writeFileSync(caFile, director.tls.caPem);
    const child = spawn(process.execPath, ["--conditions=development", "--import", "tsx", file], {
      cwd: packageDir,
      env: { ...process.env, DIRECTOR_URL: director.url, RUNTIME_ID: director.runtimeId, NODE_EXTRA_CA_CERTS: caFile },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout.trim().split("\n")).toEqual(["isNormalized=true", "1 of 1 applications in 1 requests", "mp-commerce-mock: 1 bundles, 1 APIs"]);
    expect(director.runtimeLabels?.["runtime_eventServiceUrl"]).toBe("https://gateway.kyma.local");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
