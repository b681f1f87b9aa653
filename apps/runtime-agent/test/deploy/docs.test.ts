/**
 * The operator documentation (docs/) against the code it describes: every error code of every package's
 * src/errors.ts is in docs/troubleshooting.md, every metric of the agent and the image's Node.js flags are in
 * docs/operations.md, every setting the project added is in docs/compatibility.md, and relative links between the
 * documents resolve.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { SETTINGS } from "../../src/config/schema.js";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const docsDir = join(repoRoot, "docs");
const read = (path: string) => readFile(join(repoRoot, path), "utf8");

let troubleshooting: string;
let operations: string;
let compatibility: string;

beforeAll(async () => {
  [troubleshooting, operations, compatibility] = await Promise.all([
    read("docs/troubleshooting.md"),
    read("docs/operations.md"),
    read("docs/compatibility.md"),
  ]);
});

describe("docs/troubleshooting.md", () => {
  test.each([
    ["connector-client", /"(CONNECTOR_[A-Z_]+)"/g],
    ["director-client", /"(DIRECTOR_[A-Z_]+)"/g],
    ["cert-manager", /"(CERT_[A-Z_]+)"/g],
    ["k8s-store", /"(K8S_[A-Z_]+)"/g],
    ["kube-testenv", /\| "([A-Z_]+)"/g],
  ])("lists every code of packages/%s/src/errors.ts", async (pkg, pattern) => {
    const source = await read(`packages/${pkg}/src/errors.ts`);
    const codes = [...new Set([...source.matchAll(pattern)].map((m) => m[1] as string))];
    expect(codes.length).toBeGreaterThan(3);
    expect(codes.filter((code) => !troubleshooting.includes(`\`${code}\``))).toEqual([]);
  });
});

describe("docs/operations.md", () => {
  test("lists every metric the agent registers", async () => {
    const source = await read("apps/runtime-agent/src/observability/metrics.ts");
    const names = [...source.matchAll(/name: "(cra_[a-z_]+)"/g)].map((m) => m[1] as string);
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((name) => !operations.includes(`\`${name}\``))).toEqual([]);
  });

  test("uses the CR fields and names the agent uses", () => {
    for (const text of [
      "refreshCredentialsNow",
      "resyncNow",
      "compass-connection",
      "compass-agent-configuration",
      "cluster-client-certificates",
      "compass-runtime-agent-leader",
    ]) {
      expect(operations).toContain(text);
    }
  });

  test("shows the image's Node.js flags and environment as build/node-flags.json sets them", async () => {
    const { flags, env } = JSON.parse(await read("apps/runtime-agent/build/node-flags.json")) as { flags: string[]; env: Record<string, string> };
    expect(operations).toContain(`\`node ${flags.join(" ")}\``);
    for (const [name, value] of Object.entries(env)) expect(operations).toContain(`\`${name}=${value}\``);
  });
});

describe("docs/compatibility.md", () => {
  test("names every setting this project added, with its default", () => {
    const added = Object.values(SETTINGS).filter((s) => (s as { added?: boolean }).added);
    expect(added.length).toBeGreaterThan(3);
    for (const s of added) {
      expect(compatibility, s.env).toContain(`\`${s.env}\``);
      if (s.default !== undefined) expect(compatibility, `${s.env} default`).toContain(s.default);
    }
  });
});

describe("docs/", () => {
  test("relative links resolve", async () => {
    const broken: string[] = [];
    for (const file of (await readdir(docsDir)).filter((f) => f.endsWith(".md"))) {
      const text = await readFile(join(docsDir, file), "utf8");
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)\s]*)?\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        const path = resolve(dirname(join(docsDir, file)), target);
        if (!existsSync(path)) broken.push(`${file}: ${target}`);
        const anchor = m[2];
        if (anchor && path.endsWith(".md") && existsSync(path)) {
          const headings = (await readFile(path, "utf8")).split("\n").filter((l) => l.startsWith("#"));
          const slugs = headings.map((h) =>
            h
              .replace(/^#+\s*/, "")
              .toLowerCase()
              .replace(/[^a-z0-9 -]/g, "")
              .replace(/ /g, "-"),
          );
          if (!slugs.includes(anchor.slice(1))) broken.push(`${file}: ${target}${anchor}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
