import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  credentialsSecretName,
  isDnsLabel,
  isDnsSubdomain,
  normalizeApplicationName,
  normalizeGatewayName,
  requestParametersSecretName,
  serviceName,
  shouldNormalize,
} from "./names.js";

/** Mostly ASCII (where the rules bite), some arbitrary Unicode. */
const names = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
);

describe("normalizeApplicationName (Compass's and the Go agent's normalizer)", () => {
  // Compass pkg/normalizer/normalizer_test.go and the agent's normalizer_test.go.
  const inputs = [
    "tEsT-ApPlIcAtIoN",
    "test.application",
    "test$application",
    "test&application",
    "test@application",
    "test%.-&application",
    "!test-application",
    "!@#$%test-application",
    "test-application%",
    "test-application&*^%",
    "[test@application]",
    "test---application",
    "---test-application",
    "test-application---",
    "---test---application---",
    "test-application-",
    "test-application&--*^-%",
    "---tEsT@ApPlIcAtIoN.!$",
    "test-application",
  ];
  test.each(inputs)("%s → mp-test-application", (input) => {
    expect(normalizeApplicationName(input)).toBe("mp-test-application");
  });

  test("an already normalized name stays the same", () => {
    expect(normalizeApplicationName("mp-test-application")).toBe("mp-test-application");
    expect(normalizeApplicationName("mp-s4-system-0123456789")).toBe("mp-s4-system-0123456789");
  });

  test("contract examples", () => {
    expect(normalizeApplicationName("My App")).toBe("mp-my-app");
    expect(normalizeApplicationName("mp-My App")).toBe("mp-mp-my-app");
  });

  test("a name without letters or digits becomes mp (and then mp-mp), as in Compass", () => {
    expect(normalizeApplicationName("")).toBe("mp");
    expect(normalizeApplicationName("!!!")).toBe("mp");
    expect(normalizeApplicationName("mp")).toBe("mp-mp");
  });

  test("property: idempotent (except for the all-symbol edge case that yields mp)", () => {
    fc.assert(
      fc.property(names, (name) => {
        const once = normalizeApplicationName(name);
        fc.pre(once !== "mp");
        expect(normalizeApplicationName(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });

  test("property: only lower-case letters, digits and single dashes, starting mp- and not ending with a dash", () => {
    fc.assert(
      fc.property(names, (name) => {
        const normalized = normalizeApplicationName(name);
        expect(normalized).toMatch(/^mp(-[a-z0-9]+)*$|^mp-[a-z0-9]+(-[a-z0-9]+)*$/);
        expect(normalized).not.toMatch(/--|-$/);
        if (normalized.length <= 253) expect(isDnsSubdomain(normalized)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test("names without the prefix always get it", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9]{0,20}$/), (name) => {
        fc.pre(!name.startsWith("mp-"));
        expect(normalizeApplicationName(name)).toBe(`mp-${name}`);
      }),
    );
  });
});

describe("shouldNormalize", () => {
  test.each<[Record<string, unknown>, boolean]>([
    [{ isNormalized: "true" }, false],
    [{ isNormalized: "false" }, true],
    [{}, true],
    [{ isNormalized: true }, true],
    [{ isNormalized: "TRUE" }, true],
  ])("%j → %s", (labels, expected) => {
    expect(shouldNormalize(labels)).toBe(expected);
  });
});

describe("normalizeGatewayName and serviceName (central gateway normalization)", () => {
  test("service-name hash vectors", () => {
    expect(serviceName("bundleName1", "bundle1")).toBe("bundlename1-43857");
    expect(serviceName("bundleName1", "bundle2")).toBe("bundlename1-4b91a");
    expect(serviceName("bundleName1", "bundle3")).toBe("bundlename1-16aa4");
    expect(serviceName("bndl-app-1", "e4148ee9-79c0-4d81-863c-311f32aeed9b")).toBe("bndl-app-1-0d79e");
    expect(serviceName("DisplayName", "id")).toBe("displayname-87ea5");
  });

  test("long names are cut to 57 characters", () => {
    const long = "VeryVeryVeryVeryVeryVeryVEryVeryVeryVeryVeryVeryVeryVeryLongDescription";
    expect(normalizeGatewayName(long)).toBe("veryveryveryveryveryveryveryveryveryveryveryveryveryveryl");
    expect(serviceName(long, "id")).toBe("veryveryveryveryveryveryveryveryveryveryveryveryveryveryl-87ea5");
  });

  test("runs of symbols become one dash; one leading and one trailing dash are dropped", () => {
    expect(normalizeGatewayName("Orders API (v1)")).toBe("orders-api-v1");
    expect(normalizeGatewayName("--a--")).toBe("a");
    expect(normalizeGatewayName("")).toBe("");
    expect(serviceName("", "bundle1")).toBe("43857");
    expect(serviceName("!!", "bundle1")).toBe("43857");
  });

  test("a cut can leave a trailing dash, as in Go", () => {
    expect(normalizeGatewayName(`${"a".repeat(56)} b`)).toBe(`${"a".repeat(56)}-`);
  });

  test("property: lower-case alphanumerics and dashes, at most 57", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (name) => {
        const normalized = normalizeGatewayName(name);
        expect(normalized.length).toBeLessThanOrEqual(57);
        expect(normalized).toMatch(/^[a-z0-9-]*$/);
        expect(normalized.startsWith("-")).toBe(false);
      }),
    );
  });
});

describe("Secret names (the Go agent's nameresolver)", () => {
  const id = "c687e68a-9038-4f38-845b-9c61592e59e6";
  test.each([
    ["short_application", `short_application-${id}`, `params-short_application-${id}`],
    ["max_application_aaaaaaaaaa", `max_application_aaaaaaaaaa-${id}`, `params-max_application_aaa-${id}`],
    ["toolong_application_aaaaaxxxx", `toolong_application_aaaaax-${id}`, `params-toolong_application-${id}`],
  ])("%s", (app, credentials, params) => {
    expect(credentialsSecretName(app, id)).toBe(credentials);
    expect(requestParametersSecretName(app, id)).toBe(params);
  });

  test("with a UUID bundle id the names fit in 63 characters", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9-]{1,80}$/), fc.uuid(), (app, bundleId) => {
        expect(credentialsSecretName(app, bundleId).length).toBeLessThanOrEqual(63);
        expect(requestParametersSecretName(app, bundleId).length).toBeLessThanOrEqual(63);
      }),
    );
  });
});

describe("Kubernetes name checks", () => {
  test.each([
    ["mp-commerce-mock", true, true],
    ["a.b-c", true, false],
    ["A", false, false],
    ["-a", false, false],
    ["a-", false, false],
    ["a..b", false, false],
    ["", false, false],
    ["a".repeat(63), true, true],
    ["a".repeat(64), true, false],
    ["a".repeat(254), false, false],
  ])("%s: subdomain %s, label %s", (name, subdomain, label) => {
    expect(isDnsSubdomain(name)).toBe(subdomain);
    expect(isDnsLabel(name)).toBe(label);
  });
});
