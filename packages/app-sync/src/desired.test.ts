import fc from "fast-check";
import type { DirectorApplication, DirectorAuth, DirectorBundle } from "@runtime-agent/director-client";
import { describe, expect, test } from "vitest";
import { buildDesiredState, DesiredStateBuilder } from "./desired.js";
import type { DesiredStateOptions } from "./desired.js";
import { applicationContentHash, fromBase64, secretContentHash } from "./hash.js";
import { DESIRED_HASH_ANNOTATION } from "./types.js";
import type { DesiredSecret } from "./types.js";

const GATEWAY = "http://central-application-gateway.kyma-system.svc.cluster.local:8082";
const options: DesiredStateOptions = { centralGatewayUrl: GATEWAY, skipAppsTlsVerify: false, integrationNamespace: "kyma-system" };
const NORMALIZED = { isNormalized: "true" };

function app(overrides: Partial<DirectorApplication> = {}): DirectorApplication {
  return {
    id: "a0a0a0a0-0000-4000-8000-000000000001",
    name: "mp-appname1",
    systemNumber: null,
    providerName: null,
    description: null,
    labels: {},
    systemAuthIds: [],
    bundles: [],
    ...overrides,
  };
}

function bundle(overrides: Partial<DirectorBundle> = {}): DirectorBundle {
  return {
    id: "b0b0b0b0-0000-4000-8000-000000000001",
    name: "bundleName1",
    description: "bundle description",
    instanceAuthRequestInputSchema: null,
    apiDefinitions: [],
    eventDefinitions: [],
    defaultInstanceAuth: null,
    ...overrides,
  };
}

function auth(overrides: Partial<DirectorAuth> = {}): DirectorAuth {
  return { credential: null, additionalHeaders: null, additionalQueryParams: null, csrf: null, ...overrides };
}

const api = (id: string, name: string, targetUrl = `https://api.example.com/${name}`) => ({
  id,
  name,
  description: null,
  targetUrl,
  group: null,
  version: null,
});
const event = (id: string, name: string) => ({ id, name, description: null, group: null, version: null });

function secretText(secret: DesiredSecret): Record<string, string> {
  return Object.fromEntries(Object.entries(secret.secret.data).map(([k, v]) => [k, fromBase64(v)]));
}

