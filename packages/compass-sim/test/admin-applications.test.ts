// Admin routes for applications, formations and hide selectors (the interface external checks use).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_TENANT, startCompassSimulator, type CompassSimulator } from "../src/index.js";
import { httpCall } from "./support/tools.js";

let sim: CompassSimulator;

beforeAll(async () => {
  sim = await startCompassSimulator({});
});

afterAll(async () => {
  await sim?.close();
});

const admin = (method: string, path: string, body?: unknown) =>
  httpCall(new URL(path, sim.adminUrl).toString(), {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) }),
  });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const full = {
  name: "Commerce",
  description: "d",
  providerName: "SAP",
  systemNumber: "42",
  labels: { region: "eu" },
  bundles: [
    {
      name: "oauth",
      description: "b",
      instanceAuthRequestInputSchema: { type: "object" },
      apiDefinitions: [{ name: "api", targetURL: "https://x/api", group: "g", version: "v1", spec: { type: "OPEN_API", format: "JSON", data: "{}" } }],
      eventDefinitions: [{ name: "ev", description: "e", version: { value: "v2", deprecated: true } }],
      defaultInstanceAuth: {
        credential: { clientId: "id", clientSecret: "secret", url: "https://x/token" },
        additionalHeaders: { h: ["1", "2"], single: "3" },
        additionalQueryParams: { q: ["v"] },
        requestAuth: { csrf: { tokenEndpointURL: "https://x/csrf", credential: { username: "u", password: "p" } } },
      },
    },
    { name: "basic", defaultInstanceAuth: { credential: { basic: { username: "u", password: "p" } } } },
    { name: "cert", defaultInstanceAuth: { credential: { certificateOAuth: { clientId: "c", certificate: "PEM", url: "https://x" } } } },
  ],
};

