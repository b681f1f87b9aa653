// The Director over real mTLS (node:https + openssl-made keys): identity and tenant rules, paging with Compass's
// exact cursors, name rewriting, scalars, labels and errors as Compass's error presenter renders them.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_TENANT, startCompassSimulator, type CompassSimulator } from "../src/index.js";
import { cursor, directorCall, orderedId, type DirectorCallOptions } from "./support/director.js";
import { pair, type PairedRuntime } from "./support/pairing.js";
import { tempDir } from "./support/tools.js";

let sim: CompassSimulator;
let serverCa: string;
let dir: { path: string; remove: () => Promise<void> };

const OTHER_TENANT = "11111111-2222-3333-4444-555555555555";
const INTERNAL_ERROR = /^Internal Server Error \[errorID=[0-9a-f-]{36}, reason: (.*)\]$/;
/** director-revoked-cert.json / director-tenant-unknown.json, byte for byte. */
const UNAUTHORIZED_BODY =
  '{"errors":[{"message":"Unauthorized [reason=consumer with type <nil> is not supported]","extensions":{"error":"Unauthorized","error_code":26}}],"data":null}';

beforeAll(async () => {
  sim = await startCompassSimulator({});
  serverCa = await readFile(sim.serverCaFile, "utf8");
  dir = await tempDir();
  sim.state.ensureTenant(OTHER_TENANT);
});

afterAll(async () => {
  await sim?.close();
  await dir?.remove();
});

const call = (who: PairedRuntime, query: string, options?: DirectorCallOptions) =>
  directorCall(sim, serverCa, who, query, options);

const pairRuntime = (formations: string[] = [], labels: Record<string, string | boolean> = {}, tenant?: string) =>
  pair(sim, serverCa, dir.path, { name: `rt-${formations.join("-") || "none"}`, formations, labels, ...(tenant ? { tenant } : {}) });

const PAGE = `query Page($id: ID!, $first: Int, $after: PageCursor) {
  result: applicationsForRuntime(runtimeID: $id, first: $first, after: $after) {
    data { id name }
    pageInfo { startCursor endCursor hasNextPage }
    totalCount
  }
}`;

describe("identity, tenant and status", () => {
  let rt: PairedRuntime;
  beforeAll(async () => {
    rt = await pairRuntime(["T"]);
  });

  test("the first certificate call sets the runtime CONNECTED; a refused tenant does not", async () => {
    expect(sim.state.runtimes.get(rt.runtimeId)!.status.condition).toBe("INITIAL");
    const refused = await call(rt, "{ __typename }", { headers: { Tenant: OTHER_TENANT } });
    expect(refused.status).toBe(400);
    expect(sim.state.runtimes.get(rt.runtimeId)!.status.condition).toBe("INITIAL");
    const ok = await call(rt, "{ __typename }");
    expect(ok.json).toEqual({ data: { __typename: "Query" } });
    const state = sim.state.snapshot().runtimes.find((r) => r.id === rt.runtimeId)!;
    expect(state.status.condition).toBe("CONNECTED");
  });

  test("no Tenant header, an empty one, or the runtime's own tenant: accepted", async () => {
    const headerSets: Record<string, string>[] = [{}, { Tenant: "" }, { Tenant: DEFAULT_TENANT }, { tenant: DEFAULT_TENANT }];
    for (const headers of headerSets) {
      const res = await call(rt, `{ runtime(id: "${rt.runtimeId}") { id } }`, { headers });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ data: { runtime: { id: rt.runtimeId } } });
    }
  });

  test("a Tenant header that is no tenant: HTTP 401 Unauthorized code 26, JSON (director-tenant-unknown.json)", async () => {
    const res = await call(rt, `{ runtime(id: "${rt.runtimeId}") { id } }`, { headers: { Tenant: "99999999-9999-4999-8999-999999999999" } });
    expect(res.status).toBe(401);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.text).toBe(UNAUTHORIZED_BODY);
  });

  test("another existing tenant: HTTP 400 TenantNotFound code 25 WITH Content-Type (director-tenant-other-existing.json)", async () => {
    const res = await call(rt, `{ runtime(id: "${rt.runtimeId}") { id } }`, { headers: { Tenant: OTHER_TENANT } });
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.text).toBe(
      `{"errors":[{"message":"Tenant not found [externalTenant=${OTHER_TENANT}]","extensions":{"error":"TenantNotFound","error_code":25}}],"data":null}`,
    );
  });

  test("a revoked certificate: HTTP 401 code 26 before GraphQL, for queries and mutations, with or without Tenant (director-revoked-cert.json)", async () => {
    const revoked = await pairRuntime(["T"]);
    sim.revoke(revoked.fingerprint);
    const documents = [
      `{ runtime(id: "${revoked.runtimeId}") { id labels } }`,
      `{ result: applicationsForRuntime(runtimeID: "${revoked.runtimeId}") { totalCount data { bundles { totalCount } } } }`,
      `mutation { setRuntimeLabel(runtimeID: "${revoked.runtimeId}", key: "a", value: "b") { key } }`,
      "{ runtime(id: ",
    ];
    const headerSets: Record<string, string>[] = [{ Tenant: DEFAULT_TENANT }, {}];
    for (const headers of headerSets) {
      for (const query of documents) {
        const res = await call(revoked, query, { headers });
        expect(res.status).toBe(401);
        expect(res.headers["content-type"]).toBe("application/json");
        // JSON-equal to the recording; Go's encoder also escapes < > as \u003c \u003e and ends with "\n" (167 bytes).
        expect(res.text).toBe(UNAUTHORIZED_BODY);
      }
    }
    // Refused before anything ran: not CONNECTED, no label, no useBundles.
    const runtime = sim.state.runtimes.get(revoked.runtimeId)!;
    expect(runtime.status.condition).toBe("INITIAL");
    expect([...runtime.labels.keys()].sort()).toEqual(["isNormalized", "runtimeType"]);
  });

  test("a client-CA certificate whose CN has no SystemAuth: HTTP 401 code 26", async () => {
    const csrDir = await tempDir();
    const { opensslCsr } = await import("./support/tools.js");
    const csr = await opensslCsr(csrDir.path, "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=6f1c2e1a-0000-4000-8000-000000000000");
    const issued = await sim.signCsr(csr.csrPem);
    const res = await directorCall(sim, serverCa, { certPem: issued.certificatePem, keyPem: await readFile(csr.keyPath, "utf8") }, "{ runtime(id: \"x\") { id } }");
    await csrDir.remove();
    expect(res.status).toBe(401);
    expect(res.text).toBe(UNAUTHORIZED_BODY);
  });

  test("an application's certificate is authenticated but lacks the runtime scopes: code 23 per root field, HTTP 200", async () => {
    const appAuth = "6f1c2e1a-0000-4000-8000-0000000000a9";
    sim.createApplication({ name: "cert holder", auths: [{ id: appAuth }] });
    const csrDir = await tempDir();
    const { opensslCsr } = await import("./support/tools.js");
    const csr = await opensslCsr(csrDir.path, `O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=${appAuth}`);
    const issued = await sim.signCsr(csr.csrPem);
    const who = { certPem: issued.certificatePem, keyPem: await readFile(csr.keyPath, "utf8") };
    await csrDir.remove();
    const res = await directorCall(sim, serverCa, who, `{ runtime(id: "${rt.runtimeId}") { id } apps: applicationsForRuntime(runtimeID: "${rt.runtimeId}") { totalCount } }`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      errors: expect.arrayContaining([
        { message: "insufficient scopes provided [actual=; required=runtime:read]", path: ["runtime"], extensions: { error: "InsufficientScopes", error_code: 23 } },
        { message: "insufficient scopes provided [actual=; required=application:read]", path: ["apps"], extensions: { error: "InsufficientScopes", error_code: 23 } },
      ]),
      data: null,
    });
    // The tenant rules apply to it as well.
    expect((await directorCall(sim, serverCa, who, "{ __typename }", { headers: { Tenant: "99999999-9999-4999-8999-999999999999" } })).status).toBe(401);
  });

  test("parse and validation errors: HTTP 422 in the error presenter's shape (details: test/conformance)", async () => {
    const parse = await call(rt, "{ runtime(id: ");
    expect(parse.status).toBe(422);
    expect(parse.json.errors[0]).toMatchObject({ message: expect.stringMatching(INTERNAL_ERROR), extensions: { error: "InternalError", error_code: 10 } });
    const invalid = await call(rt, "{ runtime(id: \"x\") { nope } }");
    expect(invalid.status).toBe(422);
    expect(invalid.json.errors[0]).toMatchObject({ message: expect.stringContaining("nope"), extensions: { error: "InternalError", error_code: 10 } });
    const badVariable = await call(rt, PAGE, { variables: { id: rt.runtimeId, first: "ten" } });
    expect(badVariable.status).toBe(422);
  });
});

