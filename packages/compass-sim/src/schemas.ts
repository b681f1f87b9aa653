/**
 * The one place that finds the GraphQL schemas the simulator executes: the repository's `schemas/compass/*.graphql`,
 * located relative to this module file (works from both `src/` and `dist/`).
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildSchema, type GraphQLSchema } from "graphql";

export type SchemaName = "connector" | "director";

export function schemaPath(name: SchemaName): string {
  return fileURLToPath(new URL(`../../../schemas/compass/${name}.graphql`, import.meta.url));
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