describe("buildDesiredState: the Application CR", () => {
  test("an application without bundles: the exact object the Go agent writes", () => {
    const state = buildDesiredState(
      [app({ description: "", systemAuthIds: ["87498042-f6ec-417b-9a76-d87d77e2a5e8"] })],
      NORMALIZED,
      { ...options, skipAppsTlsVerify: true },
    );
    const spec = {
      description: "Description not provided",
      skipVerify: true,
      encodeUrl: false,
      labels: { "connected-app": "mp-appname1" },
      displayName: "",
      providerDisplayName: "",
      longDescription: "",
      services: [],
      compassMetadata: {
        applicationId: "a0a0a0a0-0000-4000-8000-000000000001",
        authentication: { clientIds: ["87498042-f6ec-417b-9a76-d87d77e2a5e8"] },
      },
    };
    expect(state).toEqual({
      applications: [
        {
          apiVersion: "applicationconnector.kyma-project.io/v1alpha1",
          kind: "Application",
          metadata: {
            name: "mp-appname1",
            labels: { "applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent" },
            annotations: {
              [DESIRED_HASH_ANNOTATION]: applicationContentHash(
                { "applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent" },
                spec,
              ),
            },
          },
          spec,
        },
      ],
      secrets: [],
      conflicts: [],
      warnings: [],
      normalized: false,
    });
    expect(Object.keys(state.applications[0]?.spec ?? {})).not.toContain("skipInstallation");
  });

  test("Director labels, provider and system number are not copied (as in Go)", () => {
    const [cr] = buildDesiredState([app({ labels: { scenarios: ["DEFAULT"] }, providerName: "SAP", systemNumber: "42" })], NORMALIZED, options)
      .applications;
    expect(cr?.spec.labels).toEqual({ "connected-app": "mp-appname1" });
    expect(cr?.spec.providerDisplayName).toBe("");
    expect(cr?.spec.compassMetadata.authentication.clientIds).toEqual([]);
  });

  test("names are normalized unless the runtime label isNormalized is \"true\"", () => {
    const apps = [app({ name: "My App" })];
    expect(buildDesiredState(apps, {}, options).applications[0]?.metadata.name).toBe("mp-my-app");
    expect(buildDesiredState(apps, { isNormalized: "false" }, options).applications[0]?.metadata.name).toBe("mp-my-app");
    const state = buildDesiredState(apps, NORMALIZED, options);
    expect(state.applications).toHaveLength(0);
    expect(state.conflicts[0]?.reason).toMatch(/not a valid Kubernetes name/);
    expect(buildDesiredState([app({ name: "mp-my-app" })], {}, options).applications[0]?.metadata.name).toBe("mp-my-app");
    expect(buildDesiredState(apps, NORMALIZED, { ...options, normalizeNames: true }).normalized).toBe(true);
  });

  test("one service per bundle: hashed name, display name, default description, schema", () => {
    const [cr] = buildDesiredState(
      [
        app({
          bundles: [
            bundle({ id: "bundle1", name: "bundleName1", description: "" }),
            bundle({ id: "bundle2", name: "bundleName1", description: null, instanceAuthRequestInputSchema: '{"type":"object"}' }),
            bundle({ id: "bundle3", name: "bundleName1" }),
          ],
        }),
      ],
      NORMALIZED,
      options,
    ).applications;
    expect(cr?.spec.services.map((s) => [s.id, s.name, s.displayName, s.description, s.identifier, s.providerDisplayName])).toEqual([
      ["bundle1", "bundlename1-43857", "bundleName1", "Description not provided", "", ""],
      ["bundle2", "bundlename1-4b91a", "bundleName1", "Description not provided", "", ""],
      ["bundle3", "bundlename1-16aa4", "bundleName1", "bundle description", "", ""],
    ]);
    expect(cr?.spec.services[0]).not.toHaveProperty("authCreateParameterSchema");
    expect(cr?.spec.services[1]?.authCreateParameterSchema).toBe('{"type":"object"}');
  });

  test("entries: all APIs first, then all events; gateway URL from app, bundle and API names", () => {
    const [cr] = buildDesiredState(
      [
        app({
          bundles: [
            bundle({
              apiDefinitions: [api("api1", "serviceName1", "https://target/1"), api("api2", "Service Name 2")],
              eventDefinitions: [event("ev1", "order.created")],
            }),
          ],
        }),
      ],
      NORMALIZED,
      options,
    ).applications;
    expect(cr?.spec.services[0]?.entries).toEqual([
      {
        type: "API",
        targetUrl: "https://target/1",
        credentials: { type: "", secretName: "" },
        id: "api1",
        name: "serviceName1",
        centralGatewayUrl: `${GATEWAY}/mp-appname1/bundlename1/servicename1`,
        gatewayUrl: "",
      },
      {
        type: "API",
        targetUrl: "https://api.example.com/Service Name 2",
        credentials: { type: "", secretName: "" },
        id: "api2",
        name: "Service Name 2",
        centralGatewayUrl: `${GATEWAY}/mp-appname1/bundlename1/service-name-2`,
        gatewayUrl: "",
      },
      {
        type: "Events",
        targetUrl: "",
        credentials: { type: "", secretName: "" },
        id: "ev1",
        name: "order.created",
        centralGatewayUrl: "",
        gatewayUrl: "",
      },
    ]);
  });

  test("an API name longer than 57 characters is cut in the gateway URL only", () => {
    const longName = "VeryVeryVeryVeryVeryVeryVEryVeryVeryVeryVeryVeryVeryVeryLongDescription";
    const [cr] = buildDesiredState([app({ bundles: [bundle({ apiDefinitions: [api("api1", longName)] })] })], NORMALIZED, options).applications;
    const entry = cr?.spec.services[0]?.entries[0];
    expect(entry?.name).toBe(longName);
    expect(entry?.centralGatewayUrl).toBe(`${GATEWAY}/mp-appname1/bundlename1/veryveryveryveryveryveryveryveryveryveryveryveryveryveryl`);
  });
});

