// The Director client over HTTP/2, which undici negotiates by ALPN with real Compass's ingress: answers that span
// many frames, and the error answers of real Compass.
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";
import { DirectorClient, DirectorErrorCode } from "../src/index.js";
import { failure } from "./support/failure.js";
import { FakeDirector, fakeId, json } from "./support/fake-director.js";

const director = new FakeDirector("h2");
let client: DirectorClient;
const TENANT = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";

beforeAll(async () => {
  await director.start();
  client = new DirectorClient({ url: director.url, tls: { caPem: director.tls.caPem }, tenant: TENANT });
});
afterAll(async () => {
  await client.close();
  await director.stop();
});
beforeEach(() => director.reset());

test("a listing of many pages with nested pages, over h2", async () => {
  director.applications = Array.from({ length: 30 }, (_, i) => ({
    id: fakeId("a0000000", i),
    name: `mp-app-${i}`,
    bundles: [{ id: fakeId("b0000000", i), name: "b", apis: Array.from({ length: 201 }, (_, j) => ({ id: fakeId("c0000000", i * 1000 + j), name: `api-${j}`, targetURL: "https://x" })) }],
  }));
  const listing = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 20 });
  expect(listing.applications).toHaveLength(30);
  expect(listing.applications.every((a) => a.bundles[0]?.apiDefinitions.length === 201)).toBe(true);
  expect(listing.stats).toMatchObject({ applicationPages: 2, nestedPages: 30 });
  expect(new Set(director.requests.map((r) => r.httpVersion))).toEqual(new Set(["2.0"]));
});

test("401 code 26, 400 TenantNotFound, 503 with Retry-After, a reset connection, then success on the same client", async () => {
  director.tenant = TENANT;
  director.revoked = true;
  expect(await failure(client.getRuntimeLabels(director.runtimeId))).toMatchObject({ code: DirectorErrorCode.AUTH_FAILED, status: 401, tenantHeader: TENANT });
  director.revoked = false;

  const other = new DirectorClient({ url: director.url, tls: { caPem: director.tls.caPem }, tenant: "1eba80dd-8ff6-54ee-be4d-77944d17b10b" });
  director.otherTenants = ["1eba80dd-8ff6-54ee-be4d-77944d17b10b"];
  expect(await failure(other.getRuntimeLabels(director.runtimeId))).toMatchObject({ code: DirectorErrorCode.TENANT_NOT_FOUND, status: 400 });
  await other.close();

  director.raw = () => json(503, {}, { "retry-after": "2" });
  expect(await failure(client.getRuntimeLabels(director.runtimeId))).toMatchObject({ code: DirectorErrorCode.UNAVAILABLE, retryAfterMs: 2000 });

  director.raw = () => (req) => req.socket.destroy();
  expect(await failure(client.getRuntimeLabels(director.runtimeId))).toMatchObject({ code: DirectorErrorCode.UNAVAILABLE, retryable: true });

  director.raw = undefined;
  await expect(client.getRuntimeLabels(director.runtimeId)).resolves.toEqual({ isNormalized: "true" });
});
