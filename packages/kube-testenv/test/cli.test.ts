import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readKubeconfig } from "../src/kubeconfig.js";
import { clientFor, fixtures, portOpen } from "./helpers.js";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Ready {
  event: string;
  kubeconfig: string;
  agentKubeconfig: string;
}

interface Cli {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs the CLI from source (node + tsx loader, one process, so signals reach it directly). */
function runCli(args: string[]): Cli {
  const child = spawn(process.execPath, ["--import", "tsx", join(pkgDir, "src", "cli.ts"), ...args], {
    cwd: pkgDir,
    env: { ...process.env, USE_EXISTING_CLUSTER: "" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

function firstLine(cli: Cli): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const out = cli.stdout();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    };
    cli.child.stdout.on("data", check);
    check();
    cli.child.once("exit", (code) =>
      reject(new Error(`cli exited (${code}) before ready:\n${cli.stderr()}`)),
    );
  });
}

describe("kube-testenv CLI", () => {
  it("`up` prints exactly one ready line, installs the --crds (Kyma's style too), serves, and exits cleanly on SIGTERM", async () => {
    const cli = runCli(["up", "--crds", join(fixtures, "crds"), "--crds", join(fixtures, "crds-kyma-style")]);
    try {
      const line = await firstLine(cli);
      const ready = JSON.parse(line) as Ready;
      expect(Object.keys(ready)).toEqual(["event", "kubeconfig", "agentKubeconfig"]);
      expect(ready.event).toBe("ready");
      expect(existsSync(ready.kubeconfig)).toBe(true);
      expect(existsSync(ready.agentKubeconfig)).toBe(true);

      const admin = clientFor(ready.kubeconfig);
      try {
        const list = await admin.request("GET", "/apis/testenv.example.com/v1/namespaces/default/widgets");
        expect(list.status, list.body).toBe(200);
        // Kyma's style: quoted descriptions continued at the key's own indentation, joined as Go joins them.
        const crd = await admin.request(
          "GET",
          "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/compassconnections.compass.testenv.example.com",
        );
        expect(crd.status, crd.body).toBe(200);
        const schema = (
          crd.json as {
            spec: {
              versions: {
                schema: { openAPIV3Schema: { properties: Record<string, { description?: string }> } };
              }[];
            };
          }
        ).spec.versions[0]!.schema.openAPIV3Schema;
        expect(schema.properties["kind"]?.description).toBe(
          "The REST kind of this object, in CamelCase: the server infers it from the endpoint and it cannot be " +
            "changed. It's read-only.",
        );
        const cc = await admin.request(
          "GET",
          "/apis/compass.testenv.example.com/v1alpha1/compassconnections",
        );
        expect(cc.status, cc.body).toBe(200);
      } finally {
        admin.close();
      }

      cli.child.kill("SIGTERM");
      expect(await cli.exited).toBe(0);
      expect(cli.stdout()).toBe(`${line}\n`);
      expect(cli.stderr()).toContain("stopped");
      expect(existsSync(dirname(ready.kubeconfig))).toBe(false);
    } finally {
      cli.child.kill("SIGKILL");
    }
  }, 180_000);

  it("etcd and kube-apiserver exit by themselves when the CLI is killed with SIGKILL", async () => {
    const cli = runCli(["up"]);
    let dir: string | undefined;
    try {
      const ready = JSON.parse(await firstLine(cli)) as Ready;
      dir = dirname(ready.kubeconfig);
      const apiPort = Number(new URL(readKubeconfig(ready.kubeconfig).server).port);
      const etcdPort = Number(
        /ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(join(dir, "etcd.log"), "utf8"))?.[1],
      );
      expect(await portOpen(apiPort)).toBe(true);

      cli.child.kill("SIGKILL");
      await cli.exited;
      // They watch their stdin pipe; it closes with the parent.
      await expect.poll(() => portOpen(apiPort), { timeout: 30_000, interval: 200 }).toBe(false);
      await expect.poll(() => portOpen(etcdPort), { timeout: 30_000, interval: 200 }).toBe(false);
    } finally {
      cli.child.kill("SIGKILL");
      // SIGKILL gives the CLI no chance to remove its temp dir.
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it("rejects unknown arguments with exit code 2", async () => {
    const cli = runCli(["up", "--bogus"]);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toContain("unknown argument --bogus");
    expect(cli.stdout()).toBe("");
  }, 60_000);
});
