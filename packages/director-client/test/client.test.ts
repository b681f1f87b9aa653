import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { DirectorClient, DirectorErrorCode } from "../src/index.js";
import { failure } from "./support/failure.js";
import type { DirectorClientOptions } from "../src/index.js";
import { encodeCursor, FakeDirector, fakeId, json } from "./support/fake-director.js";
import type { FakeApplication, RawHandler } from "./support/fake-director.js";

const director = new FakeDirector();

beforeAll(async () => {
  await director.start();
});

afterAll(async () => {
  await director.stop();
});

beforeEach(() => director.reset());

const clients: DirectorClient[] = [];
function client(options: Partial<DirectorClientOptions> = {}): DirectorClient {
  const c = new DirectorClient({ url: director.url, tls: { caPem: director.tls.caPem }, ...options });
  clients.push(c);
  return c;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

/** The §8.4 example of the contract: one application, one bundle with OAuth + CSRF and request parameters. */
const commerceMock: FakeApplication = {
  id: "2e0a6929-e892-493f-8542-59d5214db802",
  name: "mp-commerce-mock",
  providerName: "SAP",
  description: "Commerce mock",
  labels: { scenarios: ["DEFAULT"], managed: "false" },
  auths: [{ id: "87498042-f6ec-417b-9a76-d87d77e2a5e8" }],
  bundles: [
    {
      id: "d6ec462d-8311-4571-8fd5-cb72d61a1c18",
      name: "orders",
      description: "Orders API and events",
      apis: [
        {
          id: "b401954c-9f09-47f1-8675-c36b668653e8",
          name: "orders-api",
          description: "Orders REST API",
          targetURL: "https://commerce.example.com/orders",
          group: "v1",
          version: { value: "v1", deprecated: false, deprecatedSince: null, forRemoval: false },
        },
      ],
      events: [
        {
          id: "6b8d4cd1-1c93-4d5e-8ed0-da0a0cd6333e",
          name: "order.created",
          description: "Order created",
          group: "v1",
          version: { value: "v1", deprecated: false, deprecatedSince: null, forRemoval: false },
        },
      ],
      defaultInstanceAuth: {
        credential: {
          __typename: "OAuthCredentialData",
          clientId: "orders-client",
          clientSecret: "s3cr3t",
          url: "https://commerce.example.com/oauth/token",
        },
        additionalHeaders: { "X-Tenant": ["t1"] },
        additionalQueryParams: { client: ["100"] },
        requestAuth: { csrf: { tokenEndpointURL: "https://commerce.example.com/csrf" } },
      },
    },
  ],
};

function apps(count: number, prefix = "a0000000"): FakeApplication[] {
  return Array.from({ length: count }, (_, i) => ({ id: fakeId(prefix, i), name: `mp-app-${i}` }));
}

describe("getRuntimeLabels", () => {
  test("sends Tenant and x-request-id, uses variables, returns the labels", async () => {
    director.runtimeLabels = { isNormalized: "true", runtime_eventServiceUrl: "https://gateway.kyma.local", scenarios: ["DEFAULT"] };
    const labels = await client({ tenant: "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae" }).getRuntimeLabels(director.runtimeId, {
      requestId: `${director.runtimeId}_rid`,
    });
    expect(labels).toEqual({ isNormalized: "true", runtime_eventServiceUrl: "https://gateway.kyma.local", scenarios: ["DEFAULT"] });
    const [seen] = director.requests;
    expect(seen?.headers["tenant"]).toBe("3e64ebae-38b5-46a0-b1ed-9ccee153a0ae");
    expect(seen?.headers["x-request-id"]).toBe(`${director.runtimeId}_rid`);
    expect(seen?.variables).toEqual({ runtimeId: director.runtimeId });
    expect(seen?.query).not.toContain(director.runtimeId);
  });

  test("no Tenant header when no tenant is configured; a generated request id", async () => {
    await client().getRuntimeLabels(director.runtimeId);
    expect(director.requests[0]?.headers["tenant"]).toBeUndefined();
    expect(director.requests[0]?.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("null labels are an empty object", async () => {
    director.runtimeLabels = null;
    director.raw = () => json(200, { data: { runtime: { id: director.runtimeId, labels: null } } });
    await expect(client().getRuntimeLabels(director.runtimeId)).resolves.toEqual({});
  });

  test("a null runtime is DIRECTOR_RUNTIME_NOT_FOUND", async () => {
    director.runtimeLabels = null;
    const error = await failure(client().getRuntimeLabels(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.RUNTIME_NOT_FOUND);
    expect(error.retryable).toBe(false);
  });

  test("labels that are not an object are a bad response", async () => {
    director.raw = () => json(200, { data: { runtime: { id: director.runtimeId, labels: ["isNormalized"] } } });
    const error = await failure(client().getRuntimeLabels(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.BAD_RESPONSE);
    expect(error.message).toContain("runtime.labels");
  });

  test.each([true, false])(
    "an existing tenant that is not the runtime's is DIRECTOR_TENANT_NOT_FOUND (HTTP 400, with Content-Type: %s)",
    async (contentType) => {
      director.tenant = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";
      director.otherTenants = ["1eba80dd-8ff6-54ee-be4d-77944d17b10b"];
      director.tenantNotFoundContentType = contentType;
      const error = await failure(client({ tenant: "1eba80dd-8ff6-54ee-be4d-77944d17b10b" }).getRuntimeLabels(director.runtimeId));
      expect(error).toMatchObject({ code: DirectorErrorCode.TENANT_NOT_FOUND, status: 400, compassErrorCode: 25, retryable: false });
      expect(error.tenantHeader).toBe("1eba80dd-8ff6-54ee-be4d-77944d17b10b");
      expect(error.message).toContain("Tenant not found [externalTenant=1eba80dd-8ff6-54ee-be4d-77944d17b10b]");
    },
  );
});

// Real Compass answers HTTP 401 code 26 ("consumer with type <nil> is not supported") both to a revoked certificate
// and to a Tenant header that names no tenant it knows.
describe("HTTP 401 code 26: revoked certificate or unknown tenant", () => {
  const UNKNOWN = "8fa3db0a-bb3d-4ed2-bf5d-5eec8be40ea2";

  test("with a Tenant header: DIRECTOR_AUTH_FAILED naming the certificate and that tenant", async () => {
    director.tenant = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";
    const error = await failure(client({ tenant: UNKNOWN }).listApplicationsForRuntime(director.runtimeId));
    expect(error).toMatchObject({ code: DirectorErrorCode.AUTH_FAILED, status: 401, compassErrorCode: 26, retryable: false, tenantHeader: UNKNOWN });
    expect(error.message).toContain("Unauthorized [reason=consumer with type <nil> is not supported]");
    expect(error.message).toContain("client certificate is revoked or unknown");
    expect(error.message).toContain(`the Tenant header "${UNKNOWN}" is not a tenant Compass knows (check TENANT in the agent configuration)`);
  });

  test("without a Tenant header: DIRECTOR_AUTH_FAILED naming the certificate only", async () => {
    director.revoked = true;
    const error = await failure(client().getRuntimeLabels(director.runtimeId));
    expect(error).toMatchObject({ code: DirectorErrorCode.AUTH_FAILED, status: 401, compassErrorCode: 26, tenantHeader: undefined });
    expect(error.message).toContain("client certificate is revoked or unknown");
    expect(error.message).not.toContain("Tenant header");
  });

  test("a revoked certificate with the right Tenant header still names both causes", async () => {
    director.tenant = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";
    director.revoked = true;
    const error = await failure(client({ tenant: director.tenant }).getRuntimeLabels(director.runtimeId));
    expect(error).toMatchObject({ code: DirectorErrorCode.AUTH_FAILED, tenantHeader: director.tenant });
    expect(error.message).toMatch(/revoked or unknown.*Tenant header/);
  });
});

describe("listApplicationsForRuntime: conversion", () => {
  test("the contract's example converts to the model", async () => {
    director.applications = [commerceMock];
    const listing = await client().listApplicationsForRuntime(director.runtimeId);
    expect(listing.totalCount).toBe(1);
    expect(listing.applications).toEqual([
      {
        id: "2e0a6929-e892-493f-8542-59d5214db802",
        name: "mp-commerce-mock",
        systemNumber: null,
        providerName: "SAP",
        description: "Commerce mock",
        labels: { scenarios: ["DEFAULT"], managed: "false" },
        systemAuthIds: ["87498042-f6ec-417b-9a76-d87d77e2a5e8"],
        bundles: [
          {
            id: "d6ec462d-8311-4571-8fd5-cb72d61a1c18",
            name: "orders",
            description: "Orders API and events",
            instanceAuthRequestInputSchema: null,
            apiDefinitions: [
              {
                id: "b401954c-9f09-47f1-8675-c36b668653e8",
                name: "orders-api",
                description: "Orders REST API",
                targetUrl: "https://commerce.example.com/orders",
                group: "v1",
                version: { value: "v1", deprecated: false, deprecatedSince: null, forRemoval: false },
              },
            ],
            eventDefinitions: [
              {
                id: "6b8d4cd1-1c93-4d5e-8ed0-da0a0cd6333e",
                name: "order.created",
                description: "Order created",
                group: "v1",
                version: { value: "v1", deprecated: false, deprecatedSince: null, forRemoval: false },
              },
            ],
            defaultInstanceAuth: {
              credential: {
                type: "OAuth",
                clientId: "orders-client",
                clientSecret: "s3cr3t",
                url: "https://commerce.example.com/oauth/token",
              },
              additionalHeaders: { "X-Tenant": ["t1"] },
              additionalQueryParams: { client: ["100"] },
              csrf: {
                tokenEndpointUrl: "https://commerce.example.com/csrf",
                credential: null,
                additionalHeaders: null,
                additionalQueryParams: null,
              },
            },
          },
        ],
      },
    ]);
    expect(listing.stats).toMatchObject({ requests: 1, applicationPages: 1, nestedPages: 0, attempts: 1, restartReason: null });
    expect(listing.stats.bytesReceived).toBeGreaterThan(500);
    const query = director.requests[0]?.query ?? "";
    expect(query).toContain("__typename");
    expect(director.requests[0]?.variables).toEqual({ runtimeId: director.runtimeId, first: 50, after: null, nestedFirst: 200 });
  });

  test("every credential kind, CSRF with its own credential, schema and nulls", async () => {
    director.applications = [
      {
        id: fakeId("b0000000", 1),
        name: "mp-creds",
        auths: null,
        labels: null,
        bundles: [
          {
            id: fakeId("c0000000", 1),
            name: "basic",
            instanceAuthRequestInputSchema: '{"type":"object"}',
            defaultInstanceAuth: {
              credential: { __typename: "BasicCredentialData", username: "u", password: "p" },
              requestAuth: {
                csrf: { tokenEndpointURL: "https://x/csrf", credential: { __typename: "BasicCredentialData", username: "cu", password: "cp" } },
              },
            },
          },
          {
            id: fakeId("c0000000", 2),
            name: "cert",
            defaultInstanceAuth: {
              credential: { __typename: "CertificateOAuthCredentialData", clientId: "c", certificate: "PEM", url: "https://x/token" },
            },
          },
          { id: fakeId("c0000000", 3), name: "none", defaultInstanceAuth: { credential: null } },
          { id: fakeId("c0000000", 4), name: "no-auth" },
        ],
      },
    ];
    const [app] = (await client().listApplicationsForRuntime(director.runtimeId)).applications;
    expect(app?.systemAuthIds).toEqual([]);
    expect(app?.labels).toEqual({});
    expect(app?.bundles.map((b) => b.defaultInstanceAuth)).toEqual([
      {
        credential: { type: "Basic", username: "u", password: "p" },
        additionalHeaders: null,
        additionalQueryParams: null,
        csrf: {
          tokenEndpointUrl: "https://x/csrf",
          credential: { type: "Basic", username: "cu", password: "cp" },
          additionalHeaders: null,
          additionalQueryParams: null,
        },
      },
      {
        credential: { type: "CertificateOAuth", clientId: "c", certificate: "PEM", url: "https://x/token" },
        additionalHeaders: null,
        additionalQueryParams: null,
        csrf: null,
      },
      { credential: null, additionalHeaders: null, additionalQueryParams: null, csrf: null },
      null,
    ]);
    expect(app?.bundles[0]?.instanceAuthRequestInputSchema).toBe('{"type":"object"}');
  });

  const bad: [string, (app: FakeApplication) => void, string][] = [
    ["a null name", (app) => Object.assign(app, { name: null }), "name"],
    ["labels that are a string", (app) => Object.assign(app, { labels: "scenarios=DEFAULT" }), "labels"],
    [
      "an unknown credential __typename",
      (app) => {
        const auth = app.bundles?.[0]?.defaultInstanceAuth;
        if (auth) auth.credential = { __typename: "SAMLCredentialData", assertion: "x" };
      },
      "bundles.data[0].defaultInstanceAuth.credential.__typename",
    ],
    [
      "a credential without __typename",
      (app) => {
        const auth = app.bundles?.[0]?.defaultInstanceAuth;
        if (auth) auth.credential = { clientId: "c", clientSecret: "s", url: "u" };
      },
      "bundles.data[0].defaultInstanceAuth.credential.__typename",
    ],
    [
      "a null certificate",
      (app) => {
        const auth = app.bundles?.[0]?.defaultInstanceAuth;
        if (auth) auth.credential = { __typename: "CertificateOAuthCredentialData", clientId: "c", certificate: null, url: "u" };
      },
      "bundles.data[0].defaultInstanceAuth.credential.certificate",
    ],
    ["a null id of an API definition", (app) => Object.assign(app.bundles?.[0]?.apis?.[0] ?? {}, { id: null }), "bundles.data[0].apiDefinitions.data[0].id"],
    ["a null targetURL", (app) => Object.assign(app.bundles?.[0]?.apis?.[0] ?? {}, { targetURL: null }), "bundles.data[0].apiDefinitions.data[0].targetURL"],
    ["auths that are not a list", (app) => Object.assign(app, { auths: { id: "x" } }), "auths"],
    [
      "headers that are not lists of strings",
      (app) => {
        const auth = app.bundles?.[0]?.defaultInstanceAuth;
        if (auth) auth.additionalHeaders = { "X-Tenant": "t1" };
      },
      "bundles.data[0].defaultInstanceAuth.additionalHeaders.X-Tenant",
    ],
    [
      "a JSONSchema that is an object",
      (app) => {
        const bundle = app.bundles?.[0];
        if (bundle) bundle.instanceAuthRequestInputSchema = { type: "object" };
      },
      "bundles.data[0].instanceAuthRequestInputSchema",
    ],
    [
      "a JSONSchema that is not JSON",
      (app) => {
        const bundle = app.bundles?.[0];
        if (bundle) bundle.instanceAuthRequestInputSchema = "{not json";
      },
      "bundles.data[0].instanceAuthRequestInputSchema",
    ],
  ];

  test.each(bad)("%s is a BAD_RESPONSE naming the application and the field", async (_name, spoil, fieldPath) => {
    const app = structuredClone(commerceMock);
    spoil(app);
    // graphql-js would refuse to serialize some of these; answer the raw JSON a broken server would send.
    const wire = rawAnswerFor(app);
    director.raw = () => json(200, wire);
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.BAD_RESPONSE);
    expect(error.retryable).toBe(true);
    expect(error.applicationId).toBe(commerceMock.id);
    expect(error.field).toBe(fieldPath);
    expect(error.message).toContain(commerceMock.id);
    expect(error.message).toContain(fieldPath);
  });

  test("messages name the field, never a value that may be secret", async () => {
    const app = structuredClone(commerceMock);
    const auth = app.bundles?.[0]?.defaultInstanceAuth;
    if (auth) auth.additionalHeaders = { Authorization: "Bearer s3cr3t-token" };
    director.raw = () => json(200, rawAnswerFor(app));
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId));
    expect(error.field).toBe("bundles.data[0].defaultInstanceAuth.additionalHeaders.Authorization");
    expect(error.message).not.toContain("s3cr3t");

    const unknown = structuredClone(commerceMock);
    const unknownAuth = unknown.bundles?.[0]?.defaultInstanceAuth;
    if (unknownAuth) unknownAuth.credential = { __typename: "SAMLCredentialData", assertion: "x" };
    director.raw = () => json(200, rawAnswerFor(unknown));
    const typename = await failure(client().listApplicationsForRuntime(director.runtimeId));
    expect(typename.message).toContain("SAMLCredentialData");
  });

  test("a page whose data is null is a BAD_RESPONSE", async () => {
    director.raw = () =>
      json(200, { data: { result: { data: null, totalCount: 0, pageInfo: { startCursor: "", endCursor: "", hasNextPage: false } } } });
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.BAD_RESPONSE);
    expect(error.field).toBe("applicationsForRuntime.data");
  });

  test("hasNextPage without an endCursor is a BAD_RESPONSE", async () => {
    director.raw = () =>
      json(200, { data: { result: { data: [], totalCount: 3, pageInfo: { startCursor: "", endCursor: "", hasNextPage: true } } } });
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.BAD_RESPONSE);
  });
});

/** The JSON the fake would answer for one application, with the spoiled values copied in verbatim. */
function rawAnswerFor(app: FakeApplication): unknown {
  const bundles = (app.bundles ?? []).map((b) => ({
    id: b.id,
    name: b.name,
    description: b.description ?? null,
    instanceAuthRequestInputSchema: b.instanceAuthRequestInputSchema ?? null,
    defaultInstanceAuth: b.defaultInstanceAuth
      ? {
          credential: b.defaultInstanceAuth.credential ?? null,
          additionalHeaders: b.defaultInstanceAuth.additionalHeaders ?? null,
          additionalQueryParams: b.defaultInstanceAuth.additionalQueryParams ?? null,
          requestAuth: b.defaultInstanceAuth.requestAuth ?? null,
        }
      : null,
    apiDefinitions: page(b.apis ?? []),
    eventDefinitions: page(b.events ?? []),
  }));
  return {
    data: {
      result: {
        data: [
          {
            id: app.id,
            name: app.name,
            systemNumber: null,
            providerName: app.providerName ?? null,
            description: app.description ?? null,
            labels: app.labels ?? null,
            auths: app.auths ?? [],
            bundles: page(bundles),
          },
        ],
        totalCount: 1,
        pageInfo: { startCursor: "", endCursor: "", hasNextPage: false },
      },
    },
  };
}

function page<T>(data: T[]): { data: T[]; totalCount: number; pageInfo: { startCursor: string; endCursor: string; hasNextPage: boolean } } {
  return { data, totalCount: data.length, pageInfo: { startCursor: "", endCursor: "", hasNextPage: false } };
}

describe("listApplicationsForRuntime: paging", () => {
  test("follows cursors across many pages, in id order, and counts requests and bytes", async () => {
    director.applications = apps(250).reverse();
    const listing = await client().listApplicationsForRuntime(director.runtimeId, { pageSize: 7 });
    expect(listing.applications.map((a) => a.id)).toEqual(apps(250).map((a) => a.id));
    expect(listing.totalCount).toBe(250);
    expect(listing.stats).toMatchObject({ requests: 36, applicationPages: 36, nestedPages: 0, attempts: 1 });
    const sent = director.requests.map((r) => r.variables["after"]);
    expect(sent.slice(0, 3)).toEqual([null, encodeCursor(7), encodeCursor(14)]);
    expect(listing.stats.bytesReceived).toBeGreaterThan(250 * 50);
  });

  test("property: any set of applications, any page size: exactly the Director's list, in id order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.uuid(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        async (ids, pageSize) => {
          director.reset();
          director.applications = ids.map((id, i) => ({ id, name: `mp-app-${i}`, bundles: [{ id: `${id}-b`, name: "b" }] }));
          const listing = await client().listApplicationsForRuntime(director.runtimeId, { pageSize });
          expect(listing.applications.map((a) => a.id)).toEqual([...ids].sort());
          expect(listing.stats.applicationPages).toBe(Math.max(1, Math.ceil(ids.length / pageSize)));
          expect(listing.stats.attempts).toBe(1);
        },
      ),
      { numRuns: 30 },
    );
  });

  test("characters of several bytes arrive intact, wherever the answer's chunks split them", async () => {
    // 150 descriptions of 3-byte and 4-byte characters: an answer of about 150 KB, read in many chunks.
    const description = (i: number) => `Grüße ${i} 日本語 ✓ 🚀 `.repeat(40);
    director.applications = apps(150).map((a, i) => ({ ...a, description: description(i) }));
    const listing = await client().listApplicationsForRuntime(director.runtimeId, { pageSize: 150 });
    expect(listing.stats.bytesReceived).toBeGreaterThan(100_000);
    expect(listing.applications.map((a) => a.description)).toEqual(director.applications.map((_, i) => description(i)));
  });

  test("the default page size is 50 and an empty list is one request", async () => {
    const listing = await client().listApplicationsForRuntime(director.runtimeId);
    expect(listing).toMatchObject({ applications: [], totalCount: 0 });
    expect(director.requests).toHaveLength(1);
    expect(director.requests[0]?.variables["first"]).toBe(50);
  });

  test("page sizes outside 1..200 are refused before any request", async () => {
    for (const pageSize of [0, 201, 1.5]) {
      const error = await failure(client().listApplicationsForRuntime(director.runtimeId, { pageSize }));
      expect(error.code).toBe(DirectorErrorCode.INVALID_ARGUMENT);
    }
    expect(director.requests).toHaveLength(0);
  });

  test("fetches further pages of bundles, API definitions and event definitions", async () => {
    const bigBundle = {
      id: fakeId("c0000000", 0),
      name: "big",
      apis: Array.from({ length: 250 }, (_, i) => ({ id: fakeId("d0000000", i), name: `api-${i}`, targetURL: `https://x/${i}` })),
      events: Array.from({ length: 401 }, (_, i) => ({ id: fakeId("e0000000", i), name: `event-${i}` })),
    };
    const manyBundles = Array.from({ length: 205 }, (_, i) => ({ id: fakeId("c1000000", i), name: `b-${i}` }));
    director.applications = [
      ...apps(3),
      { id: fakeId("a1000000", 0), name: "mp-big", bundles: [bigBundle] },
      { id: fakeId("a2000000", 0), name: "mp-many", bundles: manyBundles },
    ];
    const listing = await client().listApplicationsForRuntime(director.runtimeId, { pageSize: 2 });
    const big = listing.applications.find((a) => a.name === "mp-big");
    expect(big?.bundles[0]?.apiDefinitions.map((a) => a.id)).toEqual(bigBundle.apis.map((a) => a.id));
    expect(big?.bundles[0]?.eventDefinitions.map((e) => e.id)).toEqual(bigBundle.events.map((e) => e.id));
    const many = listing.applications.find((a) => a.name === "mp-many");
    expect(many?.bundles.map((b) => b.id)).toEqual(manyBundles.map((b) => b.id));
    // 3 application pages; 1 more API page, 2 more event pages, 1 more bundle page.
    expect(listing.stats).toMatchObject({ applicationPages: 3, nestedPages: 4, requests: 7, attempts: 1 });
    const apiPages = director.operations("BundleApiDefinitionsPage");
    expect(apiPages).toHaveLength(1);
    expect(apiPages[0]?.variables).toMatchObject({
      first: 2,
      after: encodeCursor(2),
      bundleId: bigBundle.id,
      apisFirst: 200,
      apisAfter: encodeCursor(200),
    });
    expect(director.operations("BundleEventDefinitionsPage").map((r) => r.variables["eventsAfter"])).toEqual([
      encodeCursor(200),
      encodeCursor(400),
    ]);
    expect(director.operations("ApplicationBundlesPage")[0]?.variables).toMatchObject({ bundlesAfter: encodeCursor(200) });
  });

  test("an application inserted while paging is detected and the listing starts over once", async () => {
    director.applications = apps(10);
    let inserted = false;
    director.beforeExecute = (index) => {
      if (index === 1 && !inserted) {
        inserted = true;
        director.applications.push({ id: fakeId("00000000", 1), name: "mp-early" });
      }
    };
    const listing = await client().listApplicationsForRuntime(director.runtimeId, { pageSize: 4 });
    expect(listing.applications).toHaveLength(11);
    expect(listing.applications[0]?.name).toBe("mp-early");
    expect(listing.stats.attempts).toBe(2);
    expect(listing.stats.restartReason).toMatch(/totalCount changed from 10 to 11/);
    expect(new Set(listing.applications.map((a) => a.id)).size).toBe(11);
  });

  test("pages that keep shifting fail with DIRECTOR_INCONSISTENT_PAGING, never a partial list", async () => {
    director.applications = apps(10);
    director.beforeExecute = (index) => {
      if (index % 3 === 1) director.applications.push({ id: fakeId("00000000", index), name: `mp-early-${index}` });
    };
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId, { pageSize: 4 }));
    expect(error.code).toBe(DirectorErrorCode.INCONSISTENT_PAGING);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/twice in a row/);
  });

  test("a deletion and an insertion that keep totalCount but repeat an item are detected", async () => {
    director.applications = apps(6);
    director.beforeExecute = (index) => {
      if (index === 1) {
        director.applications.pop();
        director.applications.push({ id: fakeId("00000000", 1), name: "mp-x" });
      }
    };
    const listing = await client().listApplicationsForRuntime(director.runtimeId, { pageSize: 3 });
    expect(listing.stats.attempts).toBe(2);
    expect(listing.stats.restartReason).toMatch(/came twice/);
    expect(listing.applications.map((a) => a.name)).toEqual(["mp-x", "mp-app-0", "mp-app-1", "mp-app-2", "mp-app-3", "mp-app-4"]);
  });

  test.each([2, 40])("an id twice within the only page of a list (%i items) is detected, and the message names the list", async (count) => {
    const api = (n: number) => ({ id: fakeId("a1000000", n), name: `api-${n}`, targetURL: "https://x.example.com", version: null });
    const apis = [...Array.from({ length: count - 1 }, (_, n) => api(n)), api(0)];
    director.applications = [{ id: fakeId("00000000", 1), name: "mp-twice", bundles: [{ id: fakeId("b0000000", 1), name: "b", apis }] }];
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.INCONSISTENT_PAGING);
    expect(error.message).toContain(`API definitions of bundle ${fakeId("b0000000", 1)} of application ${fakeId("00000000", 1)}: ${api(0).id} came twice`);
  });

  test("a cursor loop is detected", async () => {
    director.raw = () =>
      json(200, {
        data: {
          result: {
            data: [{ id: fakeId("a0000000", 1), name: "mp-a", labels: {}, auths: [], bundles: null }],
            totalCount: 5,
            pageInfo: { startCursor: "", endCursor: encodeCursor(1), hasNextPage: true },
          },
        },
      });
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId, { pageSize: 1 }));
    expect(error.code).toBe(DirectorErrorCode.INCONSISTENT_PAGING);
    expect(error.message).toMatch(/came twice|cursor loop/);
    expect(director.requests.length).toBeLessThanOrEqual(4);
  });

  test("an endCursor that repeats the cursor sent is a loop", async () => {
    let n = 0;
    director.raw = () =>
      json(200, {
        data: {
          result: {
            data: [{ id: fakeId("a0000000", n++), name: "mp-a", labels: {}, auths: [], bundles: null }],
            totalCount: 50,
            pageInfo: { startCursor: "", endCursor: "c", hasNextPage: true },
          },
        },
      });
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId, { pageSize: 1 }));
    expect(error.code).toBe(DirectorErrorCode.INCONSISTENT_PAGING);
    expect(error.message).toMatch(/cursor loop/);
  });

  test("a final count different from totalCount is detected", async () => {
    director.raw = () =>
      json(200, {
        data: {
          result: {
            data: [{ id: fakeId("a0000000", 1), name: "mp-a", labels: {}, auths: [], bundles: null }],
            totalCount: 2,
            pageInfo: { startCursor: "", endCursor: "", hasNextPage: false },
          },
        },
      });
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.INCONSISTENT_PAGING);
    expect(error.message).toMatch(/1 of 2/);
  });

  test("an application that disappears while its nested pages are read is detected", async () => {
    const bundle = {
      id: fakeId("c0000000", 0),
      name: "big",
      apis: Array.from({ length: 201 }, (_, i) => ({ id: fakeId("d0000000", i), name: `api-${i}`, targetURL: "https://x" })),
    };
    director.applications = [{ id: fakeId("a0000000", 0), name: "mp-big", bundles: [bundle] }, ...apps(2, "a1000000")];
    let removed = false;
    director.beforeExecute = (_index, request) => {
      if (request.operationName === "BundleApiDefinitionsPage" && !removed) {
        removed = true;
        director.applications.push({ id: fakeId("00000000", 0), name: "mp-first" });
      }
    };
    const listing = await client().listApplicationsForRuntime(director.runtimeId, { pageSize: 2 });
    expect(listing.stats.attempts).toBe(2);
    expect(listing.stats.restartReason).toMatch(/totalCount changed from 3 to 4 while nested pages/);
    expect(listing.applications.find((a) => a.name === "mp-big")?.bundles[0]?.apiDefinitions).toHaveLength(201);
  });
});