describe("POST/GET/PATCH/DELETE /admin/applications", () => {
  test("POST answers {id} with a random UUID; GET shows the stored application with its bundles", async () => {
    const res = await admin("POST", "/admin/applications", full);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id: expect.stringMatching(UUID) });
    const app = (await admin("GET", `/admin/applications/${res.json.id}`)).json;
    expect(app).toMatchObject({
      id: res.json.id,
      tenant: DEFAULT_TENANT,
      name: "Commerce",
      systemNumber: "42",
      // name and managed are added at registration, as the Director does.
      labels: { region: "eu", name: "mp-commerce", managed: "false" },
      status: { condition: "INITIAL" },
      auths: [],
    });
    expect(app.bundles).toHaveLength(3);
    const oauth = app.bundles.find((b: { name: string }) => b.name === "oauth");
    expect(oauth).toMatchObject({
      id: expect.stringMatching(UUID),
      // Stored as PostgreSQL jsonb prints it.
      instanceAuthRequestInputSchema: '{"type": "object"}',
      defaultInstanceAuth: {
        credential: { kind: "oauth", clientId: "id", clientSecret: "secret", url: "https://x/token" },
        additionalHeaders: { h: ["1", "2"], single: ["3"] },
        requestAuth: { csrf: { tokenEndpointURL: "https://x/csrf", credential: { kind: "basic", username: "u", password: "p" } } },
      },
      apiDefinitions: [{ id: expect.stringMatching(UUID), name: "api", targetURL: "https://x/api", group: "g", version: { value: "v1", deprecated: false, forRemoval: false }, spec: { id: expect.stringMatching(UUID), type: "OPEN_API", format: "JSON", data: "{}" } }],
      eventDefinitions: [{ id: expect.stringMatching(UUID), name: "ev", description: "e", version: { value: "v2", deprecated: true, forRemoval: false } }],
    });
    const kinds = app.bundles.map((b: { defaultInstanceAuth: { credential: { kind: string } } }) => b.defaultInstanceAuth.credential.kind).sort();
    expect(kinds).toEqual(["basic", "certificateOAuth", "oauth"]);
    // Bundles are kept in id order (Compass pages them ORDER BY id).
    const ids = app.bundles.map((b: { id: string }) => b.id);
    expect(ids).toEqual([...ids].sort());
    const listed = (await admin("GET", "/admin/applications")).json.applications;
    expect(listed.map((a: { id: string }) => a.id)).toContain(res.json.id);
    const state = (await admin("GET", "/admin/state")).json;
    expect(state.applications.find((a: { id: string }) => a.id === res.json.id).bundles).toHaveLength(3);
  });

  test("explicit ids (upper case is normalized), tenants and SystemAuths", async () => {
    const body = {
      id: "AAAAAAAA-0000-4000-8000-000000000001",
      name: "explicit",
      tenant: "22222222-0000-4000-8000-000000000000",
      auths: [{ id: "aaaaaaaa-0000-4000-8000-0000000000a1" }, "aaaaaaaa-0000-4000-8000-0000000000a2"],
      bundles: [
        {
          id: "aaaaaaaa-0000-4000-8000-0000000000b1",
          name: "b",
          apiDefinitions: [{ id: "aaaaaaaa-0000-4000-8000-0000000000c1", name: "a", targetURL: "https://x" }],
          eventDefinitions: [{ id: "aaaaaaaa-0000-4000-8000-0000000000d1", name: "e" }],
        },
      ],
    };
    expect((await admin("POST", "/admin/applications", body)).json).toEqual({ id: "aaaaaaaa-0000-4000-8000-000000000001" });
    const app = (await admin("GET", "/admin/applications/aaaaaaaa-0000-4000-8000-000000000001")).json;
    expect(app.tenant).toBe("22222222-0000-4000-8000-000000000000");
    expect(app.auths).toEqual([{ id: "aaaaaaaa-0000-4000-8000-0000000000a1" }, { id: "aaaaaaaa-0000-4000-8000-0000000000a2" }]);
    expect(sim.state.systemAuths.get("aaaaaaaa-0000-4000-8000-0000000000a1")).toMatchObject({ refType: "Application", refId: app.id });
    expect(sim.state.tenants.has("22222222-0000-4000-8000-000000000000")).toBe(true);
    expect((await admin("POST", "/admin/applications", body)).status).toBe(409);
    const reused = await admin("POST", "/admin/applications", { name: "x", bundles: [{ id: "aaaaaaaa-0000-4000-8000-0000000000b1", name: "dup" }] });
    expect(reused.status).toBe(409);
    expect(reused.json.error).toContain("already belongs to application");
  });

  test("PATCH replaces top-level fields and the bundle list; labels keep scenarios unless given", async () => {
    const { id } = (await admin("POST", "/admin/applications", { ...full, formations: ["F1"] })).json;
    const patched = await admin("PATCH", `/admin/applications/${id}`, {
      description: "new",
      labels: { only: "this" },
      bundles: [{ name: "replacement" }],
    });
    expect(patched.json).toEqual({ id });
    const app = (await admin("GET", `/admin/applications/${id}`)).json;
    expect(app).toMatchObject({ name: "Commerce", description: "new", systemNumber: "42" });
    expect(app.labels).toEqual({ only: "this", scenarios: ["F1"], name: "mp-commerce", managed: "false" });
    expect(app.bundles.map((b: { name: string }) => b.name)).toEqual(["replacement"]);
    expect((await admin("PATCH", `/admin/applications/${id}`, { formations: ["F2"], name: "Renamed" })).status).toBe(200);
    expect((await admin("GET", `/admin/applications/${id}`)).json).toMatchObject({ name: "Renamed", labels: { scenarios: ["F2"], name: "mp-renamed" } });
    expect((await admin("PATCH", `/admin/applications/${id}`, { tenant: "x" })).json.error).toBe("application.tenant cannot be changed");
    expect((await admin("PATCH", `/admin/applications/${id}`, { bundles: [{}] })).status).toBe(400);
    expect((await admin("GET", `/admin/applications/${id}`)).json.bundles.map((b: { name: string }) => b.name)).toEqual(["replacement"]);
  });

  test("DELETE of an application still in a formation: 409 with Compass's code-27 text; unassign, then delete", async () => {
    const { id } = (await admin("POST", "/admin/applications", { name: "Busy App", formations: ["F1", "F2"] })).json;
    const refused = await admin("DELETE", `/admin/applications/${id}`);
    expect(refused.status).toBe(409);
    expect(refused.json).toEqual({ error: "The operation is not allowed [reason=System Busy App is part of the following formations : F1, F2]" });
    expect(sim.state.applications.has(id)).toBe(true);
    await admin("POST", "/admin/formations/unassign", { formation: "F1", applicationId: id });
    expect((await admin("DELETE", `/admin/applications/${id}`)).json.error).toBe(
      "The operation is not allowed [reason=System Busy App is part of the following formations : F2]",
    );
    await admin("POST", "/admin/formations/unassign", { formation: "F2", applicationId: id });
    expect((await admin("GET", `/admin/applications/${id}`)).json.labels).not.toHaveProperty("scenarios");
    expect((await admin("DELETE", `/admin/applications/${id}`)).json).toEqual({ id });
    expect(sim.state.applications.has(id)).toBe(false);
  });

  test("DELETE removes the application; unknown ids answer 404", async () => {
    const { id } = (await admin("POST", "/admin/applications", { name: "gone", auths: [{}] })).json;
    const systemAuthId = sim.state.applications.get(id)!.systemAuthIds[0]!;
    expect((await admin("DELETE", `/admin/applications/${id}`)).json).toEqual({ id });
    expect((await admin("GET", `/admin/applications/${id}`)).status).toBe(404);
    expect(sim.state.systemAuths.has(systemAuthId)).toBe(false);
    expect((await admin("DELETE", `/admin/applications/${id}`)).status).toBe(404);
    expect((await admin("PATCH", `/admin/applications/${id}`, { name: "x" })).status).toBe(404);
  });

  test.each([
    [{}, "application.name is required"],
    [{ name: "" }, "application.name must be a non-empty string"],
    [{ name: "x", id: "nope" }, 'application.id must be a UUID, got "nope"'],
    [{ name: "x", labels: [] }, "application.labels must be an object"],
    [{ name: "x", labels: { scenarios: "A" } }, "application.labels.scenarios must be an array"],
    [{ name: "x", status: "BROKEN" }, "application.status must be one of"],
    [{ name: "x", bundles: {} }, "application.bundles must be an array"],
    [{ name: "x", bundles: [{ name: "b", apiDefinitions: [{ name: "a" }] }] }, "application.bundles[0].apiDefinitions[0].targetURL is required"],
    [{ name: "x", bundles: [{ name: "b", apiDefinitions: [{ name: "a", targetURL: "u", spec: { type: "ASYNC_API" } }] }] }, "spec.type must be one of ODATA, OPEN_API"],
    [{ name: "x", bundles: [{ name: "b", defaultInstanceAuth: { credential: { token: "t" } } }] }, "application.bundles[0].defaultInstanceAuth.credential must be"],
    [{ name: "x", bundles: [{ name: "b", defaultInstanceAuth: { credential: { username: "u" } } }] }, "credential.password is required"],
    [{ name: "x", bundles: [{ name: "b", defaultInstanceAuth: { additionalHeaders: { h: [1] } } }] }, "additionalHeaders.h must be a string or an array of strings"],
    [{ name: "x", bundles: [{ name: "b", instanceAuthRequestInputSchema: "{not json" }] }, "instanceAuthRequestInputSchema must be a JSON schema"],
    [{ name: "x", bundles: [{ name: "b", id: "aaaaaaaa-0000-4000-8000-0000000000e1" }, { name: "c", id: "aaaaaaaa-0000-4000-8000-0000000000e1" }] }, "is used twice"],
    ["[]", "request body must be a JSON object"],
    ["{", "invalid JSON"],
  ])("POST %j → 4xx with %s", async (body, message) => {
    const res = await admin("POST", "/admin/applications", body);
    expect([400, 409]).toContain(res.status);
    expect(res.json.error).toContain(message);
  });
});

