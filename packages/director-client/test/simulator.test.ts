// The real DirectorClient against the project's Compass simulator over mTLS, with a certificate from a real pairing
// (pairWithToken of @runtime-agent/connector-client). The simulator is driven in-process and through its admin API.
import { createDirector, startCompassSimulator } from "@runtime-agent/compass-sim";
import type { ApplicationInput, CompassSimulator, DirectorRequest } from "@runtime-agent/compass-sim";
import { clientCertificateOf, pairWithToken } from "@runtime-agent/connector-client";
import type { RuntimeCredentials } from "@runtime-agent/connector-client";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { DirectorClient, DirectorErrorCode } from "../src/index.js";
import { failure } from "./support/failure.js";
import type { DirectorClientOptions } from "../src/index.js";

const SLOW = 60_000;
const KEY_SIZE = 2048;
const OTHER_TENANT = "11111111-2222-3333-4444-555555555555";

let sim: CompassSimulator;
const clients: DirectorClient[] = [];
/**
 * Called (in this process) right before the simulated Director executes a request: a test changes Compass between
 * two pages of a listing exactly there, whatever the machine's speed.
 */
let beforeDirector: ((request: DirectorRequest) => void) | undefined;

beforeAll(async () => {
  sim = await startCompassSimulator({
    director: (environment) => {
      const director = createDirector(environment);
      return {
        handle(request) {
          beforeDirector?.(request);
          return director.handle(request);
        },
      };
    },
  });
  sim.state.ensureTenant(OTHER_TENANT);
}, SLOW);

afterEach(() => {
  beforeDirector = undefined;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim?.close();
});

interface Paired {
  runtimeId: string;
  credentials: RuntimeCredentials;
  client: (options?: Partial<DirectorClientOptions>) => DirectorClient;
}

/** A runtime in `formation`, paired through the Connector like an agent does. */
async function pairedRuntime(formation: string, labels: Record<string, string> = {}): Promise<Paired> {
  const runtime = sim.createRuntime({ name: `dc-${formation.toLowerCase()}`, formations: [formation], labels });
  const { token, connectorURL } = sim.issueToken(runtime.id);
  const credentials = await pairWithToken(connectorURL, token, { tls: { caPem: sim.serverCaPem }, keySize: KEY_SIZE });
  return {
    runtimeId: runtime.id,
    credentials,
    client: (options = {}) => {
      const c = new DirectorClient({
        url: credentials.configuration.directorUrl,
        tls: { caPem: sim.serverCaPem },
        clientCertificate: clientCertificateOf(credentials),
        ...options,
      });
      clients.push(c);
      return c;
    },
  };
}

