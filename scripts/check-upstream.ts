// pnpm check:upstream — proves that the project's schemas and operations agree with Compass's published ones.
// Compass's files live in ../shared/upstream (or $UPSTREAM_DIR); a user's clone may not have them, then it skips.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSchema, isObjectType, isInterfaceType, isInputObjectType, isUnionType, isEnumType, parse, validate } from "graphql";
import type { GraphQLSchema } from "graphql";
import { checkCrdFiles, checkObjectsAgainstKymaCrds, CRD_PAIRS } from "./check-upstream-crds.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const upstreamDir = process.env.UPSTREAM_DIR ?? join(root, "..", "shared", "upstream");

interface SchemaPair {
  ours: string;
  upstream: string;
  /** A complete copy must also contain everything upstream has; a subset only what it declares. */
  complete: boolean;
  operations: string[];
}

const PAIRS: SchemaPair[] = [
  {
    ours: "schemas/compass/connector.graphql",
    upstream: "compass-connector.graphql",
    complete: true,
    operations: ["packages/connector-client/src/operations"],
  },
  {
    ours: "schemas/compass/director.graphql",
    upstream: "compass-director.graphql",
    complete: false,
    operations: ["packages/director-client/src/operations"],
  },
];

/** A comparable description of one named type: its kind and its members with their types. */
function describeType(schema: GraphQLSchema, name: string): Map<string, string> | undefined {
  const type = schema.getType(name);
  if (!type) return undefined;
  const members = new Map<string, string>();
  if (isObjectType(type) || isInterfaceType(type)) {
    for (const field of Object.values(type.getFields())) {
      const args = field.args.map((a) => `${a.name}: ${String(a.type)}`).join(", ");
      members.set(field.name, `${args ? `(${args})` : ""}: ${String(field.type)}`);
    }
  } else if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) members.set(field.name, String(field.type));
  } else if (isUnionType(type)) {
    for (const member of type.getTypes()) members.set(member.name, "member");
  } else if (isEnumType(type)) {
    for (const value of type.getValues()) members.set(value.name, "value");
  }
  members.set("__kind", type.constructor.name);
  return members;
}

function userTypes(schema: GraphQLSchema): string[] {
  return Object.keys(schema.getTypeMap()).filter((name) => !name.startsWith("__"));
}

function compare(pair: SchemaPair, ours: GraphQLSchema, upstream: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const name of userTypes(ours)) {
    const mine = describeType(ours, name);
    const theirs = describeType(upstream, name);
    if (!theirs) {
      problems.push(`${pair.ours}: type ${name} does not exist upstream`);
      continue;
    }
    for (const [member, signature] of mine ?? []) {
      const upstreamSignature = theirs.get(member);
      if (upstreamSignature === undefined) problems.push(`${pair.ours}: ${name}.${member} does not exist upstream`);
      else if (upstreamSignature !== signature) {
        problems.push(`${pair.ours}: ${name}.${member} is ${signature} here but ${upstreamSignature} upstream`);
      }
    }
    if (pair.complete) {
      for (const member of theirs.keys()) {
        if (!mine?.has(member)) problems.push(`${pair.ours}: ${name}.${member} is missing (upstream has it)`);
      }
    }
  }
  if (pair.complete) {
    for (const name of userTypes(upstream)) {
      if (!ours.getType(name)) problems.push(`${pair.ours}: type ${name} is missing (upstream has it)`);
    }
  }
  return problems;
}

function operationFiles(dir: string): string[] {
  const full = join(root, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full)
    .filter((f) => f.endsWith(".graphql"))
    .map((f) => join(full, f));
}

export function checkUpstream(): { checked: string[]; problems: string[] } {
  const checked: string[] = [];
  const problems: string[] = [];
  for (const pair of PAIRS) {
    const oursPath = join(root, pair.ours);
    const upstreamPath = join(upstreamDir, pair.upstream);
    if (!existsSync(oursPath)) continue;
    const ours = buildSchema(readFileSync(oursPath, "utf8"));
    const upstream = buildSchema(readFileSync(upstreamPath, "utf8"));
    problems.push(...compare(pair, ours, upstream));
    checked.push(pair.ours);
    for (const file of pair.operations.flatMap(operationFiles)) {
      const document = parse(readFileSync(file, "utf8"));
      for (const error of validate(upstream, document)) {
        problems.push(`${relative(root, file)}: not valid against Compass's schema: ${error.message}`);
      }
      checked.push(relative(root, file));
    }
  }
  return { checked, problems };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!existsSync(upstreamDir)) {
    console.log(`check:upstream: skipped, ${upstreamDir} does not exist`);
  } else {
    const { checked, problems } = checkUpstream();
    problems.push(...checkCrdFiles(root, upstreamDir));
    checked.push(...CRD_PAIRS.map((p) => p.ours));
    problems.push(...(await checkObjectsAgainstKymaCrds(upstreamDir)));
    checked.push("Applications and a CompassConnection as the agent writes them, created against Kyma's CRDs");
    for (const item of checked) console.log(`checked ${item}`);
    if (problems.length > 0) {
      for (const problem of problems) console.error(`✗ ${problem}`);
      process.exitCode = 1;
    } else {
      console.log(`check:upstream: ${checked.length} files agree with Compass's published schemas`);
    }
  }
}