describe("runtime(id)", () => {
  let rt: PairedRuntime;
  beforeAll(async () => {
    rt = await pairRuntime(["R"], { runtime_eventServiceUrl: "https://gateway.kyma.local", runtime_consoleUrl: "https://console.kyma.local" });
    sim.state.runtimes.get(rt.runtimeId)!.labels.set("5d0ec128-47da-418a-99f5-8409105ce82d_defaultEventing", "true");
  });

  test("labels without protected keys; labels(key:); status, metadata and eventing", async () => {
    const res = await call(
      rt,
      `{ runtime(id: "${rt.runtimeId}") { id name description labels one: labels(key: "runtime_consoleUrl") status { condition timestamp }
         metadata { creationTimestamp } eventingConfiguration { defaultURL } applicationNamespace } }`,
    );
    const runtime = res.json.data.runtime;
    expect(runtime.labels).toEqual({
      isNormalized: "true",
      runtimeType: "kyma",
      runtime_eventServiceUrl: "https://gateway.kyma.local",
      runtime_consoleUrl: "https://console.kyma.local",
      scenarios: ["R"],
    });
    expect(runtime.one).toEqual({ runtime_consoleUrl: "https://console.kyma.local" });
    expect(runtime.status).toEqual({ condition: "CONNECTED", timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    expect(runtime.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(runtime.eventingConfiguration).toEqual({ defaultURL: "https://gateway.kyma.local" });
    expect(runtime).toMatchObject({ name: "rt-R", description: null, applicationNamespace: null });
  });

  test("another runtime of the same tenant is readable; unknown ids and other tenants give null without error", async () => {
    const neighbour = sim.createRuntime({ name: "neighbour" });
    const foreign = sim.createRuntime({ name: "foreign", tenant: OTHER_TENANT });
    const res = await call(
      rt,
      `{ a: runtime(id: "${neighbour.id}") { name } b: runtime(id: "${foreign.id}") { name } d: runtime(id: "${orderedId("00000000", 1)}") { name } }`,
    );
    expect(res.json).toEqual({ data: { a: { name: "neighbour" }, b: null, d: null } });
  });

  test('runtime(id: "not-a-uuid"): InternalError code 10 WITHOUT reason, runtime null (director-runtime-id-not-uuid.json)', async () => {
    const res = await call(rt, "query RuntimeLabels($runtimeId: ID!) {\n  runtime(id: $runtimeId) {\n    id\n    labels\n  }\n}", {
      variables: { runtimeId: "not-a-uuid" },
      operationName: "RuntimeLabels",
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      errors: [{ message: expect.stringMatching(/^Internal Server Error \[errorID=[0-9a-f-]{36}\]$/), path: ["runtime"], extensions: { error: "InternalError", error_code: 10 } }],
      data: { runtime: null },
    });
  });
});

describe("applicationsForRuntime paging", () => {
  let rt: PairedRuntime;
  const ids = [3, 1, 5, 2, 4].map((n) => orderedId("a0000000", n));
  beforeAll(async () => {
    rt = await pairRuntime(["PAGING"]);
    for (const id of ids) sim.createApplication({ id, name: `app ${id.slice(-1)}`, formations: ["PAGING"] });
  });

  const page = (variables: Record<string, unknown>) => call(rt, PAGE, { variables: { id: rt.runtimeId, ...variables } });

  test("ORDER BY id, offset cursors, startCursor = after, endCursor only when more follow", async () => {
    const sorted = [...ids].sort();
    const first = (await page({ first: 2 })).json.data.result;
    expect(first).toEqual({
      data: sorted.slice(0, 2).map((id) => ({ id, name: `mp-app-${id.slice(-1)}` })),
      pageInfo: { startCursor: "", endCursor: "RHBLdEo0ajlqRHEy", hasNextPage: true },
      totalCount: 5,
    });
    expect(first.pageInfo.endCursor).toBe(cursor(2));
    const second = (await page({ first: 2, after: first.pageInfo.endCursor })).json.data.result;
    expect(second).toEqual({
      data: sorted.slice(2, 4).map((id) => ({ id, name: `mp-app-${id.slice(-1)}` })),
      pageInfo: { startCursor: "RHBLdEo0ajlqRHEy", endCursor: "RHBLdEo0ajlqRHE0", hasNextPage: true },
      totalCount: 5,
    });
    const third = (await page({ first: 2, after: second.pageInfo.endCursor })).json.data.result;
    expect(third).toEqual({
      data: sorted.slice(4).map((id) => ({ id, name: `mp-app-${id.slice(-1)}` })),
      pageInfo: { startCursor: "RHBLdEo0ajlqRHE0", endCursor: "", hasNextPage: false },
      totalCount: 5,
    });
  });

  test("default first (200), after \"\", a page that ends exactly at the end, an offset past the end", async () => {
    expect((await page({})).json.data.result.pageInfo).toEqual({ startCursor: "", endCursor: "", hasNextPage: false });
    expect((await page({ first: 5, after: "" })).json.data.result).toMatchObject({
      pageInfo: { startCursor: "", endCursor: "", hasNextPage: false },
      totalCount: 5,
    });
    expect((await page({ first: 3, after: cursor(2) })).json.data.result.pageInfo).toEqual({
      startCursor: cursor(2),
      endCursor: "",
      hasNextPage: false,
    });
    expect((await page({ first: 2, after: cursor(9) })).json.data.result).toEqual({
      data: [],
      pageInfo: { startCursor: cursor(9), endCursor: "", hasNextPage: false },
      totalCount: 5,
    });
    // A cursor without the prefix is read as a plain number, like Compass's TrimPrefix + Atoi.
    expect((await page({ first: 1, after: Buffer.from("4").toString("base64") })).json.data.result.data).toHaveLength(1);
  });

  test("no upper bound on first for this query", async () => {
    expect((await page({ first: 100000 })).json.data.result.totalCount).toBe(5);
  });

  test.each([
    [{ first: null }, "Invalid data [reason=missing required parameter 'first']", 22],
    [{ first: 0 }, "Invalid data [reason=page size cannot be smaller than 1]", 22],
    [{ first: -5 }, "Invalid data [reason=page size cannot be smaller than 1]", 22],
    [{ first: 2, after: cursor(-1) }, "Invalid data [reason=cursor is not correct]", 22],
  ])("%j → %s", async (variables, message, code) => {
    const res = await page(variables);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      errors: [{ message, path: ["result"], extensions: { error: "InvalidData", error_code: code } }],
      data: null,
    });
  });

  const CURSOR_REASON = "input: result while getting all Application for Runtime: while decoding page cursor: cursor is not correct: ";
  test.each([
    ["not-a-cursor!", `${CURSOR_REASON}illegal base64 data at input byte 3`],
    ["aGVsbG8gd29ybGQ=", `${CURSOR_REASON}strconv.Atoi: parsing "hello world": invalid syntax`],
    ["zzz", `${CURSOR_REASON}illegal base64 data at input byte 0`],
    ["RHBLdEo0ajlqRHE", `${CURSOR_REASON}illegal base64 data at input byte 12`],
    ["a-b_", `${CURSOR_REASON}illegal base64 data at input byte 1`],
    [Buffer.from("DpKtJ4j9jDqabc").toString("base64"), `${CURSOR_REASON}strconv.Atoi: parsing "abc": invalid syntax`],
  ])("bad cursor %s → InternalError with gqlgen's path prefix and the service's wrapping (director-applications-bad-cursor.json)", async (after, reason) => {
    const res = await page({ first: 2, after });
    const error = res.json.errors[0];
    expect(error).toMatchObject({ path: ["result"], extensions: { error: "InternalError", error_code: 10 } });
    expect(error.message).toMatch(INTERNAL_ERROR);
    expect(INTERNAL_ERROR.exec(error.message)![1]).toBe(reason);
  });

  test("runtimeID not a UUID → InternalError; a runtime of another tenant or none → runtime does not exist", async () => {
    const notUuid = (await call(rt, PAGE, { variables: { id: "abc", first: 1 } })).json.errors[0];
    expect(INTERNAL_ERROR.exec(notUuid.message)![1]).toBe("input: result while converting runtimeID to UUID: invalid UUID length: 3");
    const recorded = (await call(rt, PAGE, { variables: { id: "not-a-uuid", first: 1 } })).json;
    expect(recorded).toEqual({
      errors: [{ message: expect.stringMatching(INTERNAL_ERROR), path: ["result"], extensions: { error: "InternalError", error_code: 10 } }],
      data: null,
    });
    expect(INTERNAL_ERROR.exec(recorded.errors[0].message)![1]).toBe("input: result while converting runtimeID to UUID: invalid UUID length: 10");
    const foreign = sim.createRuntime({ name: "foreign", tenant: OTHER_TENANT, formations: ["PAGING"] });
    for (const id of [foreign.id, orderedId("00000000", 7)]) {
      expect((await call(rt, PAGE, { variables: { id, first: 1 } })).json).toEqual({
        errors: [
          { message: "Invalid data [reason=runtime does not exist]", path: ["result"], extensions: { error: "InvalidData", error_code: 22 } },
        ],
        data: null,
      });
    }
  });

  test("a failing applicationsForRuntime nulls the data; a nullable runtime next to it keeps its error separate", async () => {
    const res = await call(rt, `{ runtime(id: "${rt.runtimeId}") { id } applicationsForRuntime(runtimeID: "${rt.runtimeId}", first: 0) { totalCount } }`);
    expect(res.json).toEqual({
      errors: [
        {
          message: "Invalid data [reason=page size cannot be smaller than 1]",
          path: ["applicationsForRuntime"],
          extensions: { error: "InvalidData", error_code: 22 },
        },
      ],
      data: null,
    });
  });
});

describe("visibility", () => {
  test("formations ∩ scenarios in the runtime's tenant, minus hide selectors; no formation → empty page", async () => {
    const rt = await pairRuntime(["VIS-A", "VIS-B"]);
    const lonely = await pairRuntime([]);
    const a = sim.createApplication({ name: "in a", formations: ["VIS-A"] }).id;
    const b = sim.createApplication({ name: "in b", labels: { scenarios: ["VIS-B", "ELSEWHERE"] } }).id;
    sim.createApplication({ name: "elsewhere", formations: ["ELSEWHERE"] });
    sim.createApplication({ name: "no scenarios" });
    sim.createApplication({ name: "other tenant", tenant: OTHER_TENANT, formations: ["VIS-A"] });
    const hidden = sim.createApplication({ name: "hidden", formations: ["VIS-A"], labels: { hide: "yes" } }).id;
    const listed = async () => ((await call(rt, PAGE, { variables: { id: rt.runtimeId } })).json.data.result.data as { id: string }[]).map((x) => x.id);
    expect(await listed()).toEqual([a, b, hidden].sort());
    sim.state.hideSelectors.set("hide", ["yes", "maybe"]);
    try {
      expect(await listed()).toEqual([a, b].sort());
    } finally {
      sim.state.hideSelectors.clear();
    }
    expect((await call(lonely, PAGE, { variables: { id: lonely.runtimeId } })).json.data.result).toEqual({
      data: [],
      pageInfo: { startCursor: "", endCursor: "", hasNextPage: false },
      totalCount: 0,
    });
  });
});

describe("name rewriting", () => {
  const table: Array<[string, string | undefined, string, string]> = [
    // name, systemNumber, normalized (isNormalized "true" or absent), as stored + systemNumber otherwise
    ["My App", undefined, "mp-my-app", "My App"],
    ["My App", "123", "mp-my-app-123", "My App-123"],
    ["mp-already-normal", undefined, "mp-already-normal", "mp-already-normal"],
    ["mp-already-normal", "0042", "mp-already-normal-0042", "mp-already-normal-0042"],
    ["MP-Upper", undefined, "mp-mp-upper", "MP-Upper"],
    ["S4/HANA (Cloud)!!", "9", "mp-s4-hana-cloud-9", "S4/HANA (Cloud)!!-9"],
    ["a__b..c--", undefined, "mp-a-b-c", "a__b..c--"],
    ["Ünïcode Näme", undefined, "mp-n-code-n-me", "Ünïcode Näme"],
  ];

  async function names(labels: Record<string, string | boolean>, formation: string) {
    const rt = await pairRuntime([formation], labels);
    if (labels["isNormalized"] === undefined) sim.state.runtimes.get(rt.runtimeId)!.labels.delete("isNormalized");
    table.forEach(([name, systemNumber], i) =>
      sim.createApplication({ id: orderedId(`b${formation.length}000000`.slice(0, 8), i), name, ...(systemNumber ? { systemNumber } : {}), formations: [formation] }),
    );
    const res = await call(rt, `query($id: ID!) { applicationsForRuntime(runtimeID: $id) { data { name systemNumber } } }`, { variables: { id: rt.runtimeId } });
    return (res.json.data.applicationsForRuntime.data as { name: string }[]).map((a) => a.name);
  }

  test('isNormalized "true": mp- prefix, lower case, [^-a-z0-9] → -, -- collapsed, trailing - dropped, then -<systemNumber>', async () => {
    expect(await names({ isNormalized: "true" }, "N1")).toEqual(table.map((row) => row[2]));
  });

  test("no isNormalized label: normalized too", async () => {
    expect(await names({}, "N22")).toEqual(table.map((row) => row[2]));
  });

  test.each([["false"], [true]])('isNormalized %j: names as stored, plus -<systemNumber>', async (value) => {
    expect(await names({ isNormalized: value }, value === true ? "N333" : "N4444")).toEqual(table.map((row) => row[3]));
  });
});

describe("application graph and scalars", () => {
  let rt: PairedRuntime;
  const appId = "2e0a6929-e892-493f-8542-59d5214db802";
  const bundleId = "d6ec462d-8311-4571-8fd5-cb72d61a1c18";
  const apiIds = Array.from({ length: 250 }, (_, i) => orderedId("c0000000", i));

  beforeAll(async () => {
    rt = await pairRuntime(["GRAPH"], { runtime_eventServiceUrl: "https://gateway.kyma.local/ignored/path" });
    sim.createApplication({
      id: appId,
      name: "Commerce Mock",
      providerName: "SAP",
      description: "Commerce mock",
      systemNumber: "0815",
      formations: ["GRAPH"],
      labels: { managed: "false" },
      auths: [{ id: "87498042-f6ec-417b-9a76-d87d77e2a5e8" }],
      bundles: [
        {
          id: bundleId,
          name: "orders",
          description: "Orders API and events",
          instanceAuthRequestInputSchema: '{"type":"object"}',
          apiDefinitions: apiIds.map((id, i) => ({
            id,
            name: `api-${i}`,
            targetURL: `https://commerce.example.com/api/${i}`,
            group: i % 2 === 0 ? "even" : "odd",
            version: { value: "v1", deprecated: false },
            ...(i === 0 ? { spec: { type: "ODATA" as const, format: "XML" as const, data: "<edmx/>" } } : {}),
          })),
          eventDefinitions: [{ id: "6b8d4cd1-1c93-4d5e-8ed0-da0a0cd6333e", name: "order.created", group: "v1", version: { value: "v1" } }],
          defaultInstanceAuth: {
            credential: { kind: "oauth", clientId: "orders-client", clientSecret: "s3cr3t", url: "https://commerce.example.com/oauth/token" },
            additionalHeaders: { "X-Tenant": ["t1", "t2"] },
            additionalQueryParams: { client: ["100"] },
            requestAuth: { csrf: { tokenEndpointURL: "https://commerce.example.com/csrf", credential: { kind: "basic", username: "u", password: "p" } } },
          },
        },
        { id: orderedId("00000001", 1), name: "basic", defaultInstanceAuth: { credential: { kind: "basic", username: "svc", password: "pw" } } },
        { id: orderedId("00000001", 2), name: "cert", defaultInstanceAuth: { credential: { kind: "certificateOAuth", clientId: "c", certificate: "PEM", url: "https://x/token" } } },
        { id: orderedId("00000001", 3), name: "none" },
      ],
    });
  });

  const CREDENTIAL = `__typename ... on BasicCredentialData { username password } ... on OAuthCredentialData { clientId clientSecret url }
    ... on CertificateOAuthCredentialData { clientId certificate url }`;

  test("the §8.4 shape: labels object, auths with sanitized auth, credential union, headers as objects, JSON as strings", async () => {
    const res = await call(
      rt,
      `query($id: ID!) { applicationsForRuntime(runtimeID: $id) { data {
        id name systemNumber providerName description labels status { condition timestamp } createdAt
        eventingConfiguration { defaultURL }
        auths { id auth { accessStrategy } type referenceObjectId tenantId }
        bundles(first: 1) { data { id name description instanceAuthRequestInputSchema
          defaultInstanceAuth { credential { ${CREDENTIAL} } additionalHeaders additionalHeadersSerialized additionalQueryParams additionalQueryParamsSerialized
            requestAuth { csrf { tokenEndpointURL credential { ${CREDENTIAL} } additionalHeaders } } }
          eventDefinitions { data { id name group version { value deprecated deprecatedSince forRemoval } } totalCount }
        } pageInfo { startCursor endCursor hasNextPage } totalCount }
      } } }`,
      { variables: { id: rt.runtimeId } },
    );
    expect(res.json.errors).toBeUndefined();
    const app = res.json.data.applicationsForRuntime.data[0];
    expect(app).toMatchObject({
      id: appId,
      name: "mp-commerce-mock-0815",
      systemNumber: "0815",
      providerName: "SAP",
      labels: { managed: "false", name: "mp-commerce-mock", scenarios: ["GRAPH"] },
      status: { condition: "INITIAL", timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) },
      eventingConfiguration: { defaultURL: "https://gateway.kyma.local/mp-commerce-mock-0815/v1/events" },
      auths: [{ id: "87498042-f6ec-417b-9a76-d87d77e2a5e8", auth: null, type: "APPLICATION", referenceObjectId: appId, tenantId: sim.state.tenants.get(DEFAULT_TENANT)!.internalId }],
    });
    expect(app.bundles.pageInfo).toEqual({ startCursor: "", endCursor: cursor(1), hasNextPage: true });
    expect(app.bundles.totalCount).toBe(4);
    // Bundles come ordered by id: the three with small ids first.
    expect(app.bundles.data[0].name).toBe("basic");
    const orders = (
      await call(rt, `query($id: ID!, $b: ID!) { applicationsForRuntime(runtimeID: $id) { data { bundle(id: $b) { id name description instanceAuthRequestInputSchema
        defaultInstanceAuth { credential { ${CREDENTIAL} } additionalHeaders additionalHeadersSerialized additionalQueryParams additionalQueryParamsSerialized
          requestAuth { csrf { tokenEndpointURL credential { ${CREDENTIAL} } additionalHeaders } } }
        eventDefinitions { data { id name group version { value deprecated deprecatedSince forRemoval } } totalCount } } } } }`, { variables: { id: rt.runtimeId, b: bundleId } })
    ).json.data.applicationsForRuntime.data[0].bundle;
    expect(orders).toEqual({
      id: bundleId,
      name: "orders",
      description: "Orders API and events",
      instanceAuthRequestInputSchema: '{"type": "object"}',
      defaultInstanceAuth: {
        credential: { __typename: "OAuthCredentialData", clientId: "orders-client", clientSecret: "s3cr3t", url: "https://commerce.example.com/oauth/token" },
        additionalHeaders: { "X-Tenant": ["t1", "t2"] },
        additionalHeadersSerialized: '{"X-Tenant":["t1","t2"]}',
        additionalQueryParams: { client: ["100"] },
        additionalQueryParamsSerialized: '{"client":["100"]}',
        requestAuth: {
          csrf: { tokenEndpointURL: "https://commerce.example.com/csrf", credential: { __typename: "BasicCredentialData", username: "u", password: "p" }, additionalHeaders: null },
        },
      },
      eventDefinitions: {
        // A version given with only a value: deprecated and forRemoval false, as Compass stores them.
        data: [{ id: "6b8d4cd1-1c93-4d5e-8ed0-da0a0cd6333e", name: "order.created", group: "v1", version: { value: "v1", deprecated: false, deprecatedSince: null, forRemoval: false } }],
        totalCount: 1,
      },
    });
  });

  test("every credential kind through the union", async () => {
    const res = await call(rt, `query($id: ID!) { applicationsForRuntime(runtimeID: $id) { data { bundles { data { name defaultInstanceAuth { credential { ${CREDENTIAL} } } } } } } }`, {
      variables: { id: rt.runtimeId },
    });
    const bundles = res.json.data.applicationsForRuntime.data[0].bundles.data as { name: string; defaultInstanceAuth: unknown }[];
    expect(Object.fromEntries(bundles.map((b) => [b.name, b.defaultInstanceAuth]))).toEqual({
      basic: { credential: { __typename: "BasicCredentialData", username: "svc", password: "pw" } },
      cert: { credential: { __typename: "CertificateOAuthCredentialData", clientId: "c", certificate: "PEM", url: "https://x/token" } },
      none: null,
      orders: { credential: { __typename: "OAuthCredentialData", clientId: "orders-client", clientSecret: "s3cr3t", url: "https://commerce.example.com/oauth/token" } },
    });
  });

  test("nested pages: 250 API definitions in pages of 200 with the same cursor scheme; group filter; spec", async () => {
    const q = `query($id: ID!, $b: ID!, $first: Int, $after: PageCursor, $group: String) { applicationsForRuntime(runtimeID: $id) { data { id bundle(id: $b) {
      apiDefinitions(group: $group, first: $first, after: $after) { data { id name targetURL spec { type format data } created_at } pageInfo { startCursor endCursor hasNextPage } totalCount } } } } }`;
    const apis = async (variables: Record<string, unknown>) =>
      (await call(rt, q, { variables: { id: rt.runtimeId, b: bundleId, ...variables } })).json.data.applicationsForRuntime.data[0].bundle.apiDefinitions;
    const first = await apis({});
    expect(first.data).toHaveLength(200);
    // The page holds the first 200 by id, in varying order.
    const idsOf = (page: { data: { id: string }[] }) => page.data.map((a) => a.id);
    expect([...idsOf(first)].sort()).toEqual(apiIds.slice(0, 200));
    expect(idsOf(first)).not.toEqual(apiIds.slice(0, 200));
    const byId = (id: string) => first.data.find((a: { id: string }) => a.id === id);
    expect(byId(apiIds[0]!).spec).toEqual({ type: "ODATA", format: "XML", data: "<edmx/>" });
    expect(byId(apiIds[1]!).spec).toBeNull();
    expect(byId(apiIds[0]!).created_at).toMatch(/Z$/);
    expect(first.pageInfo).toEqual({ startCursor: "", endCursor: cursor(200), hasNextPage: true });
    expect(first.totalCount).toBe(250);
    const second = await apis({ after: first.pageInfo.endCursor });
    expect([...idsOf(second)].sort()).toEqual(apiIds.slice(200));
    expect(second.pageInfo).toEqual({ startCursor: cursor(200), endCursor: "", hasNextPage: false });
    expect((await apis({ group: "odd", first: 10 })).totalCount).toBe(125);
  });

  test.each([[0], [201]])("nested first %d → error at the nested path, the rest of the answer stays", async (first) => {
    const res = await call(rt, `query($id: ID!, $n: Int) { applicationsForRuntime(runtimeID: $id) { totalCount data { id bundles(first: $n) { totalCount } } } }`, {
      variables: { id: rt.runtimeId, n: first },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      errors: [
        {
          message: "Invalid data [reason=page size must be between 1 and 200]",
          path: ["applicationsForRuntime", "data", 0, "bundles"],
          extensions: { error: "InvalidData", error_code: 22 },
        },
      ],
      data: { applicationsForRuntime: { totalCount: 1, data: [{ id: appId, bundles: null }] } },
    });
  });

  test("Application.bundle(id) of another application, and apiDefinition/eventDefinition by id", async () => {
    const res = await call(
      rt,
      `query($id: ID!) { applicationsForRuntime(runtimeID: $id) { data { none: bundle(id: "${orderedId("99999999", 1)}") { id }
        apiDefinition(id: "${apiIds[3]}") { name } eventDefinition(id: "6b8d4cd1-1c93-4d5e-8ed0-da0a0cd6333e") { name } } } }`,
      { variables: { id: rt.runtimeId } },
    );
    expect(res.json.data.applicationsForRuntime.data[0]).toEqual({ none: null, apiDefinition: { name: "api-3" }, eventDefinition: { name: "order.created" } });
  });

  test("a runtime's own bundle instance auth replaces defaultInstanceAuth for that runtime only", async () => {
    const app = sim.state.applications.get(appId)!;
    const basic = app.bundles.find((b) => b.name === "basic")!;
    sim.state.bundleInstanceAuths.set("bia-1", {
      id: "bia-1",
      bundleId: basic.id,
      runtimeId: rt.runtimeId,
      auth: { credential: { kind: "basic", username: "mine", password: "only-mine" } },
      status: { condition: "SUCCEEDED", timestamp: new Date(), message: "", reason: "CredentialsProvided" },
    });
    try {
      const q = `query($id: ID!, $b: ID!) { applicationsForRuntime(runtimeID: $id) { data { bundle(id: $b) { defaultInstanceAuth { credential { ... on BasicCredentialData { username } } } instanceAuths { id runtimeID status { condition } } } } } }`;
      const mine = (await call(rt, q, { variables: { id: rt.runtimeId, b: basic.id } })).json.data.applicationsForRuntime.data[0].bundle;
      expect(mine).toEqual({ defaultInstanceAuth: { credential: { username: "mine" } }, instanceAuths: [{ id: "bia-1", runtimeID: rt.runtimeId, status: { condition: "SUCCEEDED" } }] });
      const other = await pairRuntime(["GRAPH"]);
      const theirs = (await call(other, q, { variables: { id: other.runtimeId, b: basic.id } })).json.data.applicationsForRuntime.data[0].bundle;
      expect(theirs).toEqual({ defaultInstanceAuth: { credential: { username: "svc" } }, instanceAuths: [] });
    } finally {
      sim.state.bundleInstanceAuths.delete("bia-1");
    }
  });

  test("eventingConfiguration: the oldest runtime in a shared formation becomes the default and gets the protected label", async () => {
    const labels = sim.state.runtimes.get(rt.runtimeId)!.labels;
    expect(labels.get(`${appId}_defaultEventing`)).toBe("true");
    const res = await call(rt, `{ runtime(id: "${rt.runtimeId}") { labels } }`);
    expect(Object.keys(res.json.data.runtime.labels)).not.toContain(`${appId}_defaultEventing`);
  });
});