describe("errors", () => {
  const cases: [string, RawHandler, DirectorErrorCode, boolean][] = [
    ["200 {}", json(200, {}), DirectorErrorCode.BAD_RESPONSE, true],
    ["200 non-JSON", (_q, _b, res) => res.writeHead(200, { "content-type": "application/json" }).end("<html>"), DirectorErrorCode.BAD_RESPONSE, true],
    ["200 without Content-Type and non-JSON", (_q, _b, res) => res.writeHead(200).end("oops"), DirectorErrorCode.BAD_RESPONSE, true],
    ["HTTP 401", (_q, _b, res) => res.writeHead(401).end("no"), DirectorErrorCode.AUTH_FAILED, false],
    ["HTTP 403", json(403, { errors: [{ message: "forbidden" }] }), DirectorErrorCode.AUTH_FAILED, false],
    ["HTTP 422", json(422, { errors: [{ message: "Cannot query field", extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }], data: null }), DirectorErrorCode.QUERY_REJECTED, false],
    ["HTTP 429", (_q, _b, res) => res.writeHead(429, { "x-local-rate-limit": "true" }).end("local_rate_limited"), DirectorErrorCode.RATE_LIMITED, true],
    ["HTTP 502", (_q, _b, res) => res.writeHead(502).end("upstream connect error"), DirectorErrorCode.UNAVAILABLE, true],
    ["HTTP 503 with JSON errors", json(503, { errors: [{ message: "x", extensions: { error_code: 22 } }] }), DirectorErrorCode.UNAVAILABLE, true],
    ["HTTP 400 without a code", json(400, { errors: [{ message: "missing bearer token" }], data: null }), DirectorErrorCode.REJECTED, false],
    ["HTTP 404", (_q, _b, res) => res.writeHead(404).end("not found"), DirectorErrorCode.REJECTED, false],
    ["connection reset", (req) => req.socket.destroy(), DirectorErrorCode.UNAVAILABLE, true],
  ];

  test.each(cases)("%s maps to its code", async (_name, handler, code, retryable) => {
    director.raw = () => handler;
    const error = await failure(client().getRuntimeLabels(director.runtimeId, { requestId: "rid-e" }));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.operation).toBe("getRuntimeLabels");
    expect(error.requestId).toBe("rid-e");
  });

  const compassCodes: [number, string, DirectorErrorCode, boolean][] = [
    [10, "Internal Server Error [errorID=1]", DirectorErrorCode.INTERNAL, true],
    [11, "Unknown error", DirectorErrorCode.INTERNAL, true],
    [20, "Object not found", DirectorErrorCode.NOT_FOUND, false],
    [22, "Invalid data LabelInput [key=must be in a valid format]", DirectorErrorCode.INVALID_DATA, false],
    [23, "insufficient scopes provided [actual=; required=runtime:read]", DirectorErrorCode.AUTH_FAILED, false],
    [25, "Tenant not found [externalTenant=x]", DirectorErrorCode.TENANT_NOT_FOUND, false],
    [27, "Invalid operation", DirectorErrorCode.REJECTED, false],
    [32, "Concurrent operation", DirectorErrorCode.CONFLICT, true],
    [22, "Invalid data [reason=runtime does not exist]", DirectorErrorCode.RUNTIME_NOT_FOUND, false],
    [10, "Internal Server Error [errorID=1, reason: Runtime with ID x doesn't exist]", DirectorErrorCode.RUNTIME_NOT_FOUND, false],
  ];

  test.each(compassCodes)("Compass error_code %i (%s) maps to its code", async (compassCode, message, code, retryable) => {
    director.raw = () =>
      json(200, { errors: [{ message, path: ["result"], extensions: { error: "X", error_code: compassCode } }], data: null });
    const error = await failure(client().setRuntimeLabel(director.runtimeId, "runtime_consoleUrl", "https://console.kyma.local"));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.compassErrorCode).toBe(compassCode);
    expect(error.graphqlErrors[0]).toMatchObject({ message, path: ["result"], code: compassCode });
    expect(error.message).toContain(message);
  });

  // Real Director answers: parse and validation errors are HTTP 422 in its error presenter's shape, an undecodable
  // body HTTP 400 with InternalError 10. Either way a retry of the same request cannot help.
  test.each([
    [422, "Internal Server Error [errorID=417630b2-60ea-457f-b1db-3377de2c9aee, reason: input:1: Expected Name, found <EOF>]"],
    [422, 'Internal Server Error [errorID=5d1e2b3c-0000-4000-8000-000000000000, reason: input:1: Cannot query field "nonexistentField" on type "Runtime".]'],
    [400, "Internal Server Error [errorID=052cbff8-06f8-4fd9-9ccc-4e3017aa2373, reason: input: json request body could not be decoded: invalid character 'r' looking for beginning of value body:runtime labels, please]"],
  ])("HTTP %i with InternalError 10 is DIRECTOR_QUERY_REJECTED", async (status, message) => {
    director.raw = () => json(status, { errors: [{ message, extensions: { error: "InternalError", error_code: 10 } }], data: null });
    const error = await failure(client().getRuntimeLabels(director.runtimeId));
    expect(error).toMatchObject({ code: DirectorErrorCode.QUERY_REJECTED, status, compassErrorCode: 10, retryable: false });
    expect(error.message).toContain(message);
    expect(error.message).toContain("could not read this client's request");
  });

  test("429 carries Retry-After in milliseconds", async () => {
    director.raw = () => json(429, {}, { "retry-after": "7" });
    const error = await failure(client().getRuntimeLabels(director.runtimeId));
    expect(error).toMatchObject({ code: DirectorErrorCode.RATE_LIMITED, status: 429, retryAfterMs: 7000 });
  });

  test("partial errors are not accepted: data with errors[] fails", async () => {
    director.raw = () =>
      json(200, {
        errors: [{ message: "Internal Server Error [errorID=2]", path: ["runtime", "labels"], extensions: { error: "InternalError", error_code: 10 } }],
        data: { runtime: { id: director.runtimeId, labels: null } },
      });
    const error = await failure(client().getRuntimeLabels(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.INTERNAL);
    expect(error.message).toContain("partial");
    expect(error.message).toContain("runtime.labels");
  });

  test("a partial error inside a nested list fails the whole listing", async () => {
    director.applications = [commerceMock];
    director.raw = () =>
      json(200, {
        errors: [{ message: "page size must be between 1 and 200", path: ["result", "data", 0, "bundles"], extensions: { error: "InvalidData", error_code: 22 } }],
        data: { result: { data: [{ id: commerceMock.id, name: "mp-a", labels: {}, auths: [], bundles: null }], totalCount: 1, pageInfo: { startCursor: "", endCursor: "", hasNextPage: false } } },
      });
    const error = await failure(client().listApplicationsForRuntime(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.INVALID_DATA);
  });

  test("with several errors the one a retry cannot fix decides", async () => {
    director.raw = () =>
      json(200, {
        errors: [
          { message: "Internal Server Error", extensions: { error_code: 10 } },
          { message: "insufficient scopes provided", extensions: { error_code: 23 } },
        ],
        data: null,
      });
    const error = await failure(client().getRuntimeLabels(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.AUTH_FAILED);
    expect(error.compassErrorCode).toBe(23);
  });

  test("a slow answer times out", async () => {
    director.raw = () => (_req, _body, res) => setTimeout(() => res.writeHead(200).end("{}"), 2_000).unref();
    const error = await failure(client({ timeoutMs: 150 }).getRuntimeLabels(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.TIMEOUT);
    expect(error.retryable).toBe(true);
  });

  test("the caller's AbortSignal aborts a listing", async () => {
    director.applications = apps(5);
    director.raw = (index) => (index === 1 ? (_req, _body, res) => setTimeout(() => res.writeHead(200).end("{}"), 2_000).unref() : undefined);
    const controller = new AbortController();
    const pending = client().listApplicationsForRuntime(director.runtimeId, { signal: controller.signal, pageSize: 2 });
    setTimeout(() => controller.abort(), 100);
    const error = await failure(pending);
    expect(error.code).toBe(DirectorErrorCode.ABORTED);
    expect(error.retryable).toBe(false);
  });

  test("an untrusted server certificate is a TLS failure", async () => {
    const error = await failure(client({ tls: {} }).getRuntimeLabels(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.TLS_FAILED);
    expect(error.retryable).toBe(false);
  });

  test("a refused port is unavailable", async () => {
    const error = await failure(new DirectorClient({ url: "https://127.0.0.1:1/director/graphql" }).getRuntimeLabels("x"));
    expect(error.code).toBe(DirectorErrorCode.UNAVAILABLE);
  });

  test("an answer above maxResponseBytes is refused", async () => {
    director.applications = apps(50);
    const error = await failure(client({ maxResponseBytes: 1000 }).listApplicationsForRuntime(director.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.BAD_RESPONSE);
    expect(error.message).toContain("larger than 1000 bytes");
  });
});

describe("runtime label mutations", () => {
  test("setRuntimeLabel sends variables and returns the stored label", async () => {
    const label = await client().setRuntimeLabel(director.runtimeId, "runtime_eventServiceUrl", "https://gateway.kyma.local");
    expect(label).toEqual({ key: "runtime_eventServiceUrl", value: "https://gateway.kyma.local" });
    expect(director.runtimeLabels?.["runtime_eventServiceUrl"]).toBe("https://gateway.kyma.local");
    expect(director.requests[0]?.variables).toEqual({
      runtimeId: director.runtimeId,
      key: "runtime_eventServiceUrl",
      value: "https://gateway.kyma.local",
    });
  });

  test("non-string values round-trip", async () => {
    const label = await client().setRuntimeLabel(director.runtimeId, "flags", { a: [1, true] });
    expect(label.value).toEqual({ a: [1, true] });
  });

  test("invalid keys and null values are refused before any request", async () => {
    for (const key of ["runtime.url", "", "a".repeat(257)]) {
      const error = await failure(client().setRuntimeLabel(director.runtimeId, key, "v"));
      expect(error.code).toBe(DirectorErrorCode.INVALID_ARGUMENT);
    }
    const error = await failure(client().setRuntimeLabel(director.runtimeId, "k", null));
    expect(error.code).toBe(DirectorErrorCode.INVALID_ARGUMENT);
    expect(director.requests).toHaveLength(0);
  });

  test("setRuntimeLabel on an unknown runtime is DIRECTOR_RUNTIME_NOT_FOUND", async () => {
    const error = await failure(client().setRuntimeLabel("11111111-0000-4000-8000-000000000000", "k", "v"));
    expect(error.code).toBe(DirectorErrorCode.RUNTIME_NOT_FOUND);
  });

  test("deleteRuntimeLabel returns the removed label; a missing key is NOT_FOUND", async () => {
    director.runtimeLabels = { isNormalized: "true", runtime_consoleUrl: "https://c" };
    await expect(client().deleteRuntimeLabel(director.runtimeId, "runtime_consoleUrl")).resolves.toEqual({
      key: "runtime_consoleUrl",
      value: "https://c",
    });
    const error = await failure(client().deleteRuntimeLabel(director.runtimeId, "runtime_consoleUrl"));
    expect(error.code).toBe(DirectorErrorCode.NOT_FOUND);
  });

  test("a null label value in the answer is a bad response", async () => {
    director.raw = () => json(200, { data: { result: { key: "k", value: null } } });
    const error = await failure(client().setRuntimeLabel(director.runtimeId, "k", "v"));
    expect(error.code).toBe(DirectorErrorCode.BAD_RESPONSE);
  });
});
