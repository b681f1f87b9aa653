// `pnpm codegen:refresh`: read the new schemas, check the project's operations against them, report, write, regenerate.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import {
  assertValidSchema,
  buildSchema,
  findBreakingChanges,
  findDangerousChanges,
  validate,
} from "graphql";
import type { GraphQLError, GraphQLSchema } from "graphql";
import { TARGETS } from "./args.js";
import type { RefreshOptions, Target } from "./args.js";
import { classifyChanges } from "./changes.js";
import type { ClassifiedChange } from "./changes.js";
import { isUrl, loadSchema, sdlSchema } from "./load.js";
import type { Transport } from "./load.js";
import { discoverPackages } from "./operations.js";
import type { Operation, OperationsPackage } from "./operations.js";
import { droppedCoordinates, pruneSchema, schemaSize } from "./prune.js";
import { composeSchemaFile, descriptionDifferences, printSchemaFile, sameBody } from "./sdl.js";
import { subsetProblems } from "./subset.js";
import { collectUsage, emptyUsage } from "./usage.js";

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_INVALID_OPERATIONS = 2;

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export const consoleOutput: Output = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** Runs `pnpm --filter <package> codegen` in `root`; rejects with its output when it fails. */
export type CodegenRunner = (packageName: string, root: string) => Promise<void>;

