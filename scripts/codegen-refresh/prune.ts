// Prunes a schema to what the operations need, so that the result is still a subset of the source: every type, field,
// argument, enum value and union member it keeps exists in the source with the same type.
import {
  buildASTSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isObjectType,
  isSpecifiedDirective,
  isUnionType,
  Kind,
  parse,
  printSchema,
} from "graphql";
import type { DefinitionNode, DocumentNode, GraphQLField, GraphQLSchema } from "graphql";
import type { Usage } from "./usage.js";

/**
 * What is kept:
 * - every named type the operations reach, and the root types they use (the query root always);
 * - on object and interface types, only the fields the operations select, each with **all** its arguments (so a
 *   field's signature stays identical to the source's) and the fields the kept interfaces of the type require;
 * - all members of a kept union and all implementations of a kept interface (the agent may receive any of them by
 *   `__typename`); such a type that the operations select nothing on keeps its scalar and enum fields (or, if it has
 *   none, its first field);
 * - input objects and enums whole; the types every kept field, argument and input field refers to;
 * - descriptions and deprecations; directive definitions only when the operations use the directive.
 */
export function pruneSchema(schema: GraphQLSchema, usage: Usage): GraphQLSchema {
  const keepTypes = new Set<string>();
  const keepFields = new Map<string, Set<string>>();
  let changed = true;
  const keepType = (name: string) => {
    if (!keepTypes.has(name) && schema.getType(name)) {
      keepTypes.add(name);
      changed = true;
    }
  };
  const keepField = (type: string, field: string) => {
    let fields = keepFields.get(type);
    if (!fields) keepFields.set(type, (fields = new Set()));
    if (!fields.has(field)) {
      fields.add(field);
      changed = true;
    }
  };

  for (const name of usage.types.keys()) keepType(name);
  for (const coordinate of usage.fields.keys()) {
    const [type, field] = coordinate.split(".") as [string, string];
    const named = schema.getType(type);
    if ((isObjectType(named) || isInterfaceType(named)) && named.getFields()[field]) keepField(type, field);
  }
  const queryType = schema.getQueryType();
  if (queryType) keepType(queryType.name);
  const keepDirectives = new Set<string>();
  for (const name of usage.directives.keys()) {
    const directive = schema.getDirective(name);
    if (!directive || isSpecifiedDirective(directive)) continue;
    keepDirectives.add(name);
    for (const arg of directive.args) keepType(getNamedType(arg.type).name);
  }

  while (changed) {
    changed = false;
    for (const name of [...keepTypes]) {
      const type = schema.getType(name);
      if (isUnionType(type)) {
        for (const member of type.getTypes()) keepType(member.name);
      } else if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) keepType(getNamedType(field.type).name);
      } else if (isObjectType(type) || isInterfaceType(type)) {
        if (isInterfaceType(type)) {
          const { objects, interfaces } = schema.getImplementations(type);
          for (const implementation of [...objects, ...interfaces]) keepType(implementation.name);
        }
        const fields = type.getFields();
        for (const iface of type.getInterfaces()) {
          if (!keepTypes.has(iface.name)) continue;
          for (const field of keepFields.get(iface.name) ?? []) keepField(name, field);
        }
        if ((keepFields.get(name)?.size ?? 0) === 0) {
          const all = Object.values(fields);
          const leaves = all.filter((field) => isLeafType(getNamedType(field.type)));
          for (const field of leaves.length > 0 ? leaves : all.slice(0, 1)) keepField(name, field.name);
        }
        for (const fieldName of keepFields.get(name) ?? []) {
          const field: GraphQLField<unknown, unknown> | undefined = fields[fieldName];
          if (!field) continue;
          keepType(getNamedType(field.type).name);
          for (const arg of field.args) keepType(getNamedType(arg.type).name);
        }
      }
    }
  }

  const document = parse(printSchema(schema));
  const definitions: DefinitionNode[] = [];
  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.SCHEMA_DEFINITION:
        definitions.push({
          ...definition,
          operationTypes: definition.operationTypes.filter((op) => keepTypes.has(op.type.name.value)),
        });
        break;
      case Kind.DIRECTIVE_DEFINITION:
        if (keepDirectives.has(definition.name.value)) definitions.push(definition);
        break;
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_DEFINITION: {
        const name = definition.name.value;
        if (!keepTypes.has(name)) break;
        const fields = keepFields.get(name) ?? new Set();
        definitions.push({
          ...definition,
          interfaces: definition.interfaces?.filter((iface) => keepTypes.has(iface.name.value)) ?? [],
          fields: definition.fields?.filter((field) => fields.has(field.name.value)) ?? [],
        });
        break;
      }
      default:
        if ("name" in definition && definition.name && keepTypes.has(definition.name.value)) definitions.push(definition);
    }
  }
  const pruned: DocumentNode = { kind: Kind.DOCUMENT, definitions };
  return buildASTSchema(pruned);
}

/** Counts for messages: types (without introspection and standard scalars) and fields/values/members. */
export function schemaSize(schema: GraphQLSchema): { types: number; fields: number } {
  let types = 0;
  let fields = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith("__") || ["String", "Int", "Float", "Boolean", "ID"].includes(type.name)) continue;
    types++;
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) fields += Object.keys(type.getFields()).length;
    else if (isEnumType(type)) fields += type.getValues().length;
    else if (isUnionType(type)) fields += type.getTypes().length;
  }
  return { types, fields };
}

/** Types and fields `before` has and `after` does not ("Type" for a whole type, else "Type.field"). */
export function droppedCoordinates(before: GraphQLSchema, after: GraphQLSchema): string[] {
  const dropped: string[] = [];
  for (const type of Object.values(before.getTypeMap())) {
    if (type.name.startsWith("__")) continue;
    const kept = after.getType(type.name);
    if (!kept) {
      dropped.push(type.name);
      continue;
    }
    const hasFields = (t: unknown) => isObjectType(t) || isInterfaceType(t) || isInputObjectType(t);
    if (hasFields(type) && hasFields(kept)) {
      const keptFields = (kept as { getFields(): Record<string, unknown> }).getFields();
      for (const field of Object.keys((type as { getFields(): Record<string, unknown> }).getFields())) {
        if (!(field in keptFields)) dropped.push(`${type.name}.${field}`);
      }
    }
  }
  return dropped;
}
