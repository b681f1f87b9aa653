/**
 * Error texts as gqlgen (the GraphQL server library of Compass's Connector and Director) and the Director's error
 * presenter write them. Shared by graphql-http.ts (request-level errors) and director.ts (resolver errors).
 */
import { randomUUID } from "node:crypto";
import type { GraphQLError } from "graphql";
import type { GraphQLErrorJson } from "./graphql-http.js";

/** Code and name of Compass's `apperrors.InternalError`. */
export const INTERNAL_ERROR = Object.freeze({ error: "InternalError", error_code: 10 });

/**
 * The Director's presentation of any error that is not a Compass `apperrors.Error`: a fresh errorID per answer, the
 * original text as `reason` when there is one. No `locations`; `path` only for resolver errors.
 */
export function directorInternalError(reason?: string, path?: ReadonlyArray<string | number>): GraphQLErrorJson {
  return {
    message: `Internal Server Error [errorID=${randomUUID()}${reason !== undefined ? `, reason: ${reason}` : ""}]`,
    ...(path ? { path } : {}),
    extensions: { ...INTERNAL_ERROR },
  };
}

/**
 * gqlparser's wording of a graphql-js parse or validation error: graphql-js says `Syntax Error: Expected Name, found
 * <EOF>.`, gqlparser `Expected Name, found <EOF>`; validation messages are worded alike (with the final period).
 */
export function gqlparserMessage(error: GraphQLError): string {
  const syntax = /^Syntax Error: (.*?)\.?$/s.exec(error.message);
  return syntax ? syntax[1]! : error.message;
}

/**
 * `gqlerror.Error.Error()`: `input:<line>: <message>` when the error has a location, `input: <message>` otherwise —
 * the text the Director's presenter puts after `reason: `.
 */
export function gqlerrorText(message: string, line?: number): string {
  return line !== undefined ? `input:${line}: ${message}` : `input: ${message}`;
}
