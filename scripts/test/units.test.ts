// The pure parts of codegen:refresh: change attribution, usage collection, pruning, subset check, printing.
import { buildSchema, BreakingChangeType, DangerousChangeType, findBreakingChanges, findDangerousChanges, printSchema, validate } from "graphql";
import { describe, expect, test } from "vitest";
import { parseRefreshArgs } from "../codegen-refresh/args.js";
import { classifyChanges, subjectOf } from "../codegen-refresh/changes.js";
import { splitOperations } from "../codegen-refresh/operations.js";
import { pruneSchema } from "../codegen-refresh/prune.js";
import { composeSchemaFile, MARKER, printSchemaFile, sameBody, splitHeader } from "../codegen-refresh/sdl.js";
import { subsetProblems } from "../codegen-refresh/subset.js";
import { collectUsage } from "../codegen-refresh/usage.js";

const ops = (text: string) => splitOperations([{ name: "ops.graphql", text }]);

describe("change attribution", () => {
  // One pair of schemas that produces every change type graphql-js knows.
  const before = buildSchema(`
    directive @gone on FIELD
    directive @keep(a: Int) repeatable on FIELD | QUERY
    directive @req on FIELD
    interface Node { id: ID! }
    interface Old { id: ID! }
    type Query { a(x: Int, y: String = "y", z: Int = 1): A, k: Kind, u: U, removed: Int, f(i: In): Int }
    type A implements Node & Old { id: ID!, b: String!, c: Int }
    type B { b: Int }
    type C { c: Int }
    union U = B | C
    enum E { ONE TWO }
    enum Kind { X }
    input In { p: Int, q: String }
    scalar Gone
    type Shape { s: Int }
  `);
  const after = buildSchema(`
    directive @keep on FIELD
    directive @req(r: Int!) on FIELD
    interface Node { id: ID! }
    interface Other { id: ID! }
    type Query { a(y: String = "w", z: Int = 1, n: Int!, o: Int): A, k: Kind, u: U, f(i: In): Int }
    type A implements Node & Other { id: ID!, b: Int, c: Int }
    type B { b: Int }
    type C { c: Int }
    type D { d: Int }
    union U = B | D
    enum E { ONE THREE }
    enum Kind { X }
    input In { p: Int, r: Int!, s: Int }
    union Shape = B
  `);

  test("every breaking and dangerous change type is attributed to a coordinate", () => {
    const changes = [...findBreakingChanges(before, after), ...findDangerousChanges(before, after)];
    const types = new Set(changes.map((c) => c.type));
    for (const type of [...Object.values(BreakingChangeType), ...Object.values(DangerousChangeType)]) {
      if (type === "ARG_CHANGED_KIND" || type === "VALUE_ADDED_TO_ENUM" || type === "IMPLEMENTED_INTERFACE_ADDED") continue;
      expect(types, type).toContain(type);
    }
    for (const change of changes) expect(subjectOf(change.type, change.description).kind, change.description).not.toBe("unknown");
  });

  test("the remaining change types parse too", () => {
    expect(subjectOf("ARG_CHANGED_KIND", "Query.a arg x has changed type from Int to String.")).toEqual({
      kind: "arg", type: "Query", field: "a", arg: "x", omittedMatters: false,
    });
    expect(subjectOf("VALUE_ADDED_TO_ENUM", "THREE was added to enum type E.")).toEqual({ kind: "type", type: "E" });
    expect(subjectOf("IMPLEMENTED_INTERFACE_ADDED", "Other added to interfaces implemented by A.")).toEqual({ kind: "type", type: "Other" });
    expect(subjectOf("TYPE_REMOVED", "Standard scalar Float was removed because it is not referenced anymore.")).toEqual({ kind: "type", type: "Float" });
    expect(subjectOf("SOMETHING_NEW", "whatever")).toEqual({ kind: "unknown" });
  });

  test("only what the operations reach is relevant, with the operations that reach it", () => {
    const usage = collectUsage(before, ops(`
      query Q1($i: In) { a(x: 1) { id b } f(i: $i) }
      query Q2 @keep { u { __typename ... on B { b } } k }
    `));
    const changes = classifyChanges(before, after, usage);
    const relevant = Object.fromEntries(changes.filter((c) => c.relevant).map((c) => [`${c.type} ${c.coordinate}`, c.operations]));
    expect(relevant).toEqual({
      "ARG_REMOVED Query.a(x:)": ["Q1"],
      "FIELD_CHANGED_KIND A.b": ["Q1"],
      "REQUIRED_ARG_ADDED Query.a": ["Q1"],
      "TYPE_REMOVED_FROM_UNION U": ["Q2"],
      "FIELD_REMOVED In.q": ["Q1"],
      "REQUIRED_INPUT_FIELD_ADDED In": ["Q1"],
      "DIRECTIVE_ARG_REMOVED @keep": ["Q2"],
      "DIRECTIVE_REPEATABLE_REMOVED @keep": ["Q2"],
      "DIRECTIVE_LOCATION_REMOVED @keep": ["Q2"],
      "TYPE_ADDED_TO_UNION U": ["Q2"],
      "OPTIONAL_INPUT_FIELD_ADDED In": ["Q1"],
      "OPTIONAL_ARG_ADDED Query.a": ["Q1"],
      "ARG_DEFAULT_VALUE_CHANGE Query.a(y:)": ["Q1"],
    });
    const ignored = changes.filter((c) => !c.relevant).map((c) => `${c.type} ${c.coordinate}`);
    expect(ignored).toEqual(expect.arrayContaining([
      "FIELD_REMOVED Query.removed",
      "TYPE_REMOVED Gone",
      "TYPE_CHANGED_KIND Shape",
      "VALUE_REMOVED_FROM_ENUM E",
      "IMPLEMENTED_INTERFACE_REMOVED Old",
      "DIRECTIVE_REMOVED @gone",
      "REQUIRED_DIRECTIVE_ARG_ADDED @req",
    ]));
  });
});