/** UUIDs that sort by n. */
const id = (prefix: string, n: number) => `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(new URL(path, sim.adminUrl), {
    method,
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as unknown;
}

/**
 * Runs `act` right before the Director executes the `nth` (1-based) ApplicationsForRuntime page request for
 * `runtimeId`, for each `nth` given; `done()` tells how many ran.
 */
function beforePages(runtimeId: string, acts: Record<number, () => void>): { done(): number } {
  let pages = 0;
  let done = 0;
  beforeDirector = (request) => {
    if (request.body.operationName !== "ApplicationsForRuntime" || request.body.variables?.["runtimeId"] !== runtimeId) return;
    const act = acts[++pages];
    if (act) {
      act();
      done++;
    }
  };
  return { done: () => done };
}

describe("paging over 450 applications", { timeout: SLOW }, () => {
  let rt: Paired;
  const ids = Array.from({ length: 450 }, (_, i) => id("a1000000", (i * 7919) % 450));
  beforeAll(async () => {
    rt = await pairedRuntime("PAGING450");
    for (const [i, appId] of ids.entries()) sim.createApplication({ id: appId, name: `Paging App ${i}`, formations: ["PAGING450"] });
  }, SLOW);

  test.each([
    [100, 5],
    [undefined, 9],
    [200, 3],
    [7, 65],
  ])("pageSize %s: every application once, in id order, in %d requests", async (pageSize, requests) => {
    const listing = await rt.client().listApplicationsForRuntime(rt.runtimeId, pageSize === undefined ? {} : { pageSize });
    expect(listing.totalCount).toBe(450);
    expect(listing.applications.map((a) => a.id)).toEqual([...ids].sort());
    expect(listing.stats).toMatchObject({ requests, applicationPages: requests, nestedPages: 0, attempts: 1, restartReason: null });
    expect(listing.applications.every((a) => /^mp-paging-app-\d+$/.test(a.name))).toBe(true);
  });

  test("digest: equal for unchanged answers (any client), different once an application changed", async () => {
    const first = await rt.client().listApplicationsForRuntime(rt.runtimeId);
    const again = await rt.client().listApplicationsForRuntime(rt.runtimeId);
    expect(first.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(again.digest).toBe(first.digest);
    sim.updateApplication(ids[3]!, { description: "changed for the digest" });
    const changed = await rt.client().listApplicationsForRuntime(rt.runtimeId);
    expect(changed.digest).not.toBe(first.digest);
    expect(changed.applications.find((a) => a.id === ids[3])?.description).toBe("changed for the digest");
  });

  test("an application inserted while paging (smaller UUID) is noticed: the listing starts over once and succeeds", async () => {
    const formation = "INSERT-ONCE";
    const runtime = await pairedRuntime(formation);
    for (let i = 0; i < 450; i++) sim.createApplication({ id: id("b1000000", i + 1), name: `app ${i}`, formations: [formation] });
    // Inserted after the first page was answered, right before the second is executed.
    const inserted = id("b1000000", 0);
    const hook = beforePages(runtime.runtimeId, { 2: () => sim.createApplication({ id: inserted, name: "latecomer", formations: [formation] }) });
    const result = await runtime.client().listApplicationsForRuntime(runtime.runtimeId, { pageSize: 100 });
    expect(hook.done()).toBe(1);
    expect(result.stats.attempts).toBe(2);
    expect(result.stats.restartReason).toContain("totalCount changed from 450 to 451");
    expect(result.totalCount).toBe(451);
    expect(result.applications).toHaveLength(451);
    expect(result.applications[0]!.id).toBe(inserted);
    expect(new Set(result.applications.map((a) => a.id)).size).toBe(451);
    // 2 pages of the first attempt, 5 of the second.
    expect(result.stats.requests).toBe(7);
  });

  test("inserts during both attempts: DIRECTOR_INCONSISTENT_PAGING (retryable), never a partial list", async () => {
    const formation = "INSERT-TWICE";
    const runtime = await pairedRuntime(formation);
    for (let i = 0; i < 450; i++) sim.createApplication({ id: id("c1000000", i + 10), name: `app ${i}`, formations: [formation] });
    // Right before the second page of the first attempt (request 2), and of the second attempt (request 4: the
    // first attempt stops at its second page, which shows the change).
    const hook = beforePages(runtime.runtimeId, {
      2: () => sim.createApplication({ id: id("c1000000", 1), name: "first latecomer", formations: [formation] }),
      4: () => sim.createApplication({ id: id("c1000000", 2), name: "second latecomer", formations: [formation] }),
    });
    const error = await failure(runtime.client().listApplicationsForRuntime(runtime.runtimeId, { pageSize: 100 }));
    expect(hook.done()).toBe(2);
    expect(error.code).toBe(DirectorErrorCode.INCONSISTENT_PAGING);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("totalCount changed from 450 to 451");
    expect(error.message).toContain("totalCount changed from 451 to 452");
  });
});

describe("nested pages", { timeout: SLOW }, () => {
  test("a bundle with 250 API definitions and 210 events, an application with 203 bundles", async () => {
    const rt = await pairedRuntime("NESTED");
    const apis = Array.from({ length: 250 }, (_, i) => ({ id: id("d1000000", i), name: `api-${i}`, targetURL: `https://x/${i}` }));
    const events = Array.from({ length: 210 }, (_, i) => ({ id: id("d2000000", i), name: `event-${i}` }));
    sim.createApplication({
      id: id("d0000000", 1),
      name: "big bundle",
      formations: ["NESTED"],
      bundles: [{ id: id("d3000000", 1), name: "big", apiDefinitions: apis, eventDefinitions: events }],
    });
    sim.createApplication({
      id: id("d0000000", 2),
      name: "many bundles",
      formations: ["NESTED"],
      bundles: Array.from({ length: 203 }, (_, i) => ({ id: id("d4000000", i), name: `bundle-${i}` })),
    });
    const listing = await rt.client().listApplicationsForRuntime(rt.runtimeId);
    const [big, many] = listing.applications;
    expect(big!.bundles[0]!.apiDefinitions.map((a) => a.id)).toEqual(apis.map((a) => a.id));
    expect(big!.bundles[0]!.apiDefinitions[249]).toEqual({ id: apis[249]!.id, name: "api-249", description: null, targetUrl: "https://x/249", group: null, version: null });
    expect(big!.bundles[0]!.eventDefinitions.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(many!.bundles.map((b) => b.name)).toEqual(Array.from({ length: 203 }, (_, i) => `bundle-${i}`));
    // One extra page each: APIs 201-250, events 201-210, bundles 201-203.
    expect(listing.stats).toMatchObject({ applicationPages: 1, nestedPages: 3, requests: 4, attempts: 1 });
  });
});