export const pnpmCodegen: CodegenRunner = (packageName, root) =>
  new Promise((resolvePromise, reject) => {
    const child = spawn("pnpm", ["--filter", packageName, "codegen"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: process.env,
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("error", (error) => reject(new Error(`cannot run pnpm: ${error.message}`, { cause: error })));
    child.on("close", (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`pnpm --filter ${packageName} codegen failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });

export interface InvalidOperation {
  operation: Operation;
  messages: string[];
}

export interface TargetResult {
  target: Target;
  source: string;
  origin: string;
  /** The schema read from the source. */
  newSchema: GraphQLSchema;
  /** Relative to the root. */
  schemaFile: string;
  packages: OperationsPackage[];
  operations: Operation[];
  invalid: InvalidOperation[];
  /** Undefined when there was no current schema file to compare with. */
  changes: ClassifiedChange[] | undefined;
  previous: string | undefined;
  /** The file that is (or would be) written; undefined when operations do not validate. */
  content: string | undefined;
  unchanged: boolean;
  written: boolean;
}

export interface RefreshResult {
  exitCode: number;
  targets: TargetResult[];
}

/** Where a validation error is: file:line:column and, inside a fragment, which one. */
function locate(error: GraphQLError, operation: Operation): string {
  const parts: string[] = [];
  const node = error.nodes?.[0];
  if (node?.loc) {
    for (const definition of operation.document.definitions) {
      if (
        definition.kind === "FragmentDefinition" &&
        definition.loc?.source === node.loc.source &&
        definition.loc.start <= node.loc.start &&
        node.loc.end <= definition.loc.end
      ) {
        parts.push(`in fragment ${definition.name.value}`);
      }
    }
  }
  const location = error.locations?.[0];
  const file = error.source?.name ?? operation.file;
  parts.push(location ? `${file}:${location.line}:${location.column}` : file);
  return parts.join(", ");
}

export function validateOperations(schema: GraphQLSchema, operations: readonly Operation[]): InvalidOperation[] {
  const invalid: InvalidOperation[] = [];
  for (const operation of operations) {
    const errors = validate(schema, operation.document);
    if (errors.length > 0) {
      invalid.push({ operation, messages: errors.map((error) => `${error.message} (${locate(error, operation)})`) });
    }
  }
  return invalid;
}

function displaySource(source: string, root: string): string {
  if (isUrl(source)) return source;
  const absolute = resolve(source);
  const inside = relative(root, absolute);
  return inside && !inside.startsWith("..") && !isAbsolute(inside) ? inside : source;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function reportChanges(result: TargetResult, io: Output): void {
  if (!result.changes) {
    io.out(`  no current ${result.schemaFile}: nothing to compare with`);
    return;
  }
  const relevant = result.changes.filter((change) => change.relevant);
  const ignored = result.changes.filter((change) => !change.relevant);
  for (const severity of ["breaking", "dangerous"] as const) {
    const list = relevant.filter((change) => change.severity === severity);
    const title = severity === "breaking" ? "BREAKING changes for the agent" : "dangerous changes for the agent";
    if (list.length === 0) {
      io.out(`  ${severity === "breaking" ? "breaking" : "dangerous"} changes for the agent: none`);
      continue;
    }
    io.out(`  ${title} (${list.length}):`);
    for (const change of list) {
      io.out(`    ${severity === "breaking" ? "✗" : "!"} ${change.description} [${change.type}] used by ${change.operations.join(", ")}`);
    }
  }
  if (ignored.length > 0) {
    io.out(`  ignored: not used by the agent (${ignored.length}):`);
    for (const change of ignored) io.out(`    - ${change.severity} ${change.description} [${change.type}]`);
  }
}

/**
 * The file must describe exactly `printed` (which is `output` plus descriptions carried over from the current file),
 * every operation must validate against it, and a pruned one must be a subset of the source.
 */
function checkOutput(
  content: string,
  output: GraphQLSchema,
  printed: GraphQLSchema,
  source: GraphQLSchema,
  result: TargetResult,
  pruned: boolean,
): string[] {
  let reread: GraphQLSchema;
  try {
    reread = buildSchema(content);
    assertValidSchema(reread);
  } catch (error) {
    return [`the new ${result.schemaFile} would not be a valid schema: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  const drift = [
    ...findBreakingChanges(output, reread),
    ...findDangerousChanges(output, reread),
    ...findBreakingChanges(reread, output),
    ...findDangerousChanges(reread, output),
  ];
  for (const change of drift) problems.push(`printing changed the schema: ${change.description}`);
  for (const coordinate of descriptionDifferences(printed, reread)) {
    problems.push(`printing changed the description of ${coordinate}`);
  }
  for (const { operation, messages } of validateOperations(reread, result.operations)) {
    for (const message of messages) problems.push(`operation ${operation.name} does not validate against the output: ${message}`);
  }
  if (pruned) for (const problem of subsetProblems(reread, source)) problems.push(`pruned schema is not a subset: ${problem}`);
  return problems;
}

function snapshot(root: string, paths: string[]): Map<string, string | undefined> {
  const saved = new Map<string, string | undefined>();
  for (const path of paths) {
    const full = join(root, path);
    saved.set(path, existsSync(full) ? readFileSync(full, "utf8") : undefined);
  }
  return saved;
}

function generatedFiles(root: string, pkg: OperationsPackage): string[] {
  const dir = join(root, pkg.dir, "src", "generated");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isFile())
    .map((name) => join(pkg.dir, "src", "generated", name));
}

export async function refresh(
  options: RefreshOptions,
  io: Output = consoleOutput,
  codegen: CodegenRunner = pnpmCodegen,
): Promise<RefreshResult> {
  const { root } = options;
  const transport: Transport = {
    caFile: options.caFile,
    insecureSkipTlsVerify: options.insecureSkipTlsVerify,
    certDir: options.certDir,
    timeoutMs: options.timeoutMs,
  };
  const results: TargetResult[] = [];

  let packages: OperationsPackage[];
  try {
    packages = discoverPackages(root);
  } catch (error) {
    io.err(`✗ ${(error as Error).message}`);
    return { exitCode: EXIT_ERROR, targets: results };
  }

  // 1. Read everything first; any failure stops before a file is touched.
  const loaded: { target: Target; source: string; origin: string; schema: GraphQLSchema; previous?: string; old?: GraphQLSchema }[] = [];
  let failed = false;
  for (const target of TARGETS) {
    const source = options.sources[target];
    if (source === undefined) continue;
    const schemaFile = `schemas/compass/${target}.graphql`;
    try {
      const { schema } = await loadSchema(source, {
        ...transport,
        // The one-time token belongs to the Connector's token listener; never send it anywhere else.
        token: target === "connector" ? options.token : undefined,
      });
      assertValidSchema(schema);
      const previousPath = join(root, schemaFile);
      const previous = existsSync(previousPath) ? await readFile(previousPath, "utf8") : undefined;
      const old = previous === undefined ? undefined : sdlSchema(previous, schemaFile);
      const origin = `${isUrl(source) ? "introspection of " : ""}${displaySource(source, root)}`;
      loaded.push({ target, source, origin, schema, ...(previous !== undefined ? { previous } : {}), ...(old ? { old } : {}) });
    } catch (error) {
      failed = true;
      io.err(`✗ ${target}: ${(error as Error).message}`);
    }
  }
  if (failed) {
    io.err("✗ nothing written");
    return { exitCode: EXIT_ERROR, targets: results };
  }

  // 2. Check and report.
  for (const { target, source, origin, schema, previous, old } of loaded) {
    const schemaFile = `schemas/compass/${target}.graphql`;
    const targetPackages = packages.filter((pkg) => pkg.target === target);
    const operations = targetPackages.flatMap((pkg) => pkg.operations);
    const invalid = validateOperations(schema, operations);
    const usage = old ? collectUsage(old, operations) : emptyUsage();
    const changes = old ? classifyChanges(old, schema, usage) : undefined;
    const result: TargetResult = {
      target,
      source,
      origin,
      newSchema: schema,
      schemaFile,
      packages: targetPackages,
      operations,
      invalid,
      changes,
      previous,
      content: undefined,
      unchanged: false,
      written: false,
    };
    results.push(result);

    io.out(`${target}: ${origin}`);
    io.out(`  current: ${previous === undefined ? "(none)" : schemaFile}`);
    if (operations.length === 0) {
      io.out(`  operations: none use ${schemaFile}`);
    } else {
      for (const pkg of targetPackages) {
        io.out(`  operations of ${pkg.name}: ${pkg.operations.map((op) => op.name).join(", ")}`);
      }
    }
    if (invalid.length === 0) {
      io.out(`  ✓ ${operations.length === 1 ? "the operation validates" : `all ${operations.length} operations validate`} against the new schema`);
    }
    for (const { operation, messages } of invalid) {
      io.out(`  ✗ operation ${operation.name} (${operation.kind}, ${operation.file}) no longer validates:`);
      for (const message of messages) io.out(`      ${message}`);
    }
    reportChanges(result, io);
  }

  const invalidCount = results.reduce((n, result) => n + result.invalid.length, 0);
  if (invalidCount > 0) {
    io.err(`✗ ${plural(invalidCount, "operation")} no longer ${invalidCount === 1 ? "validates" : "validate"} against the new schema: nothing written`);
    return { exitCode: EXIT_INVALID_OPERATIONS, targets: results };
  }

  // 3. What would be written, with every guarantee checked (also in a dry run).
  let problems = false;
  for (const result of results) {
    const source = result.newSchema;
    let output = source;
    if (options.prune) {
      try {
        output = pruneSchema(source, collectUsage(source, result.operations));
      } catch (error) {
        io.err(`✗ ${result.target}: pruning failed: ${(error as Error).message}`);
        problems = true;
        continue;
      }
    }
    const printed = printSchemaFile(output, result.previous);
    const sdl = printed.sdl;
    const content = composeSchemaFile(
      result.previous,
      sdl,
      `${result.origin}${options.prune ? ", pruned to what the agent's operations use" : ""}`,
    );
    const found = checkOutput(content, output, printed.schema, source, result, options.prune);
    if (found.length > 0) {
      problems = true;
      for (const problem of found) io.err(`✗ ${result.target}: ${problem}`);
      continue;
    }
    result.content = content;
    result.unchanged = sameBody(result.previous, sdl);
    const size = schemaSize(output);
    const before = result.previous === undefined ? undefined : schemaSize(sdlSchema(result.previous, result.schemaFile));
    const what = options.prune
      ? `pruned schema (${size.types} of ${schemaSize(source).types} types, ${size.fields} of ${schemaSize(source).fields} fields/values/members)`
      : `full schema (${size.types} types, ${size.fields} fields/values/members)`;
    const was = before ? `; the current file has ${before.types} types, ${before.fields} fields/values/members` : "";
    if (result.unchanged) io.out(`${result.schemaFile}: unchanged (${what})`);
    else io.out(`${result.schemaFile}: ${options.dryRun ? "would write" : "writing"} the ${what}${was}`);
    if (options.prune && result.previous !== undefined && !result.unchanged) {
      const dropped = droppedCoordinates(sdlSchema(result.previous, result.schemaFile), printed.schema);
      if (dropped.length > 0) {
        const shown = dropped.slice(0, 15).join(", ");
        io.out(`  pruning leaves out ${dropped.length} of the current file's types and fields: ${shown}${dropped.length > 15 ? ", …" : ""}`);
      }
    }
  }
  if (problems) {
    io.err("✗ nothing written");
    return { exitCode: EXIT_ERROR, targets: results };
  }
  if (options.dryRun) {
    io.out("dry run: nothing written, no codegen");
    return { exitCode: EXIT_OK, targets: results };
  }

  // 4. Write, regenerate; on a codegen failure put every file back.
  const refreshedPackages = results.flatMap((result) => result.packages);
  const touched = [
    ...results.filter((result) => !result.unchanged).map((result) => result.schemaFile),
    ...refreshedPackages.flatMap((pkg) => generatedFiles(root, pkg)),
  ];
  const saved = snapshot(root, touched);
  try {
    for (const result of results) {
      if (result.unchanged || result.content === undefined) continue;
      const path = join(root, result.schemaFile);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, result.content, "utf8");
      result.written = true;
      io.out(`wrote ${result.schemaFile}`);
    }
    for (const pkg of refreshedPackages) {
      await codegen(pkg.name, root);
      io.out(`regenerated ${pkg.name} (pnpm --filter ${pkg.name} codegen)`);
    }
  } catch (error) {
    io.err(`✗ ${(error as Error).message}`);
    for (const [path, text] of saved) {
      if (text === undefined) await rm(join(root, path), { force: true });
      else await writeFile(join(root, path), text, "utf8");
    }
    for (const result of results) result.written = false;
    io.err(`✗ restored ${touched.join(", ")}`);
    return { exitCode: EXIT_ERROR, targets: results };
  }
  return { exitCode: EXIT_OK, targets: results };
}
