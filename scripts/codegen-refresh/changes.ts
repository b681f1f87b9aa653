// graphql-js's breaking and dangerous changes between the current and the new schema, each attributed to the schema
// coordinate it is about and split into those that touch what the agent's operations reach and those that do not.
import { BreakingChangeType, DangerousChangeType, findBreakingChanges, findDangerousChanges } from "graphql";
import type { GraphQLSchema } from "graphql";
import { argCoordinate, usersOf } from "./usage.js";
import type { Usage } from "./usage.js";

export type Severity = "breaking" | "dangerous";

export interface ClassifiedChange {
  severity: Severity;
  /** graphql-js's change type, e.g. FIELD_REMOVED. */
  type: string;
  description: string;
  /** The coordinate the change is about, e.g. "Application.providerName" or "Bundle.apiDefinitions(first:)". */
  coordinate: string;
  /** Whether it touches something the operations reach. */
  relevant: boolean;
  /** The operations that reach the coordinate (empty when not relevant). */
  operations: string[];
}

/** What a change is about, read from graphql-js's (stable, version-pinned) descriptions. */
type Subject =
  | { kind: "type"; type: string }
  | { kind: "field"; type: string; field: string }
  | { kind: "arg"; type: string; field: string; arg: string; omittedMatters: boolean }
  | { kind: "directive"; directive: string }
  | { kind: "unknown" };

const N = "([_A-Za-z][_0-9A-Za-z]*)";
const match = (pattern: string, text: string) => new RegExp(pattern).exec(text);

export function subjectOf(type: string, description: string): Subject {
  let m: RegExpExecArray | null;
  switch (type) {
    case BreakingChangeType.TYPE_REMOVED:
      m = match(`^(?:Standard scalar )?${N} was removed`, description);
      return m ? { kind: "type", type: m[1]! } : { kind: "unknown" };
    case BreakingChangeType.TYPE_CHANGED_KIND:
      m = match(`^${N} changed from`, description);
      return m ? { kind: "type", type: m[1]! } : { kind: "unknown" };
    case BreakingChangeType.TYPE_REMOVED_FROM_UNION:
    case DangerousChangeType.TYPE_ADDED_TO_UNION:
      m = match(`^${N} was (?:removed from|added to) union type ${N}\\.$`, description);
      return m ? { kind: "type", type: m[2]! } : { kind: "unknown" };
    case BreakingChangeType.VALUE_REMOVED_FROM_ENUM:
    case DangerousChangeType.VALUE_ADDED_TO_ENUM:
      m = match(`^${N} was (?:removed from|added to) enum type ${N}\\.$`, description);
      return m ? { kind: "type", type: m[2]! } : { kind: "unknown" };
    case BreakingChangeType.REQUIRED_INPUT_FIELD_ADDED:
    case DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED:
      m = match(`field ${N} on input type ${N} was added\\.$`, description);
      return m ? { kind: "type", type: m[2]! } : { kind: "unknown" };
    case BreakingChangeType.IMPLEMENTED_INTERFACE_REMOVED:
      m = match(`^${N} no longer implements interface ${N}\\.$`, description);
      return m ? { kind: "type", type: m[2]! } : { kind: "unknown" };
    case DangerousChangeType.IMPLEMENTED_INTERFACE_ADDED:
      m = match(`^${N} added to interfaces implemented by ${N}\\.$`, description);
      return m ? { kind: "type", type: m[1]! } : { kind: "unknown" };
    case BreakingChangeType.FIELD_REMOVED:
    case BreakingChangeType.FIELD_CHANGED_KIND:
      m = match(`^${N}\\.${N} (?:was removed|changed type)`, description);
      return m ? { kind: "field", type: m[1]!, field: m[2]! } : { kind: "unknown" };
    case BreakingChangeType.REQUIRED_ARG_ADDED:
    case DangerousChangeType.OPTIONAL_ARG_ADDED:
      m = match(`arg ${N} on ${N}\\.${N} was added\\.$`, description);
      return m ? { kind: "field", type: m[2]!, field: m[3]! } : { kind: "unknown" };
    case BreakingChangeType.ARG_REMOVED:
    case BreakingChangeType.ARG_CHANGED_KIND:
      m = match(`^${N}\\.${N} arg ${N} `, description);
      return m ? { kind: "arg", type: m[1]!, field: m[2]!, arg: m[3]!, omittedMatters: false } : { kind: "unknown" };
    case DangerousChangeType.ARG_DEFAULT_VALUE_CHANGE:
      m = match(`^${N}\\.${N} arg ${N} `, description);
      return m ? { kind: "arg", type: m[1]!, field: m[2]!, arg: m[3]!, omittedMatters: true } : { kind: "unknown" };
    case BreakingChangeType.DIRECTIVE_REMOVED:
      m = match(`^${N} was removed\\.$`, description);
      return m ? { kind: "directive", directive: m[1]! } : { kind: "unknown" };
    case BreakingChangeType.DIRECTIVE_ARG_REMOVED:
    case BreakingChangeType.DIRECTIVE_REPEATABLE_REMOVED:
    case BreakingChangeType.DIRECTIVE_LOCATION_REMOVED:
      m = match(`from ${N}\\.$`, description);
      return m ? { kind: "directive", directive: m[1]! } : { kind: "unknown" };
    case BreakingChangeType.REQUIRED_DIRECTIVE_ARG_ADDED:
      m = match(`on directive ${N} was added\\.$`, description);
      return m ? { kind: "directive", directive: m[1]! } : { kind: "unknown" };
    default:
      return { kind: "unknown" };
  }
}

function attribute(subject: Subject, usage: Usage): { coordinate: string; operations: string[] } {
  switch (subject.kind) {
    case "type":
      return { coordinate: subject.type, operations: usersOf(usage.types, subject.type) };
    case "field": {
      const coordinate = `${subject.type}.${subject.field}`;
      return { coordinate, operations: usersOf(usage.fields, coordinate) };
    }
    case "arg": {
      const coordinate = argCoordinate(subject.type, subject.field, subject.arg);
      // A removed or retyped argument matters where it is passed; a changed default where it is left out.
      return { coordinate, operations: usersOf(subject.omittedMatters ? usage.argsOmitted : usage.argsUsed, coordinate) };
    }
    case "directive":
      return { coordinate: `@${subject.directive}`, operations: usersOf(usage.directives, subject.directive) };
    case "unknown":
      // Not understood: assume it matters rather than hide it.
      return { coordinate: "?", operations: ["(unknown)"] };
  }
}

/** All changes from `oldSchema` to `newSchema`, breaking first, each marked relevant or not for `usage`. */
export function classifyChanges(oldSchema: GraphQLSchema, newSchema: GraphQLSchema, usage: Usage): ClassifiedChange[] {
  const changes: ClassifiedChange[] = [];
  const found: [Severity, { type: string; description: string }[]][] = [
    ["breaking", findBreakingChanges(oldSchema, newSchema)],
    ["dangerous", findDangerousChanges(oldSchema, newSchema)],
  ];
  for (const [severity, list] of found) {
    for (const change of list) {
      const { coordinate, operations } = attribute(subjectOf(change.type, change.description), usage);
      changes.push({
        severity,
        type: change.type,
        description: change.description,
        coordinate,
        relevant: operations.length > 0,
        operations,
      });
    }
  }
  return changes;
}