describe("credentials through the client", { timeout: SLOW }, () => {
  test("OAuth with CSRF and request parameters, Basic, CertificateOAuth, CSRF with its own credential, none", async () => {
    const rt = await pairedRuntime("CREDS", { isNormalized: "false" });
    const app: ApplicationInput = {
      id: id("e0000000", 1),
      name: "Creds App",
      systemNumber: "77",
      providerName: "SAP",
      description: "all kinds",
      labels: { managed: "false" },
      formations: ["CREDS"],
      auths: [{ id: id("e9000000", 1) }],
      bundles: [
        {
          id: id("e1000000", 1),
          name: "oauth",
          instanceAuthRequestInputSchema: '{"type":"object"}',
          defaultInstanceAuth: {
            credential: { kind: "oauth", clientId: "cid", clientSecret: "csecret", url: "https://x/oauth/token" },
            additionalHeaders: { "X-A": ["1", "2"] },
            additionalQueryParams: { q: ["v"] },
            requestAuth: { csrf: { tokenEndpointURL: "https://x/csrf" } },
          },
          apiDefinitions: [{ id: id("e2000000", 1), name: "api", targetURL: "https://x/api", group: "g", version: { value: "v1", deprecated: false, forRemoval: true } }],
        },
        { id: id("e1000000", 2), name: "basic", defaultInstanceAuth: { credential: { kind: "basic", username: "user", password: "pass" } } },
        {
          id: id("e1000000", 3),
          name: "cert",
          defaultInstanceAuth: { credential: { kind: "certificateOAuth", clientId: "ccid", certificate: "-----BEGIN CERTIFICATE-----", url: "https://x/token" } },
        },
        {
          id: id("e1000000", 4),
          name: "csrf-own",
          defaultInstanceAuth: {
            requestAuth: { csrf: { tokenEndpointURL: "https://x/csrf2", credential: { kind: "basic", username: "cu", password: "cp" }, additionalHeaders: { h: ["v"] } } },
          },
        },
        { id: id("e1000000", 5), name: "none" },
      ],
    };
    sim.createApplication(app);
    const { applications } = await rt.client().listApplicationsForRuntime(rt.runtimeId);
    expect(applications).toHaveLength(1);
    const got = applications[0]!;
    expect(got).toMatchObject({
      id: app.id,
      name: "Creds App-77",
      systemNumber: "77",
      providerName: "SAP",
      description: "all kinds",
      labels: { managed: "false", scenarios: ["CREDS"] },
      systemAuthIds: [id("e9000000", 1)],
    });
    const byName = Object.fromEntries(got.bundles.map((b) => [b.name, b]));
    expect(byName["oauth"]).toEqual({
      id: id("e1000000", 1),
      name: "oauth",
      description: null,
      // Stored as PostgreSQL JSON by real Compass: it comes back re-spaced.
      instanceAuthRequestInputSchema: '{"type": "object"}',
      apiDefinitions: [
        { id: id("e2000000", 1), name: "api", description: null, targetUrl: "https://x/api", group: "g", version: { value: "v1", deprecated: false, deprecatedSince: null, forRemoval: true } },
      ],
      eventDefinitions: [],
      defaultInstanceAuth: {
        credential: { type: "OAuth", clientId: "cid", clientSecret: "csecret", url: "https://x/oauth/token" },
        additionalHeaders: { "X-A": ["1", "2"] },
        additionalQueryParams: { q: ["v"] },
        csrf: { tokenEndpointUrl: "https://x/csrf", credential: null, additionalHeaders: null, additionalQueryParams: null },
      },
    });
    expect(byName["basic"]!.defaultInstanceAuth).toEqual({
      credential: { type: "Basic", username: "user", password: "pass" },
      additionalHeaders: null,
      additionalQueryParams: null,
      csrf: null,
    });
    expect(byName["cert"]!.defaultInstanceAuth!.credential).toEqual({
      type: "CertificateOAuth",
      clientId: "ccid",
      certificate: "-----BEGIN CERTIFICATE-----",
      url: "https://x/token",
    });
    expect(byName["csrf-own"]!.defaultInstanceAuth).toEqual({
      credential: null,
      additionalHeaders: null,
      additionalQueryParams: null,
      csrf: { tokenEndpointUrl: "https://x/csrf2", credential: { type: "Basic", username: "cu", password: "cp" }, additionalHeaders: { h: ["v"] }, additionalQueryParams: null },
    });
    expect(byName["none"]!.defaultInstanceAuth).toBeNull();
  });
});