describe("formations and hide selectors", () => {
  test("assigning a runtime or an application (formation created implicitly)", async () => {
    const runtime = (await admin("POST", "/admin/runtimes", { name: "r" })).json;
    const { id } = (await admin("POST", "/admin/applications", { name: "a" })).json;
    expect((await admin("POST", "/admin/formations/assign", { formation: "NEW", runtimeId: runtime.id })).json).toEqual({
      formation: "NEW",
      tenant: DEFAULT_TENANT,
      runtimeId: runtime.id,
    });
    expect((await admin("POST", "/admin/formations/assign", { formation: "NEW", applicationId: id })).json).toEqual({
      formation: "NEW",
      tenant: DEFAULT_TENANT,
      applicationId: id,
    });
    await admin("POST", "/admin/formations/assign", { formation: "NEW", applicationId: id });
    const state = (await admin("GET", "/admin/state")).json;
    expect(state.runtimes.find((r: { id: string }) => r.id === runtime.id).formations).toEqual(["NEW"]);
    expect(state.applications.find((a: { id: string }) => a.id === id).labels).toEqual({ managed: "false", name: "mp-a", scenarios: ["NEW"] });
    expect(state.runtimes.find((r: { id: string }) => r.id === runtime.id).labels).toEqual({ isNormalized: "true", runtimeType: "kyma", scenarios: ["NEW"] });
    expect(state.formations).toContainEqual({ name: "NEW", tenant: DEFAULT_TENANT });
    expect(sim.state.applicationsVisibleTo(sim.state.runtimes.get(runtime.id)!).map((a) => a.id)).toEqual([id]);
    await admin("POST", "/admin/formations/unassign", { formation: "NEW", applicationId: id });
    expect(sim.state.applicationsVisibleTo(sim.state.runtimes.get(runtime.id)!)).toEqual([]);
    // The label goes with the last formation.
    expect(sim.state.applications.get(id)!.labels.has("scenarios")).toBe(false);
  });

  test.each([
    [{ runtimeId: "x" }, 400, '"formation" is required'],
    [{ formation: "F" }, 400, 'give exactly one of "runtimeId" or "applicationId"'],
    [{ formation: "F", runtimeId: "a", applicationId: "b" }, 400, "give exactly one of"],
    [{ formation: "F", runtimeId: "6a0b9f7e-0000-4000-8000-000000000000" }, 404, "not found"],
    [{ formation: "F", applicationId: "6a0b9f7e-0000-4000-8000-000000000000" }, 404, "not found"],
  ])("assign %j → %d", async (body, status, message) => {
    const res = await admin("POST", "/admin/formations/assign", body);
    expect(res.status).toBe(status);
    expect(res.json.error).toContain(message);
  });

  test("PUT /admin/hide-selectors replaces the selectors", async () => {
    expect((await admin("PUT", "/admin/hide-selectors", { hide: ["true"] })).json).toEqual({ hideSelectors: { hide: ["true"] } });
    expect((await admin("GET", "/admin/state")).json.hideSelectors).toEqual({ hide: ["true"] });
    expect((await admin("PUT", "/admin/hide-selectors", { hide: "true" })).status).toBe(400);
    expect((await admin("PUT", "/admin/hide-selectors", {})).json).toEqual({ hideSelectors: {} });
  });
});
