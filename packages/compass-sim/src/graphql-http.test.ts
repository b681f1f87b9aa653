import { buildSchema } from "graphql";
import { describe, expect, test } from "vitest";
import { executeOperation, isHttpResult, parseRequestBody, prepareOperation, type GraphQLRequestBody } from "./graphql-http.js";

const schema = buildSchema(`
  type Query { hello(name: String!): String!  maybe: String  fails: String! }
  type Mutation { bump: Int! }
`);
const root = {
  hello: ({ name }: { name: string }) => `hello ${name}`,
  maybe: () => null,
  fails: () => {
    throw new Error("boom");
  },
  bump: () => 1,
};

async function run(body: unknown) {
  const parsed = parseRequestBody(Buffer.from(typeof body === "string" ? body : JSON.stringify(body)));
  if (isHttpResult(parsed)) return parsed;
  const prepared = prepareOperation(schema, parsed as GraphQLRequestBody);
  if (isHttpResult(prepared)) return prepared;
  return executeOperation(schema, parsed as GraphQLRequestBody, prepared, root, {});
}

describe("GraphQL over HTTP, gqlgen style", () => {
  test("success: only data", async () => {
    expect(await run({ query: '{ a: hello(name: "x") }' })).toEqual({
      status: 200,
      body: { data: { a: "hello x" } },
      operations: ["hello"],
    });
  });

  test("resolver error on a non-null root field: HTTP 200, data null, message + path only", async () => {
    expect(await run({ query: "{ f: fails }" })).toEqual({
      status: 200,
      body: { errors: [{ message: "boom", path: ["f"] }], data: null },
      operations: ["fails"],
    });
  });

  test("parse error 422 with location", async () => {
    const result = await run({ query: "{" });
    expect(result.status).toBe(422);
    expect(result.body.errors?.[0]).toMatchObject({ extensions: { code: "GRAPHQL_PARSE_FAILED" }, locations: [{ line: 1, column: 2 }] });
  });

  test("validation error 422", async () => {
    const result = await run({ query: "{ nope }" });
    expect(result.status).toBe(422);
    expect(result.body.errors?.[0]?.extensions).toEqual({ code: "GRAPHQL_VALIDATION_FAILED" });
  });

  test("variables coercion error 422", async () => {
    const result = await run({ query: "query ($n: String!) { hello(name: $n) }", variables: { n: 5 } });
    expect(result.status).toBe(422);
  });

  test("operationName selects; unknown or ambiguous operations are 422", async () => {
    const query = "query A { maybe } mutation B { bump }";
    expect((await run({ query, operationName: "B" })).body).toEqual({ data: { bump: 1 } });
    expect((await run({ query })).status).toBe(422);
    expect((await run({ query, operationName: "C" })).status).toBe(422);
  });

  test("request bodies: invalid JSON 400, not an object 400, missing query 422, wrong types 400", async () => {
    expect((await run("{")).status).toBe(400);
    expect((await run("[]")).status).toBe(400);
    expect((await run({})).status).toBe(422);
    expect((await run({ query: 1 })).status).toBe(400);
    expect((await run({ query: "{ maybe }", variables: [] })).status).toBe(400);
    expect((await run({ query: "{ maybe }", operationName: 3 })).status).toBe(400);
    expect((await run({ query: "{ maybe }", variables: null, operationName: null })).body).toEqual({ data: { maybe: null } });
  });
});