describe("buildDesiredState: credentials and request parameters", () => {
  const bundleId = "b0b0b0b0-0000-4000-8000-000000000001";

  test("OAuth + CSRF: one Secret, referenced by every API of the bundle, not by events", () => {
    const state = buildDesiredState(
      [
        app({
          bundles: [
            bundle({
              apiDefinitions: [api("api1", "a1"), api("api2", "a2")],
              eventDefinitions: [event("ev1", "e1")],
              defaultInstanceAuth: auth({
                credential: { type: "OAuth", clientId: "client", clientSecret: "secret", url: "https://oauth/token" },
                csrf: { tokenEndpointUrl: "https://csrf", credential: null, additionalHeaders: null, additionalQueryParams: null },
              }),
            }),
          ],
        }),
      ],
      NORMALIZED,
      options,
    );
    const entries = state.applications[0]?.spec.services[0]?.entries ?? [];
    const expected = {
      type: "OAuth",
      secretName: `mp-appname1-${bundleId}`,
      authenticationUrl: "https://oauth/token",
      csrfInfo: { tokenEndpointURL: "https://csrf" },
    };
    expect(entries[0]?.credentials).toEqual(expected);
    expect(entries[1]?.credentials).toEqual(expected);
    expect(entries[2]?.credentials).toEqual({ type: "", secretName: "" });
    expect(entries[0]).not.toHaveProperty("requestParametersSecretName");
    expect(state.secrets).toHaveLength(1);
    const [secret] = state.secrets;
    expect(secret?.purpose).toBe("credentials");
    expect(secret?.ownerApplication).toBe("mp-appname1");
    expect(secret?.secret.metadata).toMatchObject({
      name: `mp-appname1-${bundleId}`,
      namespace: "kyma-system",
      labels: { app: "mp-appname1", bundleId, "applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent" },
    });
    expect(secret?.secret.type).toBe("Opaque");
    expect(secretText(secret as DesiredSecret)).toEqual({ clientId: "client", clientSecret: "secret" });
    expect(secret?.secret.metadata.annotations[DESIRED_HASH_ANNOTATION]).toBe(
      secretContentHash(secret?.secret.metadata.labels ?? {}, secret?.secret.data),
    );
  });

  test("Basic + request parameters: a credential Secret and a params- Secret", () => {
    const state = buildDesiredState(
      [
        app({
          bundles: [
            bundle({
              apiDefinitions: [api("api1", "a1")],
              defaultInstanceAuth: auth({
                credential: { type: "Basic", username: "user", password: "pass" },
                additionalHeaders: { "X-Tenant": ["t1", "t2"], Accept: ["<json>&"] },
                additionalQueryParams: { client: ["100"] },
              }),
            }),
          ],
        }),
      ],
      NORMALIZED,
      options,
    );
    const entry = state.applications[0]?.spec.services[0]?.entries[0];
    expect(entry?.credentials).toEqual({ type: "Basic", secretName: `mp-appname1-${bundleId}` });
    expect(entry?.requestParametersSecretName).toBe(`params-mp-appname1-${bundleId}`);
    expect(state.secrets.map((s) => [s.purpose, s.secret.metadata.name])).toEqual([
      ["credentials", `mp-appname1-${bundleId}`],
      ["request-parameters", `params-mp-appname1-${bundleId}`],
    ]);
    expect(secretText(state.secrets[0] as DesiredSecret)).toEqual({ username: "user", password: "pass" });
    expect(secretText(state.secrets[1] as DesiredSecret)).toEqual({
      headers: '{"Accept":["\\u003cjson\\u003e\\u0026"],"X-Tenant":["t1","t2"]}',
      queryParameters: '{"client":["100"]}',
    });
  });

  test("request parameters alone; an empty map is written when the other is set, no Secret when both are empty", () => {
    const onlyQuery = buildDesiredState(
      [app({ bundles: [bundle({ apiDefinitions: [api("api1", "a1")], defaultInstanceAuth: auth({ additionalHeaders: {}, additionalQueryParams: { q: ["1"] } }) })] })],
      NORMALIZED,
      options,
    );
    expect(onlyQuery.applications[0]?.spec.services[0]?.entries[0]?.credentials).toEqual({ type: "", secretName: "" });
    expect(onlyQuery.secrets.map((s) => secretText(s))).toEqual([{ headers: "{}", queryParameters: '{"q":["1"]}' }]);

    const empty = buildDesiredState(
      [app({ bundles: [bundle({ apiDefinitions: [api("api1", "a1")], defaultInstanceAuth: auth({ additionalHeaders: {}, additionalQueryParams: null }) })] })],
      NORMALIZED,
      options,
    );
    expect(empty.secrets).toEqual([]);
    expect(empty.applications[0]?.spec.services[0]?.entries[0]).not.toHaveProperty("requestParametersSecretName");
  });

  test("empty username or client secret: no Secret and no reference to one (improvement over Go), and a warning", () => {
    for (const credential of [
      { type: "Basic" as const, username: "", password: "p" },
      { type: "OAuth" as const, clientId: "c", clientSecret: "", url: "https://t" },
    ]) {
      const state = buildDesiredState(
        [app({ bundles: [bundle({ apiDefinitions: [api("api1", "a1")], defaultInstanceAuth: auth({ credential, csrf: { tokenEndpointUrl: "https://csrf", credential: null, additionalHeaders: null, additionalQueryParams: null } }) })] })],
        NORMALIZED,
        options,
      );
      expect(state.secrets).toEqual([]);
      expect(state.applications[0]?.spec.services[0]?.entries[0]?.credentials).toEqual({ type: "", secretName: "" });
      expect(state.warnings).toHaveLength(1);
      expect(state.warnings[0]).toMatchObject({ applicationId: app().id, bundleId, name: "mp-appname1" });
    }
  });

  test("CertificateOAuth is skipped with a warning", () => {
    const state = buildDesiredState(
      [
        app({
          bundles: [
            bundle({
              apiDefinitions: [api("api1", "a1")],
              defaultInstanceAuth: auth({ credential: { type: "CertificateOAuth", clientId: "c", certificate: "PEM", url: "https://t" } }),
            }),
          ],
        }),
      ],
      NORMALIZED,
      options,
    );
    expect(state.secrets).toEqual([]);
    expect(state.applications[0]?.spec.services[0]?.entries[0]?.credentials).toEqual({ type: "", secretName: "" });
    expect(state.warnings[0]?.reason).toMatch(/CertificateOAuth/);
  });

  test("CSRF without a credential is dropped (as in Go)", () => {
    const state = buildDesiredState(
      [app({ bundles: [bundle({ apiDefinitions: [api("api1", "a1")], defaultInstanceAuth: auth({ csrf: { tokenEndpointUrl: "https://csrf", credential: null, additionalHeaders: null, additionalQueryParams: null } }) })] })],
      NORMALIZED,
      options,
    );
    expect(state.applications[0]?.spec.services[0]?.entries[0]?.credentials).toEqual({ type: "", secretName: "" });
  });

  test("long application names: Secret names follow the 63-character rule", () => {
    const name = "mp-toolong-application-aaaaaxxxx";
    const state = buildDesiredState(
      [app({ name, bundles: [bundle({ apiDefinitions: [api("api1", "a1")], defaultInstanceAuth: auth({ credential: { type: "Basic", username: "u", password: "p" }, additionalHeaders: { h: ["v"] } }) })] })],
      NORMALIZED,
      options,
    );
    expect(state.secrets.map((s) => s.secret.metadata.name)).toEqual([`mp-toolong-application-aaa-${bundleId}`, `params-mp-toolong-applicat-${bundleId}`]);
    expect(state.secrets.every((s) => s.secret.metadata.labels["app"] === name)).toBe(true);
  });
});

