// Runs the README's example as a script against the test control plane (as the agent's ServiceAccount), so the
// documentation cannot drift from the code.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DEFAULT_COMPASS_CONNECTION_NAME, type K8sStore } from "../src/index.js";
import { adminStore, agentKubeconfig } from "./helpers.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const CONFIG = { namespace: "kyma-system", name: "compass-agent-configuration" };
const RUNTIME_ID = "0ab2ca6e-767c-4d34-a292-618b01681c50";

let admin: K8sStore;
let dir: string;
let file: string;
let code: string;

beforeAll(async () => {
  admin = adminStore();
  await admin.secrets.upsertSecretKeys(CONFIG.namespace, CONFIG.name, {
    CONNECTOR_URL: "https://compass.example.com/connector/graphql",
    TOKEN: "t",
    RUNTIME_ID,
    TENANT: "",
  });
  await admin.compassConnections.delete(DEFAULT_COMPASS_CONNECTION_NAME);
  const readme = readFileSync(join(packageDir, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Example"));
  code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const entry = new URL("../src/index.ts", import.meta.url).href;
  const script = code.replace('from "@runtime-agent/k8s-store"', `from ${JSON.stringify(entry)}`);
  expect(script).toContain(entry);
  dir = mkdtempSync(join(tmpdir(), "k8s-store-readme-"));
  file = join(dir, "example.mts");
  writeFileSync(file, script);
});

afterAll(async () => {
  await admin.compassConnections.delete(DEFAULT_COMPASS_CONNECTION_NAME);
  await admin.secrets.delete(CONFIG.namespace, CONFIG.name);
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
});

function runExample(): string[] {
  const run = spawnSync(process.execPath, ["--conditions=development", "--import", "tsx", file], {
    cwd: packageDir,
    encoding: "utf8",
    env: { ...process.env, KUBECONFIG: agentKubeconfig() },
  });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  return run.stdout.trim().split("\n");
}

it(
  "the README example runs as the agent: without a CompassConnection it says so",
  { timeout: 120_000 },
  () => {
    expect(runExample()).toEqual([
      RUNTIME_ID,
      "not connected yet",
      '{"get":2,"list":0,"create":0,"update":0,"patch":0,"delete":0,"watch":0}',
    ]);
  },
);

it(
  "the README example runs as the agent: with a CompassConnection it sets resyncNow and prints what its comments say",
  { timeout: 120_000 },
  async () => {
    await admin.compassConnections.create({
      metadata: { name: DEFAULT_COMPASS_CONNECTION_NAME },
      spec: {
        managementInfo: {
          connectorUrl: "https://compass.example.com/connector/graphql",
          directorUrl: "https://compass.example.com/director/graphql",
        },
      },
    });
    const lines = runExample();
    // Each console.log's comment says what it prints (the first: the Secret's RUNTIME_ID; one of the two in the catch).
    const comments = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1] ?? "");
    expect(comments).toHaveLength(4);
    expect(lines).toEqual([RUNTIME_ID, comments[1], comments[3]]);
    expect((await admin.compassConnections.get()).spec.resyncNow).toBe(true);
  },
);
