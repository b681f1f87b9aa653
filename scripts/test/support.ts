// Helpers for the codegen:refresh tests: a temporary copy of the parts of the repository the command reads and writes,
// captured output, and SDL alterations that fail loudly when the text they change is not there.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseRefreshArgs } from "../codegen-refresh/args.js";
import { refresh } from "../codegen-refresh/refresh.js";
import type { CodegenRunner, Output, RefreshResult } from "../codegen-refresh/refresh.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const FIXTURES = fileURLToPath(new URL("./fixtures", import.meta.url));
export const CLIENT_PACKAGES = ["connector-client", "director-client"] as const;

/** Files of the real repository a refresh may write (schemas and generated clients), with their content. */
export function repoWritableFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of ["connector", "director"]) {
    const path = join(REPO_ROOT, "schemas", "compass", `${name}.graphql`);
    files.set(path, readFileSync(path, "utf8"));
  }
  for (const pkg of CLIENT_PACKAGES) {
    const dir = join(REPO_ROOT, "packages", pkg, "src", "generated");
    for (const file of readdirSync(dir)) files.set(join(dir, file), readFileSync(join(dir, file), "utf8"));
  }
  return files;
}

export interface TempRoot {
  dir: string;
  read(path: string): string;
  write(path: string, text: string): string;
  /** Content of every schema and generated file, for "nothing written" checks. */
  snapshot(): Map<string, string>;
  remove(): void;
}

/**
 * A copy of what codegen:refresh touches: the root package.json and pnpm-workspace.yaml, schemas/compass, and for each
 * client its package.json, codegen.ts, src/operations and src/generated; its node_modules is a link to the real one
 * so that `pnpm --filter … codegen` runs in the copy.
 */
export function makeTempRoot(): TempRoot {
  const dir = mkdtempSync(join(tmpdir(), "codegen-refresh-"));
  for (const file of ["package.json", "pnpm-workspace.yaml"]) cpSync(join(REPO_ROOT, file), join(dir, file));
  cpSync(join(REPO_ROOT, "schemas", "compass"), join(dir, "schemas", "compass"), { recursive: true });
  for (const pkg of CLIENT_PACKAGES) {
    const from = join(REPO_ROOT, "packages", pkg);
    const to = join(dir, "packages", pkg);
    for (const file of ["package.json", "codegen.ts"]) cpSync(join(from, file), join(to, file));
    for (const sub of ["operations", "generated"]) cpSync(join(from, "src", sub), join(to, "src", sub), { recursive: true });
    if (existsSync(join(from, "node_modules"))) symlinkSync(join(from, "node_modules"), join(to, "node_modules"), "dir");
  }
  const root: TempRoot = {
    dir,
    read: (path) => readFileSync(join(dir, path), "utf8"),
    write: (path, text) => {
      writeFileSync(join(dir, path), text);
      return join(dir, path);
    },
    snapshot: () => {
      const files = new Map<string, string>();
      for (const name of readdirSync(join(dir, "schemas", "compass"))) files.set(`schemas/compass/${name}`, root.read(`schemas/compass/${name}`));
      for (const pkg of CLIENT_PACKAGES) {
        const generated = `packages/${pkg}/src/generated`;
        for (const name of readdirSync(join(dir, generated))) files.set(`${generated}/${name}`, root.read(`${generated}/${name}`));
      }
      return files;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  return root;
}

/** Replaces `from` with `to` in `text`; throws when `from` does not occur exactly once (the fixture would be wrong). */
export function alter(text: string, from: string | RegExp, to: string): string {
  const count = typeof from === "string" ? text.split(from).length - 1 : [...text.matchAll(new RegExp(from, "g"))].length;
  if (count !== 1) throw new Error(`alter: expected exactly one ${String(from)}, found ${count}`);
  return text.replace(from, to);
}

export interface Run {
  exitCode: number;
  out: string;
  err: string;
  result: RefreshResult;
  codegenCalls: string[];
}

/** A codegen runner that records calls instead of running graphql-codegen. */
export function recordingCodegen(calls: string[], fail?: string): CodegenRunner {
  return async (packageName) => {
    calls.push(packageName);
    if (fail) throw new Error(fail);
  };
}

/** Runs the command in-process with `argv`; `codegen` defaults to a recorder (no graphql-codegen). */
export async function run(argv: string[], codegen?: CodegenRunner): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Output = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const parsed = parseRefreshArgs(argv, REPO_ROOT);
  if (parsed.help) throw new Error("unexpected --help");
  const codegenCalls: string[] = [];
  const result = await refresh(parsed.options, io, codegen ?? recordingCodegen(codegenCalls));
  return { exitCode: result.exitCode, out: out.join("\n"), err: err.join("\n"), result, codegenCalls };
}

export const fixture = (name: string) => join(FIXTURES, name);
