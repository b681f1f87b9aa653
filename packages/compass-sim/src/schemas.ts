/**
 * The one place that finds the GraphQL schemas the simulator executes:
 * - in this repository, `schemas/compass/*.graphql` at its root, located relative to this module file (works from
 *   both `src/` and `dist/`); the single source, so it wins;
 * - in a packed or installed package, `schemas/*.graphql` next to `dist/` (the `prepack` script copies them there).
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildSchema, type GraphQLSchema } from "graphql";

export type SchemaName = "connector" | "director";

function candidates(name: SchemaName): string[] {
  return [
    fileURLToPath(new URL(`../../../schemas/compass/${name}.graphql`, import.meta.url)),
    fileURLToPath(new URL(`../schemas/${name}.graphql`, import.meta.url)),
  ];
}

/** The first schema file that exists; the repository location when none does (so errors name the expected path). */
export function schemaPath(name: SchemaName): string {
  const all = candidates(name);
  return all.find((path) => existsSync(path)) ?? (all[0] as string);
}

export function schemaExists(name: SchemaName): boolean {
  return existsSync(schemaPath(name));
}

export function loadSchemaSource(name: SchemaName): string {
  return readFileSync(schemaPath(name), "utf8");
}

const cache = new Map<SchemaName, GraphQLSchema>();

/** Parsed and validated once per process. */
export function loadSchema(name: SchemaName): GraphQLSchema {
  let schema = cache.get(name);
  if (!schema) {
    schema = buildSchema(loadSchemaSource(name));
    cache.set(name, schema);
  }
  return schema;
}