describe("faults mapped to error codes", { timeout: SLOW }, () => {
  let rt: Paired;
  beforeAll(async () => {
    rt = await pairedRuntime("FAULTS");
    sim.createApplication({ name: "one", formations: ["FAULTS"] });
  }, SLOW);

  const fault = (rule: Record<string, unknown>) => admin("POST", "/admin/faults", { target: "director", times: 1, ...rule });

  test.each([
    [{ status: 503 }, DirectorErrorCode.UNAVAILABLE, 503],
    [{ status: 502 }, DirectorErrorCode.UNAVAILABLE, 502],
    [{ status: 504 }, DirectorErrorCode.UNAVAILABLE, 504],
    [{ emptyJson: true }, DirectorErrorCode.BAD_RESPONSE, undefined],
    [{ status: 401 }, DirectorErrorCode.AUTH_FAILED, 401],
  ])("%j → %s", async (rule, code, status) => {
    await fault(rule);
    const error = await failure(rt.client().listApplicationsForRuntime(rt.runtimeId));
    expect(error.code).toBe(code);
    if (status !== undefined) expect(error.status).toBe(status);
    // One fault, one failed call: the next call goes through.
    expect((await rt.client().listApplicationsForRuntime(rt.runtimeId)).totalCount).toBe(1);
  });

  test("reset → DIRECTOR_UNAVAILABLE (retryable)", async () => {
    await fault({ reset: true });
    const error = await failure(rt.client().getRuntimeLabels(rt.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.UNAVAILABLE);
    expect(error.retryable).toBe(true);
  });

  test("429 with Retry-After → DIRECTOR_RATE_LIMITED with retryAfterMs", async () => {
    await fault({ rateLimit: true, retryAfter: 7 });
    const error = await failure(rt.client().getRuntimeLabels(rt.runtimeId));
    expect(error).toMatchObject({ code: DirectorErrorCode.RATE_LIMITED, status: 429, retryAfterMs: 7000, retryable: true });
  });

  test("a delay longer than the client's timeout → DIRECTOR_TIMEOUT", async () => {
    await fault({ delayMs: 1500 });
    const answered = () => sim.state.requestLog.filter((r) => r.fault?.includes("delay 1500 ms")).length;
    const before = answered();
    const error = await failure(rt.client({ timeoutMs: 300 }).getRuntimeLabels(rt.runtimeId));
    expect(error.code).toBe(DirectorErrorCode.TIMEOUT);
    expect(error.retryable).toBe(true);
    // The client gave up on its own timer: the simulator had not answered yet (it logs a request when it answers).
    expect(answered()).toBe(before);
  });

  test("a fault on one operation name only hits that operation", async () => {
    await fault({ operation: "RuntimeLabels", status: 503 });
    const client = rt.client();
    expect((await client.listApplicationsForRuntime(rt.runtimeId)).totalCount).toBe(1);
    expect((await failure(client.getRuntimeLabels(rt.runtimeId))).code).toBe(DirectorErrorCode.UNAVAILABLE);
  });
});

describe("labels, tenant and identity", { timeout: SLOW }, () => {
  let rt: Paired;
  beforeAll(async () => {
    rt = await pairedRuntime("LABELS");
  }, SLOW);

  // As from real Compass: scenarios from the formation, runtimeType from the provisioner; useBundles only after a
  // request that mentions bundles, which RuntimeLabels does not.
  const compassLabels = { isNormalized: "true", runtimeType: "kyma", scenarios: ["LABELS"] };

  test("the first call sets the runtime CONNECTED; labels come back without protected keys", async () => {
    expect(sim.state.runtimes.get(rt.runtimeId)!.status.condition).toBe("INITIAL");
    sim.state.runtimes.get(rt.runtimeId)!.labels.set("x_defaultEventing", "true");
    expect(await rt.client().getRuntimeLabels(rt.runtimeId)).toEqual(compassLabels);
    expect(sim.state.runtimes.get(rt.runtimeId)!.status.condition).toBe("CONNECTED");
  });

  test("set (upsert), read back, delete; deleting again is DIRECTOR_NOT_FOUND", async () => {
    const client = rt.client();
    expect(await client.setRuntimeLabel(rt.runtimeId, "runtime_eventServiceUrl", "https://gateway.kyma.local")).toEqual({
      key: "runtime_eventServiceUrl",
      value: "https://gateway.kyma.local",
    });
    expect(await client.setRuntimeLabel(rt.runtimeId, "runtime_consoleUrl", { url: "https://console", ports: [443] })).toEqual({
      key: "runtime_consoleUrl",
      value: { url: "https://console", ports: [443] },
    });
    expect(await client.getRuntimeLabels(rt.runtimeId)).toEqual({
      ...compassLabels,
      runtime_eventServiceUrl: "https://gateway.kyma.local",
      runtime_consoleUrl: { url: "https://console", ports: [443] },
    });
    expect(await client.deleteRuntimeLabel(rt.runtimeId, "runtime_consoleUrl")).toEqual({
      key: "runtime_consoleUrl",
      value: { url: "https://console", ports: [443] },
    });
    expect(sim.state.runtimes.get(rt.runtimeId)!.labels.has("runtime_consoleUrl")).toBe(false);
    expect((await failure(client.deleteRuntimeLabel(rt.runtimeId, "runtime_consoleUrl"))).code).toBe(DirectorErrorCode.NOT_FOUND);
  });

  test("labels Compass refuses: protected and immutable keys (INVALID_DATA), scenarios (INTERNAL_ERROR)", async () => {
    const client = rt.client();
    expect((await failure(client.setRuntimeLabel(rt.runtimeId, "app_defaultEventing", "x"))).code).toBe(DirectorErrorCode.INVALID_DATA);
    expect((await failure(client.setRuntimeLabel(rt.runtimeId, "runtimeType", "x"))).code).toBe(DirectorErrorCode.INVALID_DATA);
    const scenarios = await failure(client.setRuntimeLabel(rt.runtimeId, "scenarios", ["A"]));
    expect(scenarios).toMatchObject({ code: DirectorErrorCode.INTERNAL, compassErrorCode: 10 });
  });

  test("a runtime the Director does not know: DIRECTOR_RUNTIME_NOT_FOUND for labels, listing and label mutations", async () => {
    const client = rt.client();
    const missing = id("f0000000", 1);
    expect((await failure(client.getRuntimeLabels(missing))).code).toBe(DirectorErrorCode.RUNTIME_NOT_FOUND);
    expect((await failure(client.listApplicationsForRuntime(missing))).code).toBe(DirectorErrorCode.RUNTIME_NOT_FOUND);
    expect((await failure(client.setRuntimeLabel(missing, "a", "b"))).code).toBe(DirectorErrorCode.RUNTIME_NOT_FOUND);
  });

  test("Tenant header: its own tenant works, another existing one is DIRECTOR_TENANT_NOT_FOUND, an unknown one DIRECTOR_AUTH_FAILED", async () => {
    expect(await rt.client({ tenant: sim.state.runtimes.get(rt.runtimeId)!.tenant }).getRuntimeLabels(rt.runtimeId)).toMatchObject({ isNormalized: "true" });
    const other = await failure(rt.client({ tenant: OTHER_TENANT }).listApplicationsForRuntime(rt.runtimeId));
    expect(other).toMatchObject({ code: DirectorErrorCode.TENANT_NOT_FOUND, status: 400, retryable: false, compassErrorCode: 25, tenantHeader: OTHER_TENANT });
    expect(other.message).toContain(`Tenant not found [externalTenant=${OTHER_TENANT}]`);
    // Real Compass: a Tenant header naming no tenant it knows is HTTP 401 code 26, like a revoked certificate.
    const unknownTenant = "99999999-9999-4999-8999-999999999999";
    const unknown = await failure(rt.client({ tenant: unknownTenant }).listApplicationsForRuntime(rt.runtimeId));
    expect(unknown).toMatchObject({ code: DirectorErrorCode.AUTH_FAILED, status: 401, retryable: false, compassErrorCode: 26, tenantHeader: unknownTenant });
    expect(unknown.message).toContain("Unauthorized [reason=consumer with type <nil> is not supported]");
    expect(unknown.message).toContain(`the Tenant header "${unknownTenant}" is not a tenant Compass knows`);
  });

  test("a revoked certificate: DIRECTOR_AUTH_FAILED (HTTP 401 code 26)", async () => {
    const revoked = await pairedRuntime("REVOKED");
    sim.revoke(revoked.credentials.certificate.fingerprintSha256);
    const error = await failure(revoked.client().listApplicationsForRuntime(revoked.runtimeId));
    expect(error).toMatchObject({ code: DirectorErrorCode.AUTH_FAILED, status: 401, compassErrorCode: 26, retryable: false, tenantHeader: undefined });
    expect(error.message).toContain("client certificate is revoked or unknown");
  });
});
