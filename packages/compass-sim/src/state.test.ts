import { describe, expect, test } from "vitest";
import { SimClock } from "./clock.js";
import { CompassState, DEFAULT_TENANT, generateOneTimeToken, normalizeFingerprint, runtimeLabels, StateError } from "./state.js";

function setup(config = {}) {
  let real = Date.UTC(2026, 0, 1);
  const clock = new SimClock(() => real);
  const state = new CompassState(clock, config);
  return { clock, state, tick: (ms: number) => (real += ms) };
}

describe("one-time tokens", () => {
  test("format: 88 URL-safe base64 characters of 64 random bytes", () => {
    for (let i = 0; i < 50; i++) {
      const token = generateOneTimeToken();
      expect(token).toMatch(/^[A-Za-z0-9_-]{86}==$/);
      expect(Buffer.from(token, "base64url")).toHaveLength(64);
    }
  });

  test("issuing creates a new SystemAuth per call; the token is single use", () => {
    const { state } = setup();
    const runtime = state.createRuntime({ name: "rt" });
    const a = state.issueRuntimeToken(runtime.id);
    const b = state.issueRuntimeToken(runtime.id);
    expect(a.id).not.toBe(b.id);
    expect(a).toMatchObject({ tenant: DEFAULT_TENANT, refType: "Runtime", refId: runtime.id });
    const token = a.ott!.token;
    expect(state.consumeToken(token)).toEqual({ systemAuth: a });
    expect(a.ott).toMatchObject({ used: true, usedAt: expect.any(Date) });
    expect(state.consumeToken(token)).toEqual({ rejection: "used" });
  });

  test("expiry is inclusive of the last millisecond and follows the simulator clock", () => {
    const { state, clock } = setup({ runtimeTokenTtlSeconds: 60 });
    const runtime = state.createRuntime({ name: "rt" });
    const auth = state.issueRuntimeToken(runtime.id);
    clock.advance(60);
    expect(state.checkToken(auth.ott!.token)).toEqual({ systemAuth: auth });
    clock.advance(0.001);
    expect(state.consumeToken(auth.ott!.token)).toEqual({ rejection: "expired" });
    expect(auth.ott!.used).toBe(false);
  });

  test("regeneration replaces the token: the previous value stops matching", () => {
    const { state } = setup();
    const runtime = state.createRuntime({ name: "rt" });
    const auth = state.issueRuntimeToken(runtime.id);
    const first = auth.ott!.token;
    const second = state.regenerateToken(auth.id).token;
    expect(second).not.toBe(first);
    expect(state.checkToken(first)).toEqual({ rejection: "unknown" });
    expect(state.checkToken(second)).toEqual({ systemAuth: auth });
    expect(state.issueRuntimeToken(runtime.id, auth.id).id).toBe(auth.id);
    expect(state.checkToken(second)).toEqual({ rejection: "unknown" });
  });

  test("application tokens get the application TTL", () => {
    const { state } = setup({ applicationTokenTtlSeconds: 300 });
    const auth = state.createSystemAuth("Application", "app-1", DEFAULT_TENANT);
    const ott = state.regenerateToken(auth.id);
    expect(ott.type).toBe("Application");
    expect(ott.expiresAt.getTime() - ott.createdAt.getTime()).toBe(300_000);
  });

  test("unknown runtime or foreign SystemAuth", () => {
    const { state } = setup();
    expect(() => state.issueRuntimeToken("6a0b9f7e-0000-4000-8000-000000000000")).toThrow(StateError);
    const a = state.createRuntime({ name: "a" });
    const b = state.createRuntime({ name: "b" });
    const authA = state.issueRuntimeToken(a.id);
    expect(() => state.issueRuntimeToken(b.id, authA.id)).toThrow(/not found/);
  });

  test("the first certificate login clears the pending token", () => {
    const { state } = setup();
    const runtime = state.createRuntime({ name: "rt" });
    const auth = state.issueRuntimeToken(runtime.id);
    const token = auth.ott!.token;
    state.noteCertificateLogin(auth, auth.id);
    expect(auth.certCommonName).toBe(auth.id);
    expect(auth.ott).toBeUndefined();
    expect(state.checkToken(token)).toEqual({ rejection: "unknown" });
    const next = state.regenerateToken(auth.id);
    state.noteCertificateLogin(auth, auth.id);
    expect(auth.ott).toBe(next);
  });
});