describe("buildDesiredState: conflicts", () => {
  test("duplicate names after normalization are conflicts for those applications only", () => {
    const state = buildDesiredState(
      [
        app({ id: "id-1", name: "Test App" }),
        app({ id: "id-2", name: "test.app" }),
        app({ id: "id-3", name: "other" }),
      ],
      {},
      options,
    );
    expect(state.applications.map((a) => a.metadata.name)).toEqual(["mp-other"]);
    expect(state.conflicts).toEqual([
      { applicationId: "id-1", name: "mp-test-app", reason: expect.stringContaining("id-2") },
      { applicationId: "id-2", name: "mp-test-app", reason: expect.stringContaining("id-1") },
    ]);
  });

  test("a name Kubernetes refuses is a conflict", () => {
    const state = buildDesiredState([app({ name: "Appname1" }), app({ id: "id-2", name: `mp-${"a".repeat(260)}` })], NORMALIZED, options);
    expect(state.applications).toEqual([]);
    expect(state.conflicts.map((c) => c.applicationId)).toEqual([app().id, "id-2"]);
  });

  test("a derived Secret name Kubernetes refuses is a conflict (e.g. a bundle id with capitals)", () => {
    const state = buildDesiredState(
      [
        app({ bundles: [bundle({ id: "Bundle-1", defaultInstanceAuth: auth({ credential: { type: "Basic", username: "u", password: "p" } }) })] }),
        app({ id: "id-2", name: "mp-fine" }),
      ],
      NORMALIZED,
      options,
    );
    expect(state.applications.map((a) => a.metadata.name)).toEqual(["mp-fine"]);
    expect(state.conflicts[0]?.reason).toMatch(/mp-appname1-Bundle-1/);
  });

  test("the state is deterministic", () => {
    const apps = [app({ bundles: [bundle({ apiDefinitions: [api("api1", "a1")], defaultInstanceAuth: auth({ credential: { type: "Basic", username: "u", password: "p" } }) })] })];
    expect(buildDesiredState(apps, NORMALIZED, options)).toEqual(buildDesiredState(structuredClone(apps), NORMALIZED, options));
  });
});

