// Printing a schema file: printSchema's SDL, definitions in the order of the file it replaces (new ones at the end),
// descriptions the source lacks taken over from that file, under that file's leading comment block and one line
// saying where the content came from.
import {
  buildASTSchema,
  Kind,
  parse,
  print,
  printSchema,
  visit,
} from "graphql";
import type { ASTNode, DefinitionNode, DocumentNode, GraphQLSchema, StringValueNode } from "graphql";

export const MARKER = "# Refreshed by `pnpm codegen:refresh`";

function definitionKey(definition: DefinitionNode): string | undefined {
  if (definition.kind === Kind.SCHEMA_DEFINITION) return "schema";
  if (definition.kind === Kind.DIRECTIVE_DEFINITION) return `@${definition.name.value}`;
  if ("name" in definition && definition.name) return definition.name.value;
  return undefined;
}

/** Schema coordinate → description, for every described type, field, argument, input field and enum value. */
export function descriptions(document: DocumentNode): Map<string, string> {
  const found = new Map<string, string>();
  const path: string[] = [];
  const record = (node: { description?: StringValueNode | undefined }) => {
    if (node.description) found.set(path.join("."), node.description.value);
  };
  const enter = (name: string, node: { description?: StringValueNode | undefined }) => {
    path.push(name);
    record(node);
  };
  const leave = () => void path.pop();
  const named = { enter: (node: ASTNode) => enter((node as { name: { value: string } }).name.value, node as never), leave };
  visit(document, {
    ObjectTypeDefinition: named,
    InterfaceTypeDefinition: named,
    InputObjectTypeDefinition: named,
    EnumTypeDefinition: named,
    UnionTypeDefinition: named,
    ScalarTypeDefinition: named,
    DirectiveDefinition: { enter: (node) => enter(`@${node.name.value}`, node), leave },
    FieldDefinition: named,
    InputValueDefinition: { enter: (node) => enter(`(${node.name.value}:)`, node), leave },
    EnumValueDefinition: named,
  });
  return found;
}

/** Adds, where `document` has no description, the one `previous` has at the same coordinate. */
function carryDescriptions(document: DocumentNode, previous: DocumentNode): DocumentNode {
  const old = descriptions(previous);
  const path: string[] = [];
  const fill = (node: ASTNode, name: string): ASTNode | undefined => {
    path.push(name);
    const text = old.get(path.join("."));
    if (text === undefined || (node as { description?: unknown }).description) return undefined;
    return { ...node, description: { kind: Kind.STRING, value: text, block: true } } as ASTNode;
  };
  const leave = () => void path.pop();
  const named = { enter: (node: ASTNode) => fill(node, (node as { name: { value: string } }).name.value), leave };
  return visit(document, {
    ObjectTypeDefinition: named,
    InterfaceTypeDefinition: named,
    InputObjectTypeDefinition: named,
    EnumTypeDefinition: named,
    UnionTypeDefinition: named,
    ScalarTypeDefinition: named,
    DirectiveDefinition: { enter: (node) => fill(node, `@${node.name.value}`), leave },
    FieldDefinition: named,
    InputValueDefinition: { enter: (node) => fill(node, `(${node.name.value}:)`), leave },
    EnumValueDefinition: named,
  });
}

export interface PrintedSchema {
  sdl: string;
  /** The schema the SDL describes (with carried descriptions). */
  schema: GraphQLSchema;
}

/**
 * printSchema of `schema`; with a `previous` file: its descriptions where `schema` has none, and its definition order
 * (definitions it does not have follow, in `schema`'s order). Lines of only spaces (inside block strings) are emptied.
 */
export function printSchemaFile(schema: GraphQLSchema, previous?: string): PrintedSchema {
  let document = parse(printSchema(schema));
  let previousDocument: DocumentNode | undefined;
  try {
    previousDocument = previous === undefined ? undefined : parse(previous);
  } catch {
    previousDocument = undefined;
  }
  if (previousDocument) {
    document = carryDescriptions(document, previousDocument);
    const order = new Map(
      previousDocument.definitions
        .map(definitionKey)
        .flatMap((key, index) => (key === undefined ? [] : [[key, index] as const])),
    );
    const definitions = document.definitions.map((definition, index) => ({ definition, index }));
    const rank = (entry: { definition: DefinitionNode; index: number }) =>
      order.get(definitionKey(entry.definition) ?? "") ?? order.size + entry.index;
    definitions.sort((a, b) => rank(a) - rank(b));
    document = { kind: Kind.DOCUMENT, definitions: definitions.map((entry) => entry.definition) };
  }
  const sdl = print(document).replace(/^[ \t]+$/gm, "");
  return { sdl, schema: buildASTSchema(parse(sdl)) };
}

/** Where two schemas' descriptions differ (types, fields, arguments, input fields, enum values). */
export function descriptionDifferences(a: GraphQLSchema, b: GraphQLSchema): string[] {
  const left = descriptions(parse(printSchema(a)));
  const right = descriptions(parse(printSchema(b)));
  const differences: string[] = [];
  for (const key of new Set([...left.keys(), ...right.keys()])) {
    if (left.get(key) !== right.get(key)) differences.push(key);
  }
  return differences;
}

/** The leading comment block of a schema file (comment and blank lines) and the rest. */
export function splitHeader(text: string): { header: string[]; body: string } {
  const lines = text.split("\n");
  let end = 0;
  while (end < lines.length && (lines[end]!.startsWith("#") || lines[end]!.trim() === "")) end++;
  const header = lines.slice(0, end);
  while (header.length > 0 && header[header.length - 1]!.trim() === "") header.pop();
  return { header, body: lines.slice(end).join("\n") };
}

/** The file content: the previous header without an older marker, a new marker line, the SDL. */
export function composeSchemaFile(previous: string | undefined, sdl: string, origin: string): string {
  const header = previous === undefined ? [] : splitHeader(previous).header;
  const markerAt = header.findIndex((line) => line.startsWith(MARKER));
  if (markerAt >= 0) header.splice(markerAt > 0 && header[markerAt - 1] === "#" ? markerAt - 1 : markerAt);
  while (header.length > 0 && header[header.length - 1]!.trim() === "") header.pop();
  const marker = `${MARKER} from ${origin}.`;
  return `${[...header, ...(header.length > 0 ? ["#"] : []), marker].join("\n")}\n\n${sdl.trim()}\n`;
}

/** Whether the file's SDL (without its header) is `sdl`. */
export function sameBody(previous: string | undefined, sdl: string): boolean {
  return previous !== undefined && splitHeader(previous).body.trim() === sdl.trim();
}
