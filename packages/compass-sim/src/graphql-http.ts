/**
 * GraphQL over HTTP the way gqlgen (Compass's server library) answers it:
 * - resolver errors: HTTP 200, `{"errors":[{"message","path"[,"extensions"]}],"data":…}`, no `locations`;
 * - parse errors: HTTP 422, `extensions.code = "GRAPHQL_PARSE_FAILED"`;
 * - validation and variable-coercion errors: HTTP 422, `extensions.code = "GRAPHQL_VALIDATION_FAILED"`;
 * - a body that is not a JSON request object: HTTP 400.
 * Shared by the Connector and (later) the Director module.
 */
import {
  execute,
  getOperationAST,
  GraphQLError,
  parse,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from "graphql";

export interface GraphQLRequestBody {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

export interface GraphQLErrorJson {
  message: string;
  path?: ReadonlyArray<string | number>;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  extensions?: Record<string, unknown>;
}

export interface GraphQLResponseJson {
  errors?: GraphQLErrorJson[];
  data?: Record<string, unknown> | null;
}

export interface GraphQLHttpResult {
  status: number;
  body: GraphQLResponseJson;
  /** Root field names of the selected operation (empty when it could not be determined). */
  operations: string[];
  /** Send the body without a Content-Type header (Compass's auth middleware does). */
  noContentType?: boolean;
}

function requestError(status: number, message: string, code?: string): GraphQLHttpResult {
  return {
    status,
    body: { errors: [{ message, ...(code ? { extensions: { code } } : {}) }], data: null },
    operations: [],
  };
}

/** Validates the decoded JSON body shape: `{query: string, variables?: object|null, operationName?: string|null}`. */
export function parseRequestBody(raw: Buffer): GraphQLRequestBody | GraphQLHttpResult {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    return requestError(400, `json request body could not be decoded: ${(error as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return requestError(400, "json request body could not be decoded: body must be a JSON object");
  }
  const { query, variables, operationName } = json as Record<string, unknown>;
  if (query === undefined || query === null || query === "") {
    return requestError(422, "no operation provided", "GRAPHQL_VALIDATION_FAILED");
  }
  if (typeof query !== "string") return requestError(400, "json request body could not be decoded: query must be a string");
  if (variables !== undefined && variables !== null && (typeof variables !== "object" || Array.isArray(variables))) {
    return requestError(400, "json request body could not be decoded: variables must be an object");
  }
  if (operationName !== undefined && operationName !== null && typeof operationName !== "string") {
    return requestError(400, "json request body could not be decoded: operationName must be a string");
  }
  return {
    query,
    ...(variables ? { variables: variables as Record<string, unknown> } : {}),
    ...(typeof operationName === "string" && operationName !== "" ? { operationName } : {}),
  };
}

function locatedErrors(errors: readonly GraphQLError[], code: string): GraphQLErrorJson[] {
  return errors.map((error) => ({
    message: error.message,
    ...(error.locations ? { locations: error.locations.map(({ line, column }) => ({ line, column })) } : {}),
    extensions: { code },
  }));
}

/** How resolver errors appear in the response; Connector: message + path only. */
export type ErrorFormatter = (error: GraphQLError) => GraphQLErrorJson;

export const formatResolverError: ErrorFormatter = (error) => {
  const extensions = error.extensions && Object.keys(error.extensions).length > 0 ? error.extensions : undefined;
  return {
    message: error.message,
    ...(error.path ? { path: error.path } : {}),
    ...(extensions ? { extensions: { ...extensions } } : {}),
  };
};

export interface PreparedOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  operations: string[];
}

/** Parses and validates; returns the selected operation or a 422 result. */
export function prepareOperation(schema: GraphQLSchema, request: GraphQLRequestBody): PreparedOperation | GraphQLHttpResult {
  let document: DocumentNode;
  try {
    document = parse(request.query);
  } catch (error) {
    if (error instanceof GraphQLError) {
      return { status: 422, body: { errors: locatedErrors([error], "GRAPHQL_PARSE_FAILED"), data: null }, operations: [] };
    }
    throw error;
  }
  const validationErrors = validate(schema, document);
  if (validationErrors.length > 0) {
    return {
      status: 422,
      body: { errors: locatedErrors(validationErrors, "GRAPHQL_VALIDATION_FAILED"), data: null },
      operations: [],
    };
  }
  const operation = getOperationAST(document, request.operationName);
  if (!operation) {
    const message = request.operationName
      ? `operation ${request.operationName} not found`
      : "operation name is required when the document has several operations";
    return requestError(422, message, "GRAPHQL_VALIDATION_FAILED");
  }
  const operations = operation.selectionSet.selections.flatMap((selection) =>
    selection.kind === "Field" ? [selection.name.value] : [],
  );
  return { document, operation, operations };
}

/** Executes a prepared operation and shapes the HTTP result. */
export async function executeOperation(
  schema: GraphQLSchema,
  request: GraphQLRequestBody,
  prepared: PreparedOperation,
  rootValue: unknown,
  contextValue: unknown,
  formatError: ErrorFormatter = formatResolverError,
): Promise<GraphQLHttpResult> {
  const result = await execute({
    schema,
    document: prepared.document,
    rootValue,
    contextValue,
    variableValues: request.variables ?? null,
    operationName: request.operationName ?? null,
  });
  if (!("data" in result) || result.data === undefined) {
    // Variable coercion failed before execution started.
    return {
      status: 422,
      body: { errors: locatedErrors(result.errors ?? [], "GRAPHQL_VALIDATION_FAILED"), data: null },
      operations: prepared.operations,
    };
  }
  const body: GraphQLResponseJson = {};
  if (result.errors && result.errors.length > 0) body.errors = result.errors.map(formatError);
  body.data = (result.data as Record<string, unknown> | null) ?? null;
  return { status: 200, body, operations: prepared.operations };
}

export function isHttpResult(value: unknown): value is GraphQLHttpResult {
  return typeof value === "object" && value !== null && "status" in value && "body" in value;
}
