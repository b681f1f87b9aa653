// The guarantee `pnpm check:upstream` relies on: every type and member of a (pruned) schema exists in the source with
// the same signature. Same comparison idea as scripts/check-upstream.ts, a little stricter (defaults, interfaces).
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
  print,
  astFromValue,
} from "graphql";
import type { GraphQLArgument, GraphQLInputField, GraphQLSchema } from "graphql";

function defaultOf(input: GraphQLArgument | GraphQLInputField): string {
  if (input.defaultValue === undefined) return "";
  const ast = astFromValue(input.defaultValue, input.type);
  return ast ? ` = ${print(ast)}` : " = ?";
}

/** A comparable description of one named type: its kind and each member with its signature. */
export function describeType(schema: GraphQLSchema, name: string): Map<string, string> | undefined {
  const type = schema.getType(name);
  if (!type) return undefined;
  const members = new Map<string, string>();
  if (isObjectType(type) || isInterfaceType(type)) {
    for (const field of Object.values(type.getFields())) {
      const args = field.args.map((a) => `${a.name}: ${String(a.type)}${defaultOf(a)}`).join(", ");
      members.set(field.name, `${args ? `(${args})` : ""}: ${String(field.type)}`);
    }
    for (const iface of type.getInterfaces()) members.set(`implements ${iface.name}`, "interface");
  } else if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) members.set(field.name, `${String(field.type)}${defaultOf(field)}`);
  } else if (isUnionType(type)) {
    for (const member of type.getTypes()) members.set(member.name, "member");
  } else if (isEnumType(type)) {
    for (const value of type.getValues()) members.set(value.name, "value");
  }
  const kind = isScalarType(type) ? "scalar" : type.constructor.name;
  members.set("__kind", kind);
  return members;
}

const userTypes = (schema: GraphQLSchema) => Object.keys(schema.getTypeMap()).filter((name) => !name.startsWith("__"));

/** Problems that make `subset` not a subset of `source` (empty: it is one). */
export function subsetProblems(subset: GraphQLSchema, source: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const name of userTypes(subset)) {
    const mine = describeType(subset, name)!;
    const theirs = describeType(source, name);
    if (!theirs) {
      problems.push(`type ${name} does not exist in the source`);
      continue;
    }
    for (const [member, signature] of mine) {
      const sourceSignature = theirs.get(member);
      if (sourceSignature === undefined) problems.push(`${name}.${member} does not exist in the source`);
      else if (sourceSignature !== signature) problems.push(`${name}.${member} is ${signature} but ${sourceSignature} in the source`);
    }
    // Enums and input objects are kept whole: an input the agent sends must not lose fields, an enum it receives must
    // not lose values.
    const type = subset.getType(name);
    if (isInputObjectType(type) || isEnumType(type) || isUnionType(type)) {
      for (const member of theirs.keys()) if (!mine.has(member)) problems.push(`${name}.${member} is missing (the source has it)`);
    }
  }
  for (const [root, sub, src] of [
    ["query", subset.getQueryType(), source.getQueryType()],
    ["mutation", subset.getMutationType(), source.getMutationType()],
    ["subscription", subset.getSubscriptionType(), source.getSubscriptionType()],
  ] as const) {
    if (sub && sub.name !== src?.name) problems.push(`the ${root} root is ${sub.name} but ${src?.name ?? "none"} in the source`);
  }
  return problems;
}