describe("buildDesiredState: canonical order", () => {
  // Real Compass returns bundles, API definitions and event definitions in an order that varies between identical
  // calls (real-compass.md §2.2); the desired state, its hashes and therefore the plan must not follow it.
  const credentialed = auth({ credential: { type: "Basic", username: "u", password: "p" } });
  const bundles = [1, 2, 3].map((b) =>
    bundle({
      id: `b0b0b0b0-0000-4000-8000-00000000000${b}`,
      name: `bundle${b}`,
      defaultInstanceAuth: b === 2 ? credentialed : null,
      apiDefinitions: [1, 2, 3].map((a) => api(`c0c0c0c0-0000-4000-8000-0000000000${b}${a}`, `api${b}${a}`)),
      eventDefinitions: [1, 2].map((e) => event(`d0d0d0d0-0000-4000-8000-0000000000${b}${e}`, `event${b}${e}`)),
    }),
  );

  test("services by bundle id; entries: APIs by id, then events by id", () => {
    const reversed = [...bundles]
      .reverse()
      .map((b) => ({ ...b, apiDefinitions: [...b.apiDefinitions].reverse(), eventDefinitions: [...b.eventDefinitions].reverse() }));
    const cr = buildDesiredState([app({ bundles: reversed })], NORMALIZED, options).applications[0];
    expect(cr?.spec.services.map((s) => s.id)).toEqual(bundles.map((b) => b.id));
    expect(cr?.spec.services[0]?.entries.map((e) => `${e.type}:${e.name}`)).toEqual(["API:api11", "API:api12", "API:api13", "Events:event11", "Events:event12"]);
  });

  test("any order of nested lists gives the same objects and hashes", () => {
    const expected = buildDesiredState([app({ bundles })], NORMALIZED, options);
    fc.assert(
      fc.property(
        fc.shuffledSubarray(bundles, { minLength: bundles.length }),
        fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: bundles.length, maxLength: bundles.length }),
        (shuffled, flips) => {
          const varied = shuffled.map((b, i) => ({
            ...b,
            apiDefinitions: flips[i]?.[0] ? [...b.apiDefinitions].reverse() : b.apiDefinitions,
            eventDefinitions: flips[i]?.[1] ? [...b.eventDefinitions].reverse() : b.eventDefinitions,
          }));
          expect(buildDesiredState([app({ bundles: varied })], NORMALIZED, options)).toEqual(expected);
        },
      ),
    );
  });
});

