import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CertificateError } from "./errors.js";
import { shouldRenew, stableRandom, type RenewalInput } from "./renewal.js";

const NOW = new Date("2026-05-01T00:00:00Z");
const MIN = 60_000;
const HOUR = 60 * MIN;
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);

describe("shouldRenew: the Go agent's types_test cases", () => {
  const base = { now: NOW, threshold: 0.3, minimalSyncTimeMs: 10 * MIN };

  it("2000h certificate, fresh → no renewal", () => {
    const d = shouldRenew({ ...base, notBefore: NOW, notAfter: at(2000 * HOUR) });
    expect(d).toEqual({ renew: false, reason: "valid", renewAt: at(1400 * HOUR) });
  });

  it("notBefore = notAfter = now → renew", () => {
    expect(shouldRenew({ ...base, notBefore: NOW, notAfter: NOW }).renew).toBe(true);
  });

  it("valid since 1970, 3h left (under 30%) → renew by threshold", () => {
    const d = shouldRenew({ ...base, notBefore: new Date(0), notAfter: at(3 * HOUR) });
    expect(d.renew).toBe(true);
    expect(d.reason).toBe("threshold");
  });

  it("30m validity with minimal sync time 20m (under 2 × minSync) → renew", () => {
    const d = shouldRenew({ ...base, minimalSyncTimeMs: 20 * MIN, notBefore: NOW, notAfter: at(30 * MIN) });
    expect(d).toEqual({ renew: true, reason: "minimal-sync-time", renewAt: at(-10 * MIN) });
  });

  it("refreshCredentialsNow → renew (forced), renewAt = now", () => {
    const d = shouldRenew({ ...base, force: true, notBefore: NOW, notAfter: at(2000 * HOUR) });
    expect(d).toEqual({ renew: true, reason: "forced", renewAt: NOW });
  });
});