describe("usage", () => {
  const schema = buildSchema(`
    type Query { node(id: ID!, opt: Int = 3): Node, search(filter: Filter): [Item!]! }
    interface Node { id: ID! }
    type Item implements Node { id: ID!, name: String, tags(first: Int): [String!] }
    input Filter { name: String, nested: Nested }
    input Nested { deep: Int }
  `);

  test("fields, arguments passed and left out, variables of input types with all their fields", () => {
    const usage = collectUsage(schema, ops(`
      query N { node(id: "1") { id ... on Item { name } } }
      query S($f: Filter) { search(filter: $f) { ...ItemFields } }
      fragment ItemFields on Item { tags(first: 2) }
    `));
    expect([...usage.fields.keys()].sort()).toEqual([
      "Filter.name", "Filter.nested", "Item.name", "Item.tags", "Nested.deep", "Node.id", "Query.node", "Query.search",
    ]);
    expect([...usage.argsUsed.keys()].sort()).toEqual(["Item.tags(first:)", "Query.node(id:)", "Query.search(filter:)"]);
    expect([...usage.argsOmitted.keys()]).toEqual(["Query.node(opt:)"]);
    expect([...usage.types.get("Item")!]).toEqual(["N", "S"]);
    expect([...usage.types.keys()].sort()).toEqual(["Filter", "ID", "Int", "Item", "Nested", "Node", "Query", "String"]);
  });

  test("a literal input object counts the fields written", () => {
    const usage = collectUsage(schema, ops(`query S { search(filter: { name: "x" }) { id } }`));
    expect(usage.fields.has("Filter.name")).toBe(true);
    expect(usage.fields.has("Filter.nested")).toBe(false);
  });
});

