/**
 * GraphQL over HTTP for the Compass clients (Connector and Director): the POST they send and how its answer is
 * checked. Same request body and same outcomes as graphql-request 7's `request`, which the clients used before, but
 * without loading graphql-request, graphql-js or Node's built-in fetch: the documents are query text printed at
 * codegen time (`documentMode: "string"` in codegen.ts), and the caller sends the POST through its CompassTransport.
 */
import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";

/** A generated document (a `TypedDocumentString`): its query text, typed with its result and variables. */
export type GraphQLDocument<TData, TVariables> = DocumentTypeDecoration<TData, TVariables> & { toString(): string };

/** The headers of an answer, as far as anybody reads them here (undici's Headers). */
export interface GraphQLResponseHeaders {
  get(name: string): string | null;
}

/** An answer that GraphQLResponseError carries: status, headers, text and, when it was one, the execution result. */
export interface GraphQLResponse {
  status: number;
  headers: GraphQLResponseHeaders;
  body: string;
  data?: unknown;
  errors?: unknown;
  extensions?: unknown;
}

/** What was asked, for the error's message. */
export interface GraphQLRequest {
  query: string;
  variables: unknown;
}

/**
 * An answer with a non-2xx status, or a GraphQL execution result with `errors`: the cases in which graphql-request
 * threw its ClientError, with the same `response`, `request` and message.
 */
export class GraphQLResponseError extends Error {
  override readonly name = "GraphQLResponseError";
  readonly response: GraphQLResponse;
  readonly request: GraphQLRequest;

  constructor(response: GraphQLResponse, request: GraphQLRequest) {
    const errors = response.errors as { [index: number]: { message?: unknown } | null | undefined } | undefined;
    const first = errors?.[0]?.message ?? `GraphQL Error (Code: ${String(response.status)})`;
    super(`${String(first)}: ${JSON.stringify({ response, request })}`);
    this.response = response;
    this.request = request;
  }
}

const GRAPHQL_ACCEPT = "application/graphql-response+json, application/json";

/** The query text and operation name of a document, worked out once per document. */
const queries = new WeakMap<object, { query: string; operationName: string | undefined }>();

/**
 * Codegen prints each document as its operation followed by the fragments it uses, so the operation name is the
 * word after the leading `query`/`mutation`/`subscription` keyword.
 */
const OPERATION_NAME = /^(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/;

export function graphQLQuery(document: GraphQLDocument<unknown, never>): { query: string; operationName: string | undefined } {
  let out = queries.get(document);
  if (out === undefined) {
    const query = document.toString().trim();
    out = { query, operationName: OPERATION_NAME.exec(query)?.[1] };
    queries.set(document, out);
  }
  return out;
}

/** The fetch init of a GraphQL POST: JSON body `{query, variables, operationName}`, GraphQL accept header. */
export function graphQLPost(
  { query, operationName }: { query: string; operationName: string | undefined },
  variables: unknown,
  headers: Record<string, string>,
  signal: AbortSignal,
): { method: "POST"; headers: Record<string, string>; body: string; signal: AbortSignal } {
  return {
    method: "POST",
    headers: { accept: GRAPHQL_ACCEPT, "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables, operationName }),
    signal,
  };
}

interface ExecutionResult {
  data?: unknown;
  errors?: unknown;
  extensions?: unknown;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;

function isGraphQLContentType(contentType: string): boolean {
  const lower = contentType.toLowerCase();
  return lower.includes("application/graphql-response+json") || lower.includes("application/json");
}

/**
 * A single GraphQL execution result, checked as graphql-request checks it (an Error when it is not one), with its
 * fields in graphql-request's order (they appear so in GraphQLResponseError's message).
 */
function executionResult(value: unknown): ExecutionResult | Error {
  if (!isPlainObject(value)) return new Error(`Invalid execution result: result is not object or array. \nGot:\n${String(value)}`);
  const { data, errors, extensions } = value;
  if ("errors" in value && !isPlainObject(errors) && !Array.isArray(errors)) {
    return new Error("Invalid execution result: errors is not plain object OR array");
  }
  if ("data" in value && !isPlainObject(data) && data !== null) return new Error("Invalid execution result: data is not plain object");
  if ("extensions" in value && !isPlainObject(extensions)) return new Error("Invalid execution result: extensions is not plain object");
  return { data, errors, extensions };
}

/**
 * The `data` of an answer. Throws GraphQLResponseError when the status is not 2xx or the result has `errors`, and
 * the parse error (a SyntaxError or an "Invalid execution result" Error) when a 2xx answer is no execution result.
 * The text is parsed as JSON only when `contentType` is a GraphQL or JSON media type, as graphql-request does.
 */
export function graphQLData(
  answer: { status: number; headers: GraphQLResponseHeaders; body: string; contentType: string | null },
  request: GraphQLRequest,
): unknown {
  const { status, headers, body, contentType } = answer;
  let result: ExecutionResult | Error;
  try {
    result = executionResult(contentType && isGraphQLContentType(contentType) ? (JSON.parse(body) as unknown) : body);
  } catch (error) {
    result = error instanceof Error ? error : new Error(String(error));
  }
  const base = { status, headers, body };
  if (status < 200 || status > 299) throw new GraphQLResponseError(result instanceof Error ? base : { ...result, ...base }, request);
  if (result instanceof Error) throw result;
  if (Array.isArray(result.errors) ? result.errors.length > 0 : Boolean(result.errors)) {
    throw new GraphQLResponseError({ ...result, ...base }, request);
  }
  return result.data;
}
