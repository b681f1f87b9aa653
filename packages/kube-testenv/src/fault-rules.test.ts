import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KubeTestenvError } from "./errors.js";
import { requestMatches, RuleCounter, statusBody, validateRule, type FaultRule } from "./fault-rules.js";

const SECRETS = "/api/v1/namespaces/x/secrets";

describe("fault rules", () => {
  it("matches method (any when omitted or *) and a path prefix or RegExp over path and query", () => {
    expect(requestMatches({ method: "post", path: SECRETS }, "POST", `${SECRETS}`)).toBe(true);
    expect(requestMatches({ method: "POST", path: SECRETS }, "GET", SECRETS)).toBe(false);
    expect(requestMatches({ path: SECRETS }, "DELETE", `${SECRETS}/s1`)).toBe(true);
    expect(requestMatches({ method: "*", path: SECRETS }, "PUT", `${SECRETS}/s1`)).toBe(true);
    expect(requestMatches({ path: SECRETS }, "GET", "/api/v1/namespaces/y/secrets")).toBe(false);
    expect(requestMatches({ path: /[?&]watch=true/ }, "GET", `${SECRETS}?watch=true`)).toBe(true);
    expect(requestMatches({ path: /[?&]watch=true/ }, "GET", SECRETS)).toBe(false);
  });

  it("a global RegExp matches every time (no lastIndex state)", () => {
    const rule = { path: /secrets/g };
    expect([1, 2, 3].map(() => requestMatches(rule, "GET", SECRETS))).toEqual([true, true, true]);
  });

  it("applies to exactly the Nth matching request, or every one from the Nth on", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        fc.array(fc.boolean(), { maxLength: 30 }),
        (nth, every, stream) => {
          const c = new RuleCounter({ method: "POST", path: SECRETS, nth, every });
          let seen = 0;
          for (const isMatch of stream) {
            const applied = c.offer(isMatch ? "POST" : "GET", SECRETS);
            if (isMatch) seen++;
            expect(applied).toBe(isMatch && (every ? seen >= nth : seen === nth));
          }
          // A one-shot rule stops counting once spent.
          expect(c.matched).toBe(every ? seen : Math.min(seen, nth));
        },
      ),
    );
  });

  it("refuses rules that cannot work as written", () => {
    const bad: FaultRule[] = [
      { path: "api/v1" },
      { path: "/", nth: 0 },
      { path: "/", nth: 1.5 },
      { path: "/", fault: { kind: "status", status: 100 } },
      { path: "/", fault: { kind: "delay", ms: -1 } },
      { path: "/", fault: { kind: "explode" } as unknown as FaultRule["fault"] },
    ];
    for (const rule of bad) {
      expect(() => validateRule(rule)).toThrow(KubeTestenvError);
      expect(() => validateRule(rule)).toThrow(expect.objectContaining({ code: "USAGE" }));
    }
    expect(() =>
      validateRule({ path: "/", nth: 3, every: true, fault: { kind: "status", status: 503 } }),
    ).not.toThrow();
  });

  it("builds the Status object the API server would send", () => {
    expect(statusBody(500)).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "InternalError",
      code: 500,
    });
    expect(statusBody(503)).toMatchObject({ reason: "ServiceUnavailable", code: 503 });
    expect(statusBody(599)).toMatchObject({ reason: "Unknown" });
  });
});