describe("runtime labels", () => {
  let rt: PairedRuntime;
  beforeAll(async () => {
    rt = await pairRuntime(["LABELS"]);
  });

  const set = (key: string, value: unknown, runtimeId = rt.runtimeId) =>
    call(rt, "mutation($id: ID!, $k: String!, $v: Any!) { result: setRuntimeLabel(runtimeID: $id, key: $k, value: $v) { key value } }", {
      variables: { id: runtimeId, k: key, v: value },
    });
  const del = (key: string, runtimeId = rt.runtimeId) =>
    call(rt, "mutation($id: ID!, $k: String!) { result: deleteRuntimeLabel(runtimeID: $id, key: $k) { key value } }", {
      variables: { id: runtimeId, k: key },
    });

  test("set is an upsert of any JSON value; delete returns the removed label", async () => {
    expect((await set("runtime_eventServiceUrl", "https://a")).json).toEqual({ data: { result: { key: "runtime_eventServiceUrl", value: "https://a" } } });
    expect((await set("runtime_eventServiceUrl", "https://b")).json.data.result.value).toBe("https://b");
    expect((await set("complex", { a: [1, true, null] })).json.data.result).toEqual({ key: "complex", value: { a: [1, true, null] } });
    const literal = await call(rt, `mutation { result: setRuntimeLabel(runtimeID: "${rt.runtimeId}", key: "lit", value: {x: [1, "y"]}) { key value } }`);
    expect(literal.json.data.result).toEqual({ key: "lit", value: { x: [1, "y"] } });
    const state = sim.state.snapshot().runtimes.find((r) => r.id === rt.runtimeId)!;
    expect(state.labels).toMatchObject({ runtime_eventServiceUrl: "https://b", complex: { a: [1, true, null] }, lit: { x: [1, "y"] } });
    expect((await del("complex")).json).toEqual({ data: { result: { key: "complex", value: { a: [1, true, null] } } } });
    expect(sim.state.runtimes.get(rt.runtimeId)!.labels.has("complex")).toBe(false);
  });

  test.each([
    ["runtime.url", "x", "Invalid data LabelInput [key=must be in a valid format]"],
    ["", "x", "Invalid data LabelInput [key=cannot be blank]"],
    ["k".repeat(257), "x", "Invalid data LabelInput [key=the length must be between 1 and 256]"],
    ["ok", "", "Invalid data LabelInput [value=cannot be blank]"],
    ["a b", [], "Invalid data LabelInput [key=must be in a valid format; value=cannot be blank]"],
    ["app_defaultEventing", "x", "Invalid data [reason=could not set unmodifiable label with key app_defaultEventing]"],
    ["runtimeType", "other", "Invalid data [reason=could not set unmodifiable label with key runtimeType]"],
    ["x_defaultEventing", "x", "Invalid data [reason=could not set unmodifiable label with key x_defaultEventing]"],
    ["df888ff6-70dd-4d11-8ecd-f1b1e2b30806_defaultEventing", "x", "Invalid data LabelInput [key=must be in a valid format]"],
  ])("setRuntimeLabel(%j, %j) → %s", async (key, value, message) => {
    expect((await set(key, value)).json).toEqual({
      errors: [{ message, path: ["result"], extensions: { error: "InvalidData", error_code: 22 } }],
      data: null,
    });
  });

  test("a 256-character key is fine", async () => {
    expect((await set("k".repeat(256), 1)).json.data.result.key).toHaveLength(256);
  });

  test("scenarios and unknown runtimes: plain errors, rendered as code 10 with the reason", async () => {
    const scenarios = (await set("scenarios", ["x"])).json.errors[0];
    expect(scenarios.extensions).toEqual({ error: "InternalError", error_code: 10 });
    expect(scenarios.path).toEqual(["result"]);
    expect(INTERNAL_ERROR.exec(scenarios.message)![1]).toBe("input: result label with key scenarios cannot be set explicitly");
    const missing = orderedId("00000000", 42);
    expect(INTERNAL_ERROR.exec((await set("a", "b", missing)).json.errors[0].message)![1]).toBe(`input: result Runtime with ID ${missing} doesn't exist`);
    expect(INTERNAL_ERROR.exec((await del("a", missing)).json.errors[0].message)![1]).toBe(`input: result Runtime with ID ${missing} doesn't exist`);
  });

  test("deleting a label that is not set: NotFound code 20 without an ID (director-runtime-label-protected-and-delete.json)", async () => {
    const res = await del("not_set_label");
    expect(res.text).toBe('{"errors":[{"message":"Object not found [object=runtimeLabel]","path":["result"],"extensions":{"error":"NotFound","error_code":20}}],"data":null}');
  });

  test("a null value is refused by GraphQL itself (Any! is non-null): 422", async () => {
    expect((await set("x", null)).status).toBe(422);
  });
});