describe("runtimes", () => {
  test("creation: default tenant, isNormalized and runtimeType labels, INITIAL status, formations", () => {
    const { state } = setup();
    const runtime = state.createRuntime({ name: "rt", labels: { a: 1 }, formations: ["DEFAULT"] });
    expect(runtime.tenant).toBe(DEFAULT_TENANT);
    expect(Object.fromEntries(runtime.labels)).toEqual({ isNormalized: "true", runtimeType: "kyma", a: 1 });
    // scenarios is never stored: Compass derives it from the formations (and drops it with the last one).
    expect(Object.fromEntries(runtimeLabels(runtime))).toEqual({ isNormalized: "true", runtimeType: "kyma", a: 1, scenarios: ["DEFAULT"] });
    expect(runtime.status.condition).toBe("INITIAL");
    expect([...runtime.formations]).toEqual(["DEFAULT"]);
    expect(state.formations.get(`${DEFAULT_TENANT}/DEFAULT`)).toEqual({ name: "DEFAULT", tenant: DEFAULT_TENANT });
    state.unassignFormation("DEFAULT", { runtimeId: runtime.id });
    expect(runtimeLabels(runtime).has("scenarios")).toBe(false);
    // runtimeType: another value, or none; a scenarios label in the input is read as formations.
    expect(state.createRuntime({ name: "edge", runtimeType: "edge" }).labels.get("runtimeType")).toBe("edge");
    expect(state.createRuntime({ name: "none", runtimeType: null }).labels.has("runtimeType")).toBe(false);
    const viaLabel = state.createRuntime({ name: "via-label", labels: { scenarios: ["X"] } });
    expect([...viaLabel.formations]).toEqual(["X"]);
    expect(viaLabel.labels.has("scenarios")).toBe(false);
  });

  test("validation", () => {
    const { state } = setup();
    expect(() => state.createRuntime({ name: "" })).toThrow(/name/);
    expect(() => state.createRuntime({ name: "x", id: "nope" })).toThrow(/UUID/);
    const runtime = state.createRuntime({ name: "x" });
    expect(() => state.createRuntime({ name: "y", id: runtime.id })).toThrow(/already exists/);
  });

  test("a new tenant is created on first use", () => {
    const { state } = setup();
    state.createRuntime({ name: "x", tenant: "t-1" });
    expect(state.tenants.get("t-1")?.internalId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("certificates and revocation", () => {
  const record = (commonName: string, fingerprint: string) => ({
    serialHex: "01",
    commonName,
    subject: `CN=${commonName}`,
    fingerprint,
    notBefore: new Date(0),
    notAfter: new Date(1),
    pem: "",
    issuedAt: new Date(0),
  });

  test("revoke by fingerprint (hex or openssl colon form) and by common name", () => {
    const { state } = setup();
    const f1 = "a".repeat(64);
    const f2 = "b".repeat(64);
    const f3 = "c".repeat(64);
    state.recordIssuedCertificate(record("cn-1", f1));
    state.recordIssuedCertificate(record("cn-2", f2));
    state.recordIssuedCertificate(record("cn-2", f3));
    expect(state.revokeFingerprint(f1.toUpperCase().replace(/(..)(?!$)/g, "$1:"))).toBe(true);
    expect(state.revokeFingerprint(f1)).toBe(false);
    expect(state.isRevoked(f1)).toBe(true);
    expect(state.revokeCommonName("cn-2")).toBe(2);
    expect(state.revokeCommonName("nobody")).toBe(0);
    expect(state.snapshot().issuedCertificates.map((c) => c.revoked)).toEqual([true, true, true]);
    expect(() => state.revokeFingerprint("xyz")).toThrow(StateError);
  });

  test("normalizeFingerprint", () => {
    expect(normalizeFingerprint("AB".repeat(32))).toBe("ab".repeat(32));
    expect(normalizeFingerprint("ab".repeat(31))).toBeUndefined();
  });
});

describe("request log", () => {
  test("keeps the newest entries up to the limit", () => {
    const { state } = setup({ requestLogLimit: 3 });
    for (let i = 0; i < 5; i++) {
      state.logRequest({ time: new Date(i), listener: "token", method: "POST", path: `/${i}`, operations: [], status: 200, errors: [] });
    }
    expect(state.requestLog.map((e) => e.path)).toEqual(["/2", "/3", "/4"]);
  });
});

describe("snapshot", () => {
  test("token states in the snapshot", () => {
    const { state, clock } = setup({ runtimeTokenTtlSeconds: 10 });
    const runtime = state.createRuntime({ name: "rt" });
    const used = state.issueRuntimeToken(runtime.id);
    state.consumeToken(used.ott!.token);
    const expired = state.issueRuntimeToken(runtime.id);
    clock.advance(11);
    const auths = state.snapshot().systemAuths;
    expect(auths.find((a) => a.id === used.id)?.oneTimeToken).toMatchObject({ used: true, usedAt: expect.any(String) });
    expect(auths.find((a) => a.id === expired.id)?.oneTimeToken).toMatchObject({ used: false, expired: true });
    expect(JSON.parse(JSON.stringify(state.snapshot())).runtimes[0].labels).toEqual({ isNormalized: "true", runtimeType: "kyma" });
  });
});

describe("SimClock", () => {
  test("advances from an injected base", () => {
    let base = 1000;
    const clock = new SimClock(() => base);
    expect(clock.now().getTime()).toBe(1000);
    expect(clock.advance(2).getTime()).toBe(3000);
    base = 2000;
    expect(clock.now().getTime()).toBe(4000);
    expect(clock.realTime().getTime()).toBe(2000);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
  });
});

describe("fault rules", () => {
  test("first matching rule with calls left wins; operation names are computed only when a rule needs them", () => {
    const { state } = setup();
    const a = state.addFaultRule({ target: "director", operation: "ApplicationsForRuntime", status: 503, times: 2 });
    const b = state.addFaultRule({ target: "director", status: 502 });
    state.addFaultRule({ target: "connector", reset: true });
    let asked = 0;
    const names = (...list: string[]) => () => {
      asked++;
      return list;
    };
    expect(state.takeFault("director", names("RuntimeLabels", "runtime"))?.id).toBe(b.id);
    expect(asked).toBe(1);
    expect(state.takeFault("director", names("ApplicationsForRuntime"))).toMatchObject({ id: a.id, remaining: 1 });
    expect(state.takeFault("director", names("applicationsForRuntime", "ApplicationsForRuntime"))).toMatchObject({ id: a.id, remaining: 0 });
    expect(state.takeFault("director", names("ApplicationsForRuntime"))).toBeUndefined();
    expect(state.faultRules.map((rule) => rule.target)).toEqual(["connector"]);
    const before = asked;
    expect(state.takeFault("connector", names())?.reset).toBe(true);
    expect(asked).toBe(before);
    expect(state.clearFaults()).toBe(0);
  });
});

describe("applications", () => {
  const app = (id: string, scenarios: string[], tenant = DEFAULT_TENANT) => ({
    id,
    tenant,
    name: id,
    labels: new Map<string, import("./state.js").JsonValue>([["scenarios", scenarios]]),
    status: { condition: "INITIAL" as const, timestamp: new Date() },
    createdAt: new Date(),
    updatedAt: new Date(),
    bundles: [],
    systemAuthIds: [],
  });

  test("kept in id order across inserts and deletions; visibility by formation and tenant", () => {
    const { state } = setup();
    const runtime = state.createRuntime({ name: "rt", formations: ["A"] });
    for (const id of ["c", "a", "d", "b"]) state.addApplication(app(`${id}0000000-0000-4000-8000-000000000000`, id === "d" ? ["B"] : ["A"]));
    state.addApplication(app("00000000-0000-4000-8000-000000000000", ["A"], "other-tenant"));
    expect(state.sortedApplications().map((a) => a.id[0])).toEqual(["0", "a", "b", "c", "d"]);
    expect(state.applicationsVisibleTo(runtime).map((a) => a.id[0])).toEqual(["a", "b", "c"]);
    // Still in formation A: refused with Compass's code-27 text until it is unassigned.
    expect(() => state.deleteApplication("b0000000-0000-4000-8000-000000000000")).toThrow(
      new StateError("The operation is not allowed [reason=System b0000000-0000-4000-8000-000000000000 is part of the following formations : A]", "InvalidOperation"),
    );
    state.unassignFormation("A", { applicationId: "b0000000-0000-4000-8000-000000000000" });
    state.deleteApplication("b0000000-0000-4000-8000-000000000000");
    state.assignFormation("B", { runtimeId: runtime.id });
    expect(state.applicationsVisibleTo(runtime).map((a) => a.id[0])).toEqual(["a", "c", "d"]);
    expect(() => state.addApplication(app("a0000000-0000-4000-8000-000000000000", []))).toThrow(StateError);
    expect(state.formations.has(`${DEFAULT_TENANT}/B`)).toBe(true);
  });

  test("markRuntimeConnected sets CONNECTED once", () => {
    const { state, tick } = setup();
    const runtime = state.createRuntime({ name: "rt" });
    tick(1000);
    state.markRuntimeConnected(runtime);
    const at = runtime.status.timestamp;
    tick(1000);
    state.markRuntimeConnected(runtime);
    expect(runtime.status).toEqual({ condition: "CONNECTED", timestamp: at });
  });
});