describe("prune", () => {
  const source = buildSchema(`
    directive @internal on FIELD_DEFINITION
    """The root."""
    type Query {
      """One thing."""
      thing(id: ID!, mode: Mode = FAST, where: Where): Thing @deprecated(reason: "use things")
      things: [Thing!]!
      other: Other
      nodes: [Node!]!
      pick: Pick
    }
    type Mutation { m: Int }
    interface Node { id: ID!, label: String }
    interface Pageable { total: Int }
    type Thing implements Node & Pageable { id: ID!, label: String, total: Int, size: Float, child: Other }
    type Another implements Node { id: ID!, label: String, extra: String }
    type Other { x: Int }
    union Pick = Left | Right
    type Left { l: String, deep: Other }
    type Right { nested: Other, more: Other }
    enum Mode { FAST SLOW }
    input Where { a: Int, inner: Inner }
    input Inner { b: Boolean }
    scalar Unused
  `);
  const operations = ops(`
    query Q { thing(id: "1") { id size } nodes { id } pick { __typename ... on Left { l } } }
  `);
  const pruned = pruneSchema(source, collectUsage(source, operations));

  test("keeps what the operations reach, whole arguments, interfaces' fields, union members, inputs and enums", () => {
    // Right has no selected field: it keeps its first one (it has no scalar field), and what that refers to.
    expect(printSchema(pruned)).toBe(`"""The root."""
type Query {
  """One thing."""
  thing(id: ID!, mode: Mode = FAST, where: Where): Thing @deprecated(reason: "use things")
  nodes: [Node!]!
  pick: Pick
}

interface Node {
  id: ID!
}

type Thing implements Node {
  id: ID!
  size: Float
}

type Another implements Node {
  id: ID!
}

type Other {
  x: Int
}

union Pick = Left | Right

type Left {
  l: String
}

type Right {
  nested: Other
}

enum Mode {
  FAST
  SLOW
}

input Where {
  a: Int
  inner: Inner
}

input Inner {
  b: Boolean
}`);
  });

  test("the result is a subset of the source and validates the operations", () => {
    expect(subsetProblems(pruned, source)).toEqual([]);
    for (const operation of operations) expect(validate(pruned, operation.document)).toEqual([]);
  });

  test("subsetProblems finds what differs", () => {
    const other = buildSchema(`type Query { thing(id: ID!): Thing, extra: Int } type Thing { id: ID, size: Float } enum Mode { FAST }`);
    expect(subsetProblems(other, source)).toEqual([
      "Query.thing is (id: ID!): Thing but (id: ID!, mode: Mode = FAST, where: Where): Thing in the source",
      "Query.extra does not exist in the source",
      "Thing.id is : ID but : ID! in the source",
      "Mode.SLOW is missing (the source has it)",
    ]);
  });
});

describe("schema file printing", () => {
  const previous = `# Our header.
#
# More header.
${MARKER} from somewhere.

"""Ours."""
type B {
  """Our field."""
  b: Int
}

# a comment that is lost
type Query {
  b: B
}
`;

  test("keeps the header, replaces the marker, the previous order, carries missing descriptions", () => {
    const schema = buildSchema(`type Query { b: B, a: A } """Theirs.""" type B { b: Int, c(x: Int): String } type A { a: Int }`);
    const { sdl } = printSchemaFile(schema, previous);
    expect(sdl).toBe(`"""Theirs."""
type B {
  """Our field."""
  b: Int
  c(x: Int): String
}

type Query {
  b: B
  a: A
}

type A {
  a: Int
}`);
    const content = composeSchemaFile(previous, sdl, "https://example/graphql");
    expect(content.startsWith(`# Our header.\n#\n# More header.\n#\n${MARKER} from https://example/graphql.\n\n"""Theirs."""`)).toBe(true);
    expect(content.match(new RegExp(MARKER.replace(/[`]/g, "."), "g"))).toHaveLength(1);
    expect(sameBody(content, sdl)).toBe(true);
    expect(splitHeader(content).header).toHaveLength(5);
  });

  test("without a previous file: printSchema as it is, only the marker as header", () => {
    const schema = buildSchema(`type Query { a: Int }`);
    const { sdl } = printSchemaFile(schema);
    expect(composeSchemaFile(undefined, sdl, "x.graphql")).toBe(`${MARKER} from x.graphql.\n\ntype Query {\n  a: Int\n}\n`);
  });
});

describe("arguments", () => {
  test("a value that starts with a dash (one-time tokens are URL-safe base64)", () => {
    const parsed = parseRefreshArgs(["--connector", "https://c/graphql", "--token", "-abc_-", "--timeout", "5"], "/repo");
    expect(parsed).toMatchObject({ help: false, options: { token: "-abc_-", timeoutMs: 5000, root: "/repo", prune: false, dryRun: false } });
  });

  test("a missing value is not taken from the next option", () => {
    expect(() => parseRefreshArgs(["--connector", "--dry-run"], "/repo")).toThrow(/argument missing|ambiguous/);
    expect(() => parseRefreshArgs(["--connector", "x", "--timeout", "0"], "/repo")).toThrow("--timeout must be a positive number");
  });
});
