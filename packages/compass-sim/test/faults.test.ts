// Fault injection through the admin API, seen by plain node:https clients.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { startCompassSimulator, type CompassSimulator } from "../src/index.js";
import { directorCall } from "./support/director.js";
import { pair, type PairedRuntime } from "./support/pairing.js";
import { CONFIGURATION_QUERY, graphqlCall, httpCall, tempDir } from "./support/tools.js";

let sim: CompassSimulator;
let serverCa: string;
let dir: { path: string; remove: () => Promise<void> };
let rt: PairedRuntime;

beforeAll(async () => {
  sim = await startCompassSimulator({});
  serverCa = await readFile(sim.serverCaFile, "utf8");
  dir = await tempDir();
  rt = await pair(sim, serverCa, dir.path);
});

afterAll(async () => {
  await sim?.close();
  await dir?.remove();
});

beforeEach(async () => {
  await admin("DELETE", "/admin/faults");
});

const admin = (method: string, path: string, body?: unknown) =>
  httpCall(new URL(path, sim.adminUrl).toString(), {
    method,
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });

const LABELS = "query RuntimeLabels($id: ID!) { runtime(id: $id) { id } }";
const labels = () => directorCall(sim, serverCa, rt, LABELS, { variables: { id: rt.runtimeId }, operationName: "RuntimeLabels" });
const apps = () =>
  directorCall(sim, serverCa, rt, "query Apps($id: ID!) { result: applicationsForRuntime(runtimeID: $id) { totalCount } }", {
    variables: { id: rt.runtimeId },
  });
const ok = { data: { runtime: { id: "" } } };

