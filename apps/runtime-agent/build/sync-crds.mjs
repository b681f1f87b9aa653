#!/usr/bin/env node
// Copies the CRDs from schemas/crds/ (the single source) into deploy/base/crds/, so the kustomize base is
// self-contained (kustomize refuses files outside its root without --load-restrictor LoadRestrictionsNone).
//
//   node build/sync-crds.mjs           write the copies      (pnpm --filter @runtime-agent/runtime-agent deploy:crds)
//   node build/sync-crds.mjs --check   exit 1 when a copy is missing, stale or extra
//
// Each copy is the source file byte for byte after a two-line header; test/deploy/crds.test.ts fails on drift.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const appDir = fileURLToPath(new URL("..", import.meta.url));
export const SOURCE_DIR = join(appDir, "..", "..", "schemas", "crds");
export const TARGET_DIR = join(appDir, "deploy", "base", "crds");

export function header(file) {
  return `# GENERATED from schemas/crds/${file} by apps/runtime-agent/build/sync-crds.mjs; do not edit.\n# Change schemas/crds/${file} and run \`pnpm --filter @runtime-agent/runtime-agent deploy:crds\`.\n`;
}

/** The files deploy/base/crds/ must hold: name -> content. */
export function expectedCopies() {
  const out = new Map();
  for (const file of readdirSync(SOURCE_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    out.set(file, header(file) + readFileSync(join(SOURCE_DIR, file), "utf8"));
  }
  return out;
}

/** Differences between deploy/base/crds/ and what it must hold (empty when in sync). */
export function drift() {
  const expected = expectedCopies();
  const problems = [];
  let present;
  try {
    present = readdirSync(TARGET_DIR).filter((f) => /\.ya?ml$/.test(f));
  } catch {
    present = [];
  }
  for (const [file, content] of expected) {
    if (!present.includes(file)) problems.push(`${file}: missing`);
    else if (readFileSync(join(TARGET_DIR, file), "utf8") !== content)
      problems.push(`${file}: differs from schemas/crds/${file}`);
  }
  for (const file of present) if (!expected.has(file)) problems.push(`${file}: not in schemas/crds/`);
  return problems;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  if (process.argv.includes("--check")) {
    const problems = drift();
    for (const p of problems) process.stderr.write(`deploy/base/crds/${p}\n`);
    if (problems.length > 0)
      process.stderr.write("run: pnpm --filter @runtime-agent/runtime-agent deploy:crds\n");
    process.exitCode = problems.length > 0 ? 1 : 0;
  } else {
    mkdirSync(TARGET_DIR, { recursive: true });
    const expected = expectedCopies();
    for (const file of readdirSync(TARGET_DIR))
      if (/\.ya?ml$/.test(file) && !expected.has(file)) rmSync(join(TARGET_DIR, file));
    for (const [file, content] of expected) writeFileSync(join(TARGET_DIR, file), content);
    process.stdout.write(`deploy/base/crds: ${expected.size} CRDs from schemas/crds\n`);
  }
}
