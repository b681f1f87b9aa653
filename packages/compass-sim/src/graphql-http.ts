/**
 * GraphQL over HTTP the way gqlgen (Compass's server library) answers it, in two dialects:
 * - resolver errors: HTTP 200, `{"errors":[{"message","path"[,"extensions"]}],"data":…}`, no `locations`;
 * - a body that is not a JSON request: HTTP 400 `json request body could not be decoded: <Go error> body:<body>`;
 * - parse errors: HTTP 422; validation and variable-coercion errors: HTTP 422.
 * The Connector ("connector" dialect) shows request-level errors as gqlgen does: `extensions.code`
 * `GRAPHQL_PARSE_FAILED` / `GRAPHQL_VALIDATION_FAILED` with `locations`. The Director ("director" dialect) passes
 * every error through its error presenter: `Internal Server Error [errorID=…, reason: input:1: …]`, InternalError 10,
 * no `locations`.
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
import { decodeGraphQLBody } from "./go-json.js";
import { directorInternalError, gqlerrorText, gqlparserMessage } from "./gqlgen-errors.js";

/** Whose error rendering a request-level error gets. */
export type GraphQLDialect = "connector" | "director";

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

/** A request-level error in the dialect's shape (`line`: where a parse or validation error points). */
function dialectError(dialect: GraphQLDialect, status: number, message: string, code?: string): GraphQLHttpResult {
  if (dialect === "connector") return requestError(status, message, code);
  return { status, body: { errors: [directorInternalError(gqlerrorText(message))], data: null }, operations: [] };
}

function toRequest(fields: Record<string, unknown>, dialect: GraphQLDialect): GraphQLRequestBody | GraphQLHttpResult {
  const { query, variables, operationName } = fields;
  if (typeof query !== "string" || query === "") {
    return dialectError(dialect, 422, "no operation provided", "GRAPHQL_VALIDATION_FAILED");
  }
  return {
    query,
    ...(variables ? { variables: variables as Record<string, unknown> } : {}),
    ...(typeof operationName === "string" && operationName !== "" ? { operationName } : {}),
  };
}

/** Decodes a POST body as gqlgen does (Go's JSON decoder; see go-json.ts). */
export function parseRequestBody(raw: Buffer, dialect: GraphQLDialect = "connector"): GraphQLRequestBody | GraphQLHttpResult {
  const text = raw.toString("utf8");
  const decoded = decodeGraphQLBody(text);
  if (!decoded.ok) return dialectError(dialect, 400, `json request body could not be decoded: ${decoded.error} body:${text}`);
  return toRequest(decoded.value, dialect);
}

/** gqlgen's GET transport: `?query=…&variables=<JSON>&operationName=…`. */
export function parseGetRequest(params: URLSearchParams, dialect: GraphQLDialect = "connector"): GraphQLRequestBody | GraphQLHttpResult {
  const fields: Record<string, unknown> = { query: params.get("query") ?? "", operationName: params.get("operationName") };
  const variables = params.get("variables");
  if (variables !== null && variables !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(variables);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return requestError(400, "variables could not be decoded");
    }
    fields["variables"] = parsed;
  }
  return toRequest(fields, dialect);
}

/** Parse, validation or coercion errors in the dialect's shape, HTTP 422. */
function unprocessable(dialect: GraphQLDialect, errors: readonly GraphQLError[], code: string): GraphQLHttpResult {
  const rendered = errors.map((error) => {
    const message = gqlparserMessage(error);
    if (dialect === "director") return directorInternalError(gqlerrorText(message, error.locations?.[0]?.line));
    return {
      message,
      ...(error.locations ? { locations: error.locations.map(({ line, column }) => ({ line, column })) } : {}),
      extensions: { code },
    };
  });
  return { status: 422, body: { errors: rendered, data: null }, operations: [] };
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
  dialect: GraphQLDialect;
}

/** Parses and validates; returns the selected operation or a 422 result. */
export function prepareOperation(
  schema: GraphQLSchema,
  request: GraphQLRequestBody,
  dialect: GraphQLDialect = "connector",
): PreparedOperation | GraphQLHttpResult {
  let document: DocumentNode;
  try {
    document = parse(request.query);
  } catch (error) {
    if (error instanceof GraphQLError) return unprocessable(dialect, [error], "GRAPHQL_PARSE_FAILED");
    throw error;
  }
  const validationErrors = validate(schema, document);
  if (validationErrors.length > 0) return unprocessable(dialect, validationErrors, "GRAPHQL_VALIDATION_FAILED");
  const operation = getOperationAST(document, request.operationName);
  if (!operation) {
    const message = request.operationName
      ? `operation ${request.operationName} not found`
      : "operation name is required when the document has several operations";
    return dialectError(dialect, 422, message, "GRAPHQL_VALIDATION_FAILED");
  }
  const operations = operation.selectionSet.selections.flatMap((selection) =>
    selection.kind === "Field" ? [selection.name.value] : [],
  );
  return { document, operation, operations, dialect };
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
      ...unprocessable(prepared.dialect, result.errors ?? [], "GRAPHQL_VALIDATION_FAILED"),
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
