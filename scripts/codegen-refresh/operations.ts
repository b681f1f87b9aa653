// The operations the project uses: packages/*/src/operations/*.graphql, grouped by the Compass schema their package's
// codegen.ts generates from (schemas/compass/<target>.graphql).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Kind, parse, Source, visit } from "graphql";
import type { DefinitionNode, DocumentNode, FragmentDefinitionNode, GraphQLError, OperationDefinitionNode } from "graphql";
import { SourceError } from "./load.js";

export interface OperationsPackage {
  /** package.json name, for `pnpm --filter <name> codegen`. */
  name: string;
  /** Relative to the root, e.g. packages/director-client. */
  dir: string;
  /** The schema file its codegen.ts points at, e.g. "director" for schemas/compass/director.graphql. */
  target: string;
  files: string[];
  operations: Operation[];
}

export interface Operation {
  /** The operation's name ("<anonymous>" if it has none). */
  name: string;
  kind: OperationDefinitionNode["operation"];
  /** Relative to the root. */
  file: string;
  /** The operation with every fragment it spreads (transitively) from the package's documents. */
  document: DocumentNode;
}

const SCHEMA_REFERENCE = /schemas\/compass\/([A-Za-z0-9_-]+)\.graphql/;

/** Every package with src/operations/*.graphql and a codegen.ts that names a schemas/compass file. */
export function discoverPackages(root: string): OperationsPackage[] {
  const packagesDir = join(root, "packages");
  if (!existsSync(packagesDir)) return [];
  const found: OperationsPackage[] = [];
  for (const entry of readdirSync(packagesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(packagesDir, entry.name);
    const operationsDir = join(dir, "src", "operations");
    const codegen = join(dir, "codegen.ts");
    if (!existsSync(operationsDir) || !existsSync(codegen)) continue;
    const target = SCHEMA_REFERENCE.exec(readFileSync(codegen, "utf8"))?.[1];
    if (!target) continue;
    const files = readdirSync(operationsDir)
      .filter((file) => file.endsWith(".graphql"))
      .sort()
      .map((file) => join(operationsDir, file));
    if (files.length === 0) continue;
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
    found.push({
      name: manifest.name ?? entry.name,
      dir: relative(root, dir),
      target,
      files: files.map((file) => relative(root, file)),
      operations: splitOperations(
        files.map((file) => ({ name: relative(root, file), text: readFileSync(file, "utf8") })),
      ),
    });
  }
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}

/** One document per operation: the operation and the fragments it reaches, from all of the package's files. */
export function splitOperations(files: readonly { name: string; text: string }[]): Operation[] {
  const definitions: { file: string; definition: DefinitionNode }[] = [];
  for (const file of files) {
    let document: DocumentNode;
    try {
      document = parse(new Source(file.text, file.name));
    } catch (error) {
      throw new SourceError(`${file.name}: ${(error as GraphQLError).message}`, { cause: error });
    }
    for (const definition of document.definitions) definitions.push({ file: file.name, definition });
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const { definition } of definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const operations: Operation[] = [];
  for (const { file, definition } of definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const needed = new Map<string, FragmentDefinitionNode>();
    const pending: DefinitionNode[] = [definition];
    while (pending.length > 0) {
      visit(pending.pop()!, {
        FragmentSpread(node) {
          const name = node.name.value;
          const fragment = fragments.get(name);
          if (fragment && !needed.has(name)) {
            needed.set(name, fragment);
            pending.push(fragment);
          }
        },
      });
    }
    operations.push({
      name: definition.name?.value ?? "<anonymous>",
      kind: definition.operation,
      file,
      document: { kind: Kind.DOCUMENT, definitions: [definition, ...needed.values()] },
    });
  }
  return operations;
}
