/**
 * Synthetic load: one runtime and N applications in one formation, each with B bundles of A API and E event
 * definitions. A fraction R of the bundles (spread evenly) carries credentials, alternating OAuth and Basic; every
 * third of those also has a CSRF token endpoint, every second one request parameters (headers and query params).
 * Objects are built directly (no JSON round trip), so 1,000 × 5 × 5 takes a few tens of milliseconds.
 */
import { randomUUID } from "node:crypto";
import type { Application, Auth, Bundle, CompassState, JsonValue, Runtime } from "./state.js";
import { DEFAULT_TENANT } from "./state.js";

export interface GenerateOptions {
  applications: number;
  /** Bundles per application (default 1). */
  bundles?: number;
  /** API definitions per bundle (default 2). */
  apis?: number;
  /** Event definitions per bundle (default 1). */
  events?: number;
  /** Fraction 0..1 of bundles with credentials (default 0.5). */
  credentialsRatio?: number;
  /** Formation shared by the runtime and the applications (default `generated`). */
  formation?: string;
  tenant?: string;
  runtimeName?: string;
}

export interface GeneratedSet {
  runtimeId: string;
  tenant: string;
  formation: string;
  applications: number;
  bundles: number;
  apiDefinitions: number;
  eventDefinitions: number;
  /** Bundles with credentials. */
  credentials: number;
}

export const GENERATE_DEFAULTS = Object.freeze({ bundles: 1, apis: 2, events: 1, credentialsRatio: 0.5, formation: "generated" });

/**
 * `applicationType` values of generated applications, in turn: types the "Side-by-Side Extensibility with Kyma"
 * formation template accepts (the registrant sets the label; Compass adds `managed` and `name` itself).
 */
export const GENERATED_APPLICATION_TYPES = Object.freeze([
  "SAP Commerce Cloud",
  "SAP Marketing Cloud",
  "SAP Cloud for Customer",
  "SAP Field Service Management",
]);

function count(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  return n;
}

const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The credentials of the c-th credentialed bundle (c = 0, 1, 2, …). */
function credentialsFor(c: number, host: string): Auth {
  const auth: Auth =
    c % 2 === 0
      ? { credential: { kind: "oauth", clientId: `client-${c}`, clientSecret: `secret-${c}-${randomUUID()}`, url: `https://${host}/oauth/token` } }
      : { credential: { kind: "basic", username: `user-${c}`, password: `password-${c}-${randomUUID()}` } };
  if (c % 3 === 0) auth.requestAuth = { csrf: { tokenEndpointURL: `https://${host}/csrf` } };
  if (c % 2 === 1 || c % 4 === 0) {
    auth.additionalHeaders = { "X-Client": [`client-${c}`] };
    auth.additionalQueryParams = { "sap-client": ["100"] };
  }
  return auth;
}

export function generateApplications(state: CompassState, options: GenerateOptions): GeneratedSet {
  const apps = count(options.applications, 0, "applications");
  const bundlesPerApp = count(options.bundles, GENERATE_DEFAULTS.bundles, "bundles");
  const apisPerBundle = count(options.apis, GENERATE_DEFAULTS.apis, "apis");
  const eventsPerBundle = count(options.events, GENERATE_DEFAULTS.events, "events");
  const ratio = options.credentialsRatio ?? GENERATE_DEFAULTS.credentialsRatio;
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`credentialsRatio must be between 0 and 1, got ${String(ratio)}`);
  const formation = options.formation ?? GENERATE_DEFAULTS.formation;
  const tenant = options.tenant ?? DEFAULT_TENANT;

  const runtime: Runtime = state.createRuntime({
    name: options.runtimeName ?? "generated-runtime",
    tenant,
    formations: [formation],
    labels: { runtime_eventServiceUrl: "https://gateway.generated.local" },
  });
  const now = state.now();
  let bundleIndex = 0;
  let credentialed = 0;
  for (let i = 0; i < apps; i++) {
    const id = randomUUID();
    const host = `app-${i}.generated.example.com`;
    const bundles: Bundle[] = [];
    for (let b = 0; b < bundlesPerApp; b++, bundleIndex++) {
      const bundleId = randomUUID();
      const withCredentials = Math.floor((bundleIndex + 1) * ratio) > Math.floor(bundleIndex * ratio);
      bundles.push({
        id: bundleId,
        applicationId: id,
        name: `Bundle ${b} of app ${i}`,
        description: `Generated bundle ${b}`,
        ...(withCredentials ? { defaultInstanceAuth: credentialsFor(credentialed++, host) } : {}),
        apiDefinitions: Array.from({ length: apisPerBundle }, (_, a) => ({
          id: randomUUID(),
          name: `api-${b}-${a}`,
          description: `Generated API ${a}`,
          targetURL: `https://${host}/api/${b}/${a}`,
          group: `group-${b}`,
          version: { value: "v1", deprecated: false, forRemoval: false },
          createdAt: now,
        })).sort(byId),
        eventDefinitions: Array.from({ length: eventsPerBundle }, (_, e) => ({
          id: randomUUID(),
          name: `event-${b}-${e}`,
          description: `Generated event ${e}`,
          group: `group-${b}`,
          version: { value: "v1", deprecated: false, forRemoval: false },
          createdAt: now,
        })).sort(byId),
        documents: [],
        createdAt: now,
      });
    }
    const application: Application = {
      id,
      tenant,
      name: `Generated App ${i}`,
      ...(i % 10 === 9 ? { systemNumber: String(100000 + i) } : {}),
      providerName: "compass-sim",
      description: `Generated application ${i}`,
      // `managed` and `name` are added by state.addApplication, as the Director does at registration.
      labels: new Map<string, JsonValue>([
        ["applicationType", GENERATED_APPLICATION_TYPES[i % GENERATED_APPLICATION_TYPES.length]!],
        ["scenarios", [formation]],
      ]),
      status: { condition: "INITIAL", timestamp: now },
      createdAt: now,
      updatedAt: now,
      bundles: bundles.sort(byId),
      systemAuthIds: [],
    };
    application.systemAuthIds = [state.createSystemAuth("Application", id, tenant).id];
    state.addApplication(application);
  }
  return {
    runtimeId: runtime.id,
    tenant,
    formation,
    applications: apps,
    bundles: apps * bundlesPerApp,
    apiDefinitions: apps * bundlesPerApp * apisPerBundle,
    eventDefinitions: apps * bundlesPerApp * eventsPerBundle,
    credentials: credentialed,
  };
}