describe("a certificate expired in simulator time", () => {
  test("completes the handshake (real clock) but is refused: HTTP 401 code 26", async () => {
    const own = await startCompassSimulator({ certValidity: 120 });
    try {
      const ca = await readFile(own.serverCaFile, "utf8");
      const rt = await pair(own, ca, dir.path, { name: "expiring", formations: ["X"] });
      const query = `{ runtime(id: "${rt.runtimeId}") { id } }`;
      expect((await directorCall(own, ca, rt, query)).json).toEqual({ data: { runtime: { id: rt.runtimeId } } });
      own.advanceClock(121);
      const res = await directorCall(own, ca, rt, query);
      expect(res.status).toBe(401);
      expect(res.text).toBe(UNAUTHORIZED_BODY);
    } finally {
      await own.close();
    }
  });
});

describe("performance", () => {
  test("a full listing of 1,000 applications × 5 bundles × (3 APIs + 2 events) over HTTPS, 100 per page", async () => {
    const own = await startCompassSimulator({ generate: { applications: 1000, bundles: 5, apis: 3, events: 2 } });
    try {
      const ca = await readFile(own.serverCaFile, "utf8");
      const runtime = own.state.runtimes.get(own.generated!.runtimeId)!;
      const systemAuth = own.state.issueRuntimeToken(runtime.id);
      const { opensslCsr } = await import("./support/tools.js");
      const csr = await opensslCsr(dir.path, `O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=${systemAuth.id}`);
      const issued = await own.signCsr(csr.csrPem);
      const who = { certPem: issued.certificatePem, keyPem: await readFile(csr.keyPath, "utf8") };
      const query = `query($id: ID!, $after: PageCursor) { r: applicationsForRuntime(runtimeID: $id, first: 100, after: $after) {
        data { id name labels auths { id } bundles { data { id name instanceAuthRequestInputSchema
          defaultInstanceAuth { credential { __typename ... on BasicCredentialData { username password } ... on OAuthCredentialData { clientId clientSecret url } }
            additionalHeaders additionalQueryParams requestAuth { csrf { tokenEndpointURL } } }
          apiDefinitions { data { id name description targetURL group version { value deprecated } } pageInfo { endCursor hasNextPage } totalCount }
          eventDefinitions { data { id name description group version { value } } pageInfo { endCursor hasNextPage } totalCount } }
          pageInfo { endCursor hasNextPage } totalCount } }
        pageInfo { endCursor hasNextPage } totalCount } }`;
      const started = performance.now();
      let after = "";
      let count = 0;
      for (;;) {
        const page = (await directorCall(own, ca, who, query, { variables: { id: runtime.id, after } })).json.data.r;
        count += page.data.length;
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(count).toBe(1000);
      // About half a second on an idle 2-core machine (printed, not asserted: tests never assert on wall-clock time).
      console.log(`director listing: 1,000 applications in ${((performance.now() - started) / 1000).toFixed(2)} s`);
    } finally {
      await own.close();
    }
  }, 60_000);
});

describe("labels Compass adds (runtime-lifecycle-labels-status.json, director-combined-query-rich.json)", () => {
  const RUNTIME_LABELS = "query RuntimeLabels($runtimeId: ID!) {\n  runtime(id: $runtimeId) {\n    id\n    labels\n  }\n}";
  const COMBINED = `query RuntimeAndApplications($runtimeId: ID!, $nestedFirst: Int!) {
    runtime(id: $runtimeId) { id labels }
    result: applicationsForRuntime(runtimeID: $runtimeId, first: 100) { data { id name labels bundles(first: $nestedFirst) { totalCount } } totalCount }
  }`;

  test("scenarios from the formations (absent with none), runtimeType, and useBundles after the first request that mentions bundles", async () => {
    const rt = await pairRuntime(["LIFE"]);
    const labels = async () => {
      const res = await call(rt, RUNTIME_LABELS, { variables: { runtimeId: rt.runtimeId }, operationName: "RuntimeLabels" });
      expect(res.status).toBe(200);
      return res;
    };
    // RuntimeLabels-only calls never add useBundles. Keys come sorted, as Go's JSON encoder writes a map.
    for (let i = 0; i < 2; i++) {
      expect((await labels()).text).toBe(
        `{"data":{"runtime":{"id":"${rt.runtimeId}","labels":{"isNormalized":"true","runtimeType":"kyma","scenarios":["LIFE"]}}}}`,
      );
    }
    // The first request whose body mentions "bundle": its own answer does not show useBundles yet ...
    const combined = await call(rt, COMBINED, { variables: { runtimeId: rt.runtimeId, nestedFirst: 200 }, operationName: "RuntimeAndApplications" });
    expect(combined.json.data.runtime.labels).toEqual({ isNormalized: "true", runtimeType: "kyma", scenarios: ["LIFE"] });
    // ... later ones do, and it is stored (admin view).
    expect((await labels()).json.data.runtime.labels).toEqual({ isNormalized: "true", runtimeType: "kyma", scenarios: ["LIFE"], useBundles: "true" });
    expect((await call(rt, COMBINED, { variables: { runtimeId: rt.runtimeId, nestedFirst: 200 } })).json.data.runtime.labels.useBundles).toBe("true");
    expect(sim.state.snapshot().runtimes.find((r) => r.id === rt.runtimeId)!.labels).toMatchObject({ useBundles: "true", scenarios: ["LIFE"] });
    // The key disappears when the runtime leaves its last formation, and comes back with a new one.
    sim.state.unassignFormation("LIFE", { runtimeId: rt.runtimeId });
    expect((await labels()).json.data.runtime.labels).toEqual({ isNormalized: "true", runtimeType: "kyma", useBundles: "true" });
    sim.assignFormation("LIFE-2", { runtimeId: rt.runtimeId });
    expect((await labels()).json.data.runtime.labels.scenarios).toEqual(["LIFE-2"]);
    // scenarios and runtimeType cannot be set by the runtime.
    const set = (key: string, value: unknown) =>
      call(rt, "mutation($id: ID!, $k: String!, $v: Any!) { result: setRuntimeLabel(runtimeID: $id, key: $k, value: $v) { key value } }", {
        variables: { id: rt.runtimeId, k: key, v: value },
      });
    expect(INTERNAL_ERROR.exec((await set("scenarios", ["x"])).json.errors[0].message)![1]).toBe("input: result label with key scenarios cannot be set explicitly");
    expect((await set("runtimeType", "other")).json.errors[0].message).toBe("Invalid data [reason=could not set unmodifiable label with key runtimeType]");
    expect((await labels()).json.data.runtime.labels).toMatchObject({ runtimeType: "kyma", scenarios: ["LIFE-2"] });
  });

  test("useBundles goes to the CALLING runtime, even when it reads another runtime's applications", async () => {
    const caller = await pairRuntime(["UB-A"]);
    const other = await pairRuntime(["UB-B"]);
    await call(caller, COMBINED, { variables: { runtimeId: other.runtimeId, nestedFirst: 1 } });
    expect(sim.state.runtimes.get(caller.runtimeId)!.labels.get("useBundles")).toBe("true");
    expect(sim.state.runtimes.get(other.runtimeId)!.labels.has("useBundles")).toBe(false);
  });

  test("a runtime created with another runtimeType, or none", async () => {
    const edge = await pair(sim, serverCa, dir.path, { name: "edge", formations: ["RT"], runtimeType: "edge" });
    const bare = await pair(sim, serverCa, dir.path, { name: "bare", runtimeType: null });
    expect((await call(edge, RUNTIME_LABELS, { variables: { runtimeId: edge.runtimeId } })).json.data.runtime.labels).toEqual({
      isNormalized: "true",
      runtimeType: "edge",
      scenarios: ["RT"],
    });
    expect((await call(bare, RUNTIME_LABELS, { variables: { runtimeId: bare.runtimeId } })).json.data.runtime.labels).toEqual({ isNormalized: "true" });
  });

  test("application labels: the registered ones (applicationType included) plus managed, name (normalized) and scenarios", async () => {
    const rt = await pairRuntime(["APP-LABELS"]);
    sim.createApplication({
      id: orderedId("e0000000", 1),
      name: "Corpus Field Service",
      labels: { applicationType: "SAP Field Service Management" },
      formations: ["APP-LABELS"],
    });
    sim.createApplication({ id: orderedId("e0000000", 2), name: "managed one", labels: { managed: "true" }, formations: ["APP-LABELS"] });
    const res = await call(rt, COMBINED, { variables: { runtimeId: rt.runtimeId, nestedFirst: 1 } });
    const apps = res.json.data.result.data as { labels: Record<string, unknown> }[];
    expect(JSON.stringify(apps[0]!.labels)).toBe(
      '{"applicationType":"SAP Field Service Management","managed":"false","name":"mp-corpus-field-service","scenarios":["APP-LABELS"]}',
    );
    // managed given at registration is kept; no applicationType is invented.
    expect(apps[1]!.labels).toEqual({ managed: "true", name: "mp-managed-one", scenarios: ["APP-LABELS"] });
    // A rename rewrites the name label.
    sim.updateApplication(orderedId("e0000000", 2), { name: "Renamed One" });
    expect((await call(rt, COMBINED, { variables: { runtimeId: rt.runtimeId, nestedFirst: 1 } })).json.data.result.data[1].labels.name).toBe("mp-renamed-one");
  });
});

describe("nested lists come back in varying order (director-combined-query-repeat.json)", () => {
  const NESTED = `query($id: ID!) { r: applicationsForRuntime(runtimeID: $id, first: 100) { data { id
    bundles(first: 200) { data { id apiDefinitions(first: 200) { data { id } } eventDefinitions(first: 200) { data { id } } } } } } }`;

  async function nestedSim(options: Parameters<typeof startCompassSimulator>[0]) {
    const own = await startCompassSimulator(options);
    const ca = await readFile(own.serverCaFile, "utf8");
    const rt = await pair(own, ca, dir.path, { name: "order", formations: ["ORDER"] });
    for (let a = 1; a <= 3; a++) {
      own.createApplication({
        id: orderedId("f0000000", a),
        name: `order app ${a}`,
        formations: ["ORDER"],
        // Application a has a bundles; each bundle 2 APIs and 3 events (explicit ids so id order is known).
        bundles: Array.from({ length: a }, (_, b) => ({
          id: orderedId(`f${a}${b}00000`, 0),
          name: `b${b}`,
          apiDefinitions: [1, 2].map((n) => ({ id: orderedId(`f${a}${b}10000`, n), name: `api${n}`, targetURL: "https://x" })),
          eventDefinitions: [1, 2, 3].map((n) => ({ id: orderedId(`f${a}${b}20000`, n), name: `ev${n}` })),
        })),
      });
    }
    /** One call: list name → ids in the order answered. Applications themselves must stay in id order. */
    const orders = async (): Promise<Map<string, string[]>> => {
      const res = await directorCall(own, ca, rt, NESTED, { variables: { id: rt.runtimeId } });
      const out = new Map<string, string[]>();
      type Page<T> = { data: T[] };
      const apps = res.json.data.r.data as { id: string; bundles: Page<{ id: string; apiDefinitions: Page<{ id: string }>; eventDefinitions: Page<{ id: string }> }> }[];
      expect(apps.map((app) => app.id)).toEqual([1, 2, 3].map((a) => orderedId("f0000000", a)));
      for (const app of apps) {
        out.set(`bundles of ${app.id}`, app.bundles.data.map((b) => b.id));
        for (const bundle of app.bundles.data) {
          out.set(`apis of ${bundle.id}`, bundle.apiDefinitions.data.map((x) => x.id));
          out.set(`events of ${bundle.id}`, bundle.eventDefinitions.data.map((x) => x.id));
        }
      }
      return out;
    };
    return { own, ca, rt, orders };
  }

  test("the same items, in an order that changes between consecutive identical calls most of the time", async () => {
    const { own, orders } = await nestedSim({});
    try {
      const calls: Map<string, string[]>[] = [];
      for (let i = 0; i < 16; i++) calls.push(await orders());
      const lists = [...calls[0]!.keys()].filter((key) => calls[0]!.get(key)!.length >= 2);
      expect(lists).toHaveLength(2 + 6 * 2); // bundles of apps 2 and 3, APIs and events of their 1 + 2 + 3 bundles
      for (const key of lists) {
        const sorted = [...calls[0]!.get(key)!].sort();
        let changes = 0;
        for (let i = 0; i < calls.length; i++) {
          expect([...calls[i]!.get(key)!].sort()).toEqual(sorted); // the right items, every time
          if (i > 0 && calls[i]!.get(key)!.join() !== calls[i - 1]!.get(key)!.join()) changes++;
        }
        // "most of the time": more than half of the 15 consecutive pairs differ, for every list of 2 or more.
        expect(changes, key).toBeGreaterThan(7);
      }
    } finally {
      await own.close();
    }
  });

  test("the same seed gives the same sequence (reproducible tests); nestedOrder \"id\" keeps id order", async () => {
    const a = await nestedSim({ nestedOrderSeed: 42 });
    const b = await nestedSim({ nestedOrderSeed: 42 });
    const byId = await nestedSim({ nestedOrder: "id" });
    try {
      for (let i = 0; i < 4; i++) {
        const [x, y] = [await a.orders(), await b.orders()];
        // Ids differ between the two simulators only by their runtime; the lists are keyed and built the same way.
        expect([...x.values()]).toEqual([...y.values()]);
        for (const list of (await byId.orders()).values()) expect(list).toEqual([...list].sort());
      }
    } finally {
      await Promise.all([a.own.close(), b.own.close(), byId.own.close()]);
    }
  });

  test("paging a nested list takes the right items: with first: 1, pages follow id order", async () => {
    const { own, ca, rt } = await nestedSim({});
    try {
      const q = `query($id: ID!, $after: PageCursor) { r: applicationsForRuntime(runtimeID: $id, first: 1, after: "${cursor(2)}") { data { id
        bundles(first: 1, after: $after) { data { id } pageInfo { endCursor hasNextPage } totalCount } } } }`;
      const seen: string[] = [];
      let after = "";
      for (;;) {
        const page = (await directorCall(own, ca, rt, q, { variables: { id: rt.runtimeId, after } })).json.data.r.data[0].bundles;
        seen.push(...page.data.map((b: { id: string }) => b.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen).toEqual([0, 1, 2].map((b) => orderedId(`f3${b}00000`, 0)));
    } finally {
      await own.close();
    }
  });
});

describe("legacy Director answers (options no default test relies on)", () => {
  test("legacyDirectorAuth: code 23 per root field for a revoked certificate; 400 TenantNotFound without Content-Type for any foreign tenant", async () => {
    const own = await startCompassSimulator({ legacyDirectorAuth: true });
    try {
      const ca = await readFile(own.serverCaFile, "utf8");
      const rt = await pair(own, ca, dir.path, { name: "legacy", formations: ["L"] });
      const unknown = await directorCall(own, ca, rt, "{ __typename }", { headers: { Tenant: "99999999-9999-4999-8999-999999999999" } });
      expect(unknown.status).toBe(400);
      expect(unknown.headers["content-type"]).toBeUndefined();
      expect(unknown.json.errors[0].extensions).toEqual({ error: "TenantNotFound", error_code: 25 });
      own.revoke(rt.fingerprint);
      const revoked = await directorCall(own, ca, rt, `{ runtime(id: "${rt.runtimeId}") { id } }`);
      expect(revoked.status).toBe(200);
      expect(revoked.json).toEqual({
        errors: [{ message: "insufficient scopes provided [actual=; required=runtime:read]", path: ["runtime"], extensions: { error: "InsufficientScopes", error_code: 23 } }],
        data: { runtime: null },
      });
    } finally {
      await own.close();
    }
  });

  test("legacyRuntimeLabels: no scenarios, no useBundles", async () => {
    const own = await startCompassSimulator({ legacyRuntimeLabels: true });
    try {
      const ca = await readFile(own.serverCaFile, "utf8");
      const rt = await pair(own, ca, dir.path, { name: "legacy", formations: ["L"] });
      const q = `{ runtime(id: "${rt.runtimeId}") { labels } result: applicationsForRuntime(runtimeID: "${rt.runtimeId}") { data { bundles { totalCount } } } }`;
      await directorCall(own, ca, rt, q);
      expect((await directorCall(own, ca, rt, q)).json.data.runtime.labels).toEqual({ isNormalized: "true", runtimeType: "kyma" });
    } finally {
      await own.close();
    }
  });
});
