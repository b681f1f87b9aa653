// What the operations reach in a schema, as schema coordinates, each with the operations that reach it.
import {
  getNamedType,
  isInputObjectType,
  TypeInfo,
  typeFromAST,
  visit,
  visitWithTypeInfo,
} from "graphql";
import type { GraphQLInputType, GraphQLNamedType, GraphQLSchema } from "graphql";
import type { Operation } from "./operations.js";

type Users = Map<string, Set<string>>;

export interface Usage {
  /** Named types: parents and results of selected fields, type conditions, variable, argument and input field types. */
  types: Users;
  /** `Type.field` of selected output fields and of input fields the operations can send. */
  fields: Users;
  /** `Type.field(arg:)` the operations pass. */
  argsUsed: Users;
  /** `Type.field(arg:)` some selection leaves out (so its default value applies). */
  argsOmitted: Users;
  /** Directives written in the operations. */
  directives: Users;
}

export function emptyUsage(): Usage {
  return { types: new Map(), fields: new Map(), argsUsed: new Map(), argsOmitted: new Map(), directives: new Map() };
}

function add(map: Users, key: string, user: string): void {
  let users = map.get(key);
  if (!users) map.set(key, (users = new Set()));
  users.add(user);
}

export const argCoordinate = (type: string, field: string, arg: string) => `${type}.${field}(${arg}:)`;

/**
 * Walks every operation with TypeInfo. Input objects given as a variable count with all their fields (the agent may
 * send any of them); written as literals, with the fields written.
 */
export function collectUsage(schema: GraphQLSchema, operations: readonly Operation[]): Usage {
  const usage = emptyUsage();
  for (const operation of operations) {
    const user = operation.name;
    const addType = (type: GraphQLNamedType | null | undefined) => {
      if (type && !type.name.startsWith("__")) add(usage.types, type.name, user);
    };
    const addInputDeep = (input: GraphQLInputType | null | undefined, seen = new Set<string>()) => {
      if (!input) return;
      const named = getNamedType(input);
      addType(named);
      if (!isInputObjectType(named) || seen.has(named.name)) return;
      seen.add(named.name);
      for (const field of Object.values(named.getFields())) {
        add(usage.fields, `${named.name}.${field.name}`, user);
        addInputDeep(field.type, seen);
      }
    };
    const typeInfo = new TypeInfo(schema);
    visit(
      operation.document,
      visitWithTypeInfo(typeInfo, {
        OperationDefinition() {
          addType(typeInfo.getType() ? getNamedType(typeInfo.getType()) : undefined);
        },
        VariableDefinition(node) {
          const type = typeFromAST(schema, node.type);
          addInputDeep(type as GraphQLInputType | undefined);
        },
        FragmentDefinition() {
          addType(getNamedType(typeInfo.getType()));
        },
        InlineFragment() {
          addType(getNamedType(typeInfo.getType()));
        },
        Field(node) {
          const parent = typeInfo.getParentType();
          const field = typeInfo.getFieldDef();
          if (!parent || !field || node.name.value.startsWith("__")) return;
          addType(parent);
          add(usage.fields, `${parent.name}.${field.name}`, user);
          addType(getNamedType(field.type));
          const written = new Set(node.arguments?.map((argument) => argument.name.value) ?? []);
          for (const arg of field.args) {
            const coordinate = argCoordinate(parent.name, field.name, arg.name);
            if (written.has(arg.name)) {
              add(usage.argsUsed, coordinate, user);
              addType(getNamedType(arg.type));
            } else {
              add(usage.argsOmitted, coordinate, user);
            }
          }
        },
        ObjectField(node) {
          const parent = getNamedType(typeInfo.getParentInputType());
          if (parent && isInputObjectType(parent)) {
            add(usage.fields, `${parent.name}.${node.name.value}`, user);
            addType(getNamedType(typeInfo.getInputType()));
          }
        },
        Variable() {
          // A variable inside a literal input object: the agent may send anything that type accepts.
          addInputDeep(typeInfo.getInputType());
        },
        Directive(node) {
          add(usage.directives, node.name.value, user);
        },
      }),
    );
  }
  return usage;
}

export const usersOf = (map: Users, key: string): string[] => [...(map.get(key) ?? [])].sort();
