// The admin HTTP API (plain HTTP, JSON), as external tools use it.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_TENANT, startCompassSimulator, type CompassSimulator } from "../src/index.js";
import { pair } from "./support/pairing.js";
import { CONFIGURATION_QUERY, expectRefused, graphqlCall, httpCall, tempDir } from "./support/tools.js";

let sim: CompassSimulator;
let serverCa: string;
let dir: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  sim = await startCompassSimulator({ tokenTtl: 600 });
  serverCa = await readFile(sim.serverCaFile, "utf8");
  dir = await tempDir();
});

afterAll(async () => {
  await sim?.close();
  await dir?.remove();
});

const admin = (method: string, path: string, body?: unknown) =>
  httpCall(new URL(path, sim.adminUrl).toString(), {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) }),
  });

describe("admin API", () => {
  test("POST /admin/runtimes creates a runtime in the default tenant", async () => {
    const res = await admin("POST", "/admin/runtimes", { name: "my-runtime" });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), tenant: DEFAULT_TENANT, name: "my-runtime" });
    const runtime = sim.state.runtimes.get(res.json.id)!;
    expect(Object.fromEntries(runtime.labels)).toEqual({ isNormalized: "true", runtimeType: "kyma" });
    expect(runtime.status.condition).toBe("INITIAL");
  });

  test("POST /admin/runtimes: runtimeType is set at registration (default kyma, another value, or null for none)", async () => {
    const other = (await admin("POST", "/admin/runtimes", { name: "t1", runtimeType: "edge" })).json;
    expect(sim.state.runtimes.get(other.id)!.labels.get("runtimeType")).toBe("edge");
    const none = (await admin("POST", "/admin/runtimes", { name: "t2", runtimeType: null })).json;
    expect(sim.state.runtimes.get(none.id)!.labels.has("runtimeType")).toBe(false);
    expect((await admin("POST", "/admin/runtimes", { name: "t3", runtimeType: 7 })).status).toBe(400);
  });

  test("POST /admin/runtimes with a tenant", async () => {
    const tenant = "11111111-2222-3333-4444-555555555555";
    const res = await admin("POST", "/admin/runtimes", { name: "other", tenant });
    expect(res.json.tenant).toBe(tenant);
    expect(sim.state.tenants.get(tenant)?.internalId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("POST /admin/runtimes/{id}/tokens issues a token that works on the connector URL", async () => {
    const { json: runtime } = await admin("POST", "/admin/runtimes", { name: "tokens" });
    const res = await admin("POST", `/admin/runtimes/${runtime.id}/tokens`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      token: expect.stringMatching(/^[A-Za-z0-9_-]{86}==$/),
      connectorURL: sim.connectorUrl,
      used: false,
      type: "Runtime",
      runtimeId: runtime.id,
    });
    expect(Date.parse(res.json.expiresAt) - Date.parse(res.json.createdAt)).toBe(600_000);
    const config = await graphqlCall(res.json.connectorURL, CONFIGURATION_QUERY, { ca: serverCa, token: res.json.token });
    expect(config.json.data.result.certificateSigningRequestInfo.subject).toContain(`CN=${res.json.systemAuthId}`);
  });

  test("token states are visible in /admin/state (used / expired)", async () => {
    const { json: runtime } = await admin("POST", "/admin/runtimes", { name: "states" });
    const used = (await admin("POST", `/admin/runtimes/${runtime.id}/tokens`)).json;
    await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca: serverCa, token: used.token });
    const state = (await admin("GET", "/admin/state")).json;
    const auth = state.systemAuths.find((s: { id: string }) => s.id === used.systemAuthId);
    // configuration regenerated the token on the same SystemAuth: the new one is unused.
    expect(auth.oneTimeToken).toMatchObject({ used: false, expired: false });
    expect(auth.oneTimeToken.token).not.toBe(used.token);
    expect(state.runtimes.map((r: { id: string }) => r.id)).toContain(runtime.id);
    expect(state.requestLog.some((e: { operations: string[] }) => e.operations.includes("configuration"))).toBe(true);
  });

  test("tokens for an unknown runtime: 404", async () => {
    const res = await admin("POST", "/admin/runtimes/6a0b9f7e-0000-4000-8000-000000000000/tokens");
    expect(res.status).toBe(404);
    expect(res.json.error).toMatch(/not found/);
  });

  test("a token for an existing SystemAuth regenerates it", async () => {
    const { json: runtime } = await admin("POST", "/admin/runtimes", { name: "regen" });
    const first = (await admin("POST", `/admin/runtimes/${runtime.id}/tokens`)).json;
    const second = (await admin("POST", `/admin/runtimes/${runtime.id}/tokens`, { systemAuthId: first.systemAuthId })).json;
    expect(second.systemAuthId).toBe(first.systemAuthId);
    const old = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca: serverCa, token: first.token });
    expectRefused(old);
  });

  test("POST /admin/revoke by fingerprint and by common name", async () => {
    const a = await pair(sim, serverCa, dir.path);
    const b = await pair(sim, serverCa, dir.path);
    const byFingerprint = await admin("POST", "/admin/revoke", { fingerprint: a.fingerprint });
    expect(byFingerprint.json).toEqual({ revoked: 1 });
    const byCn = await admin("POST", "/admin/revoke", { commonName: b.systemAuthId });
    expect(byCn.json).toEqual({ revoked: 1 });
    const state = (await admin("GET", "/admin/state")).json;
    const records = state.issuedCertificates.filter((c: { fingerprint: string }) =>
      [a.fingerprint, b.fingerprint].includes(c.fingerprint),
    );
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(record).toEqual({
        serial: expect.any(String),
        commonName: expect.any(String),
        subject: expect.stringContaining("CN="),
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
        notBefore: expect.any(String),
        notAfter: expect.any(String),
        issuedAt: expect.any(String),
        revoked: true,
        expired: false,
      });
    }
    expect(state.revokedFingerprints).toEqual(expect.arrayContaining([a.fingerprint, b.fingerprint]));
    for (const p of [a, b]) {
      const res = await graphqlCall(sim.certSecuredConnectorUrl, CONFIGURATION_QUERY, { ca: serverCa, cert: p.certPem, key: p.keyPem });
      expectRefused(res);
    }
  });

  test("POST /admin/tenants", async () => {
    const res = await admin("POST", "/admin/tenants", { externalId: "tenant-x", name: "X" });
    expect(res.json).toEqual({ externalId: "tenant-x", internalId: expect.any(String), name: "X" });
  });

  test("errors: invalid JSON 400, missing fields 400, bad fingerprint 400, wrong method 405, unknown route 404", async () => {
    const invalid = await admin("POST", "/admin/runtimes", "{nope");
    expect(invalid.status).toBe(400);
    expect(invalid.json.error).toMatch(/invalid JSON/);
    expect((await admin("POST", "/admin/runtimes", {})).status).toBe(400);
    expect((await admin("POST", "/admin/runtimes", [])).status).toBe(400);
    expect((await admin("POST", "/admin/clock", { advanceSeconds: -1 })).status).toBe(400);
    expect((await admin("POST", "/admin/clock", { advanceSeconds: "5" })).status).toBe(400);
    expect((await admin("POST", "/admin/revoke", { fingerprint: "abc" })).status).toBe(400);
    expect((await admin("POST", "/admin/revoke", {})).status).toBe(400);
    const wrongMethod = await admin("GET", "/admin/runtimes");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers["allow"]).toBe("POST");
    const unknown = await admin("GET", "/admin/nothing");
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: expect.any(String) });
    expect((await admin("POST", "/admin/runtimes", { name: "dup", id: "not-a-uuid" })).status).toBe(400);
  });

  test("GET /admin/healthz", async () => {
    expect((await admin("GET", "/admin/healthz")).json).toEqual({ status: "ok" });
  });
  // Last: it moves the simulator clock for everything after it.
  test("POST /admin/clock advances the clock; tokens expire", async () => {
    const { json: runtime } = await admin("POST", "/admin/runtimes", { name: "clock" });
    const token = (await admin("POST", `/admin/runtimes/${runtime.id}/tokens`)).json;
    const before = Date.parse((await admin("GET", "/admin/clock")).json.now);
    const res = await admin("POST", "/admin/clock", { advanceSeconds: 601 });
    expect(res.status).toBe(200);
    expect(Date.parse(res.json.now) - before).toBeGreaterThanOrEqual(601_000);
    const state = (await admin("GET", "/admin/state")).json;
    expect(state.systemAuths.find((s: { id: string }) => s.id === token.systemAuthId).oneTimeToken.expired).toBe(true);
    const config = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca: serverCa, token: token.token });
    expectRefused(config);
  });
});