describe("DesiredStateBuilder", () => {
  const withAuth = bundle({ defaultInstanceAuth: auth({ credential: { type: "Basic", username: "u", password: "p" } }) });
  const listing = () => [
    app({ id: "a1", name: "mp-one", bundles: [withAuth] }),
    app({ id: "a2", name: "mp-twin" }),
    app({ id: "a3", name: "mp-twin" }),
    app({ id: "a4", name: "mp-four", bundles: [bundle()] }),
    app({ id: "a5", name: "mp-twin" }),
  ];

  test("given the applications one at a time, in any order, some before the runtime's labels, it gives what buildDesiredState gives", () => {
    const expected = buildDesiredState(listing(), {}, options);
    expect(expected.conflicts.map((c) => c.applicationId)).toEqual(["a2", "a3", "a5"]);
    expect(expected.conflicts[1]?.reason).toContain("applications a2, a5;");
    const builder = new DesiredStateBuilder(options);
    const [a1, a2, a3, a4, a5] = listing();
    builder.add(a5!);
    builder.add(a3!);
    builder.setRuntimeLabels({});
    for (const application of [a4!, a1!, a2!]) builder.add(application);
    expect(builder.finish()).toEqual(expected);
    // It keeps nothing it handed over: the objects are freed as the caller drops them.
    expect(builder.finish()).toEqual({ applications: [], secrets: [], conflicts: [], warnings: [], normalized: true });
  });

  test("the runtime's labels decide the names, also of the applications that waited for them", () => {
    const builder = new DesiredStateBuilder(options);
    builder.add(app({ id: "a1", name: "One" }));
    builder.setRuntimeLabels(NORMALIZED);
    builder.add(app({ id: "a2", name: "Two" }));
    expect(builder.finish()).toEqual(buildDesiredState([app({ id: "a1", name: "One" }), app({ id: "a2", name: "Two" })], NORMALIZED, options));
  });

  test("restart forgets what was given: a listing that starts over is not counted twice", () => {
    const builder = new DesiredStateBuilder(options);
    builder.setRuntimeLabels({});
    for (const application of listing()) builder.add(application);
    builder.restart();
    builder.add(app({ id: "a2", name: "mp-twin" }));
    const desired = builder.finish();
    expect(desired.conflicts).toEqual([]);
    expect(desired.applications.map((a) => a.metadata.name)).toEqual(["mp-twin"]);
  });

  test("finish before the runtime's labels is an error, not a guess about names", () => {
    const builder = new DesiredStateBuilder(options);
    builder.add(app());
    expect(() => builder.finish()).toThrow(/labels were never set/);
  });
});