describe("shouldRenew: reasons, boundaries and due time", () => {
  const cert = { notBefore: at(-10 * HOUR), notAfter: at(90 * HOUR), minimalSyncTimeMs: MIN }; // validity 100h

  it("threshold boundary is strict, as in Go", () => {
    // 30% of 100h = 30h: renew when strictly less than 30h remain
    expect(shouldRenew({ ...cert, now: at(60 * HOUR) })).toEqual({
      renew: false,
      reason: "valid",
      renewAt: at(60 * HOUR),
    });
    expect(shouldRenew({ ...cert, now: at(60 * HOUR + 1) }).reason).toBe("threshold");
  });

  it("defaults the threshold to 0.3 and honours other thresholds", () => {
    expect(shouldRenew({ ...cert, now: at(59 * HOUR) }).renew).toBe(false);
    expect(shouldRenew({ ...cert, now: at(59 * HOUR), threshold: 0.5 }).renewAt).toEqual(at(40 * HOUR));
    expect(shouldRenew({ ...cert, now: at(41 * HOUR), threshold: 0.5 }).reason).toBe("threshold");
    expect(shouldRenew({ ...cert, now: at(89 * HOUR), threshold: 0 }).reason).toBe("valid");
    expect(shouldRenew({ ...cert, now: at(-10 * HOUR), threshold: 1 }).reason).toBe("valid"); // strict
    expect(shouldRenew({ ...cert, now: at(-10 * HOUR + 1), threshold: 1 }).reason).toBe("threshold");
  });

  it("reports expired certificates (also when notAfter < notBefore)", () => {
    expect(shouldRenew({ ...cert, now: at(90 * HOUR) }).reason).toBe("expired");
    expect(shouldRenew({ ...cert, now: at(100 * HOUR) })).toMatchObject({ renew: true, reason: "expired" });
    expect(shouldRenew({ notBefore: at(HOUR), notAfter: NOW, now: NOW, minimalSyncTimeMs: 0 }).reason).toBe(
      "expired",
    );
    expect(shouldRenew({ ...cert, now: at(100 * HOUR), force: true }).reason).toBe("forced");
  });

  it("renewAt is the latest of threshold and 2 × minimal sync time", () => {
    const d = shouldRenew({ ...cert, now: NOW, minimalSyncTimeMs: 20 * HOUR }); // 40h > 30h
    expect(d).toEqual({ renew: false, reason: "valid", renewAt: at(50 * HOUR) });
    expect(shouldRenew({ ...cert, now: at(51 * HOUR), minimalSyncTimeMs: 20 * HOUR }).reason).toBe(
      "minimal-sync-time",
    );
  });

  it("renew is true exactly when now is past renewAt (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 * HOUR }),
        fc.integer({ min: -100 * HOUR, max: 1_100 * HOUR }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100 * HOUR }),
        (validity, elapsed, threshold, minimalSyncTimeMs) => {
          const input: RenewalInput = {
            notBefore: NOW,
            notAfter: at(validity),
            now: at(elapsed),
            threshold,
            minimalSyncTimeMs,
          };
          const d = shouldRenew(input);
          expect(d.renew).toBe(d.reason !== "valid");
          if (d.reason !== "expired") expect(d.renew).toBe(input.now.getTime() > d.renewAt.getTime());
          expect(d.renewAt.getTime()).toBeLessThanOrEqual(input.notAfter.getTime());
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("shouldRenew: jitter", () => {
  const cert = { notBefore: NOW, notAfter: at(100 * HOUR), minimalSyncTimeMs: 0 };

  it("lowers the threshold by jitter × random() × validity", () => {
    expect(shouldRenew({ ...cert, now: NOW, jitter: 0.1, random: () => 0 }).renewAt).toEqual(at(70 * HOUR));
    expect(shouldRenew({ ...cert, now: NOW, jitter: 0.1, random: () => 0.5 }).renewAt).toEqual(at(75 * HOUR));
    expect(shouldRenew({ ...cert, now: at(72 * HOUR), jitter: 0.1, random: () => 0.5 }).renew).toBe(false);
    expect(shouldRenew({ ...cert, now: at(76 * HOUR), jitter: 0.1, random: () => 0.5 }).reason).toBe(
      "threshold",
    );
    expect(shouldRenew({ ...cert, now: NOW, threshold: 0.2, jitter: 1, random: () => 0.99 }).renewAt).toEqual(
      at(100 * HOUR),
    );
  });

  it("needs an injected random() and checks its range", () => {
    expect(() => shouldRenew({ ...cert, now: NOW, jitter: 0.1 })).toThrow(/random/);
    expect(() => shouldRenew({ ...cert, now: NOW, jitter: 0.1, random: () => 2 })).toThrow(CertificateError);
    expect(shouldRenew({ ...cert, now: NOW, jitter: 0 }).renewAt).toEqual(at(70 * HOUR));
  });

  it("stableRandom gives the same value in [0, 1) per seed, different across seeds", () => {
    const a = stableRandom("aa".repeat(32));
    expect(a()).toBe(a());
    expect(stableRandom("aa".repeat(32))()).toBe(a());
    expect(stableRandom("bb".repeat(32))()).not.toBe(a());
    fc.assert(
      fc.property(fc.string(), (seed) => {
        const v = stableRandom(seed)();
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThan(1);
      }),
    );
  });
});

describe("shouldRenew: invalid input", () => {
  const ok = { notBefore: NOW, notAfter: at(HOUR), now: NOW, minimalSyncTimeMs: 0 };
  it.each([
    ["now", { now: new Date(Number.NaN) }],
    ["notBefore", { notBefore: "2026-01-01" as unknown as Date }],
    ["notAfter", { notAfter: new Date("x") }],
    ["threshold", { threshold: 1.5 }],
    ["threshold", { threshold: -0.1 }],
    ["jitter", { jitter: 2 }],
    ["minimalSyncTimeMs", { minimalSyncTimeMs: -1 }],
    ["minimalSyncTimeMs", { minimalSyncTimeMs: Number.POSITIVE_INFINITY }],
  ])("rejects a bad %s with CERT_INVALID_ARGUMENT", (name, patch) => {
    let caught: unknown;
    try {
      shouldRenew({ ...ok, ...patch });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CertificateError);
    expect((caught as CertificateError).code).toBe("CERT_INVALID_ARGUMENT");
    expect((caught as CertificateError).message).toContain(name);
  });
});