describe("fault rules", () => {
  beforeAll(() => {
    ok.data.runtime.id = rt.runtimeId;
  });

  test("status: an Envoy-style text answer for the next `times` calls, then normal answers", async () => {
    const rule = await admin("POST", "/admin/faults", { target: "director", status: 503, times: 2 });
    expect(rule.status).toBe(200);
    expect(rule.json).toEqual({ id: expect.stringMatching(/^fault-\d+$/), target: "director", status: 503, times: 2, remaining: 2 });
    const first = await labels();
    expect(first.status).toBe(503);
    expect(first.headers["content-type"]).toBe("text/plain");
    expect(first.text).toBe("no healthy upstream");
    expect((await admin("GET", "/admin/state")).json.faultRules).toEqual([{ ...rule.json, remaining: 1 }]);
    expect((await labels()).status).toBe(503);
    expect((await admin("GET", "/admin/faults")).json).toEqual({ faultRules: [] });
    expect((await labels()).json).toEqual(ok);
    const logged = sim.state.requestLog.filter((entry) => entry.fault !== undefined).slice(-2);
    expect(logged.map((entry) => [entry.status, entry.fault])).toEqual([
      [503, `${rule.json.id}: status 503`],
      [503, `${rule.json.id}: status 503`],
    ]);
  });

  test("rules are consumed in the order they were added", async () => {
    await admin("POST", "/admin/faults", { target: "director", status: 502, times: 1 });
    await admin("POST", "/admin/faults", { target: "director", status: 504, times: 1 });
    const a = await labels();
    const b = await labels();
    expect([a.status, b.status]).toEqual([502, 504]);
    expect(a.text).toMatch(/^upstream connect error/);
    expect(b.text).toBe("upstream request timeout");
    expect((await labels()).status).toBe(200);
  });

  test("operation matches the operationName or a root field; other calls pass", async () => {
    await admin("POST", "/admin/faults", { target: "director", operation: "applicationsForRuntime", status: 500, times: 1 });
    await admin("POST", "/admin/faults", { target: "director", operation: "RuntimeLabels", status: 501, times: 1 });
    expect((await apps()).status).toBe(500);
    expect((await apps()).status).toBe(200);
    expect((await labels()).status).toBe(501);
    expect((await labels()).status).toBe(200);
  });

  test("the target is respected: a director rule leaves the Connector alone and vice versa", async () => {
    await admin("POST", "/admin/faults", { target: "connector", status: 503, times: 1 });
    expect((await labels()).status).toBe(200);
    const runtime = sim.createRuntime({ name: "connector-fault" });
    const { token } = sim.issueToken(runtime.id);
    const faulted = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca: serverCa, token });
    expect(faulted.status).toBe(503);
    // The gateway answered: the one-time token was not burned and still works.
    const retried = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca: serverCa, token });
    expect(retried.json.data.result.token.token).toMatch(/==$/);
  });

  test("delayMs: waits, then answers normally", async () => {
    await admin("POST", "/admin/faults", { target: "director", delayMs: 400, times: 1 });
    const start = performance.now();
    expect((await labels()).json).toEqual(ok);
    expect(performance.now() - start).toBeGreaterThanOrEqual(380);
  });

  test("delayMs with a status: waits, then fails", async () => {
    await admin("POST", "/admin/faults", { target: "director", delayMs: 200, status: 503, times: 1 });
    const start = performance.now();
    expect((await labels()).status).toBe(503);
    expect(performance.now() - start).toBeGreaterThanOrEqual(180);
  });

  test("reset: the connection closes without an answer", async () => {
    await admin("POST", "/admin/faults", { target: "director", reset: true, times: 1 });
    const error = await labels().then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(error?.code ?? error?.message).toMatch(/ECONNRESET|socket hang up/);
    expect((await labels()).json).toEqual(ok);
  });

  test("emptyJson: 200 {}", async () => {
    await admin("POST", "/admin/faults", { target: "director", emptyJson: true, times: 1 });
    const res = await labels();
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.text).toBe("{}");
  });

  test.each([
    [{ rateLimit: true, retryAfter: 7 }, "7"],
    [{ status: 429 }, "1"],
  ])("rate limit %j: 429 local_rate_limited with x-local-rate-limit and Retry-After", async (rule, retryAfter) => {
    await admin("POST", "/admin/faults", { target: "director", times: 1, ...rule });
    const res = await labels();
    expect(res.status).toBe(429);
    expect(res.text).toBe("local_rate_limited");
    expect(res.headers["x-local-rate-limit"]).toBe("true");
    expect(res.headers["retry-after"]).toBe(retryAfter);
  });

  test("times defaults to 1; DELETE /admin/faults clears and counts", async () => {
    await admin("POST", "/admin/faults", { target: "director", status: 503 });
    await admin("POST", "/admin/faults", { target: "connector", status: 503, times: 5 });
    expect((await admin("GET", "/admin/faults")).json.faultRules.map((r: { remaining: number }) => r.remaining)).toEqual([1, 5]);
    expect((await admin("DELETE", "/admin/faults")).json).toEqual({ cleared: 2 });
    expect((await labels()).status).toBe(200);
  });

  test.each([
    [{ status: 503 }, '"target" must be "connector" or "director"'],
    [{ target: "director" }, 'a fault rule needs "status", "delayMs", "reset", "emptyJson" or "rateLimit"'],
    [{ target: "director", status: 700 }, '"status" must be an HTTP status 100-599'],
    [{ target: "director", status: 503, reset: true }, "give at most one of"],
    [{ target: "director", status: 503, times: 0 }, '"times" must be an integer ≥ 1'],
    [{ target: "director", delayMs: -1 }, '"delayMs" must be an integer ≥ 0'],
    [{ target: "director", reset: "yes" }, '"reset" must be a boolean'],
    [{ target: "director", operation: "", status: 500 }, '"operation" must be a non-empty string'],
  ])("POST /admin/faults %j → 400", async (body, message) => {
    const res = await admin("POST", "/admin/faults", body);
    expect(res.status).toBe(400);
    expect(res.json.error).toContain(message);
  });
});
