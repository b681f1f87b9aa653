/**
 * Director applications → the Application CRs and Secrets the runtime should have, exactly as Kyma's Go agent writes
 * them (upstream-agent §6.3-6.5), with two deliberate differences:
 *  - an entry never names a credential Secret that is not created (the Go agent did when a username, password,
 *    client id or client secret was empty); such a bundle gets empty credentials and a warning;
 *  - a bad application (a duplicate name after normalization, or a name Kubernetes refuses for it or its Secrets)
 *    is a conflict for that application only; the others still sync (the Go agent aborted the whole sync).
 * Pure: no I/O and no clock; hashing is computation.
 */
import type { ApplicationSink, DirectorApplication, DirectorAuth, DirectorBundle, MultiValueMap } from "@runtime-agent/director-client";
import { applicationContentHash, goJsonMultiMap, secretContentHash, toBase64 } from "./hash.js";
import {
  credentialsSecretName,
  isDnsSubdomain,
  normalizeApplicationName,
  normalizeGatewayName,
  requestParametersSecretName,
  serviceName,
  shouldNormalize,
} from "./names.js";
import {
  APPLICATION_API_VERSION,
  APPLICATION_KIND,
  CONNECTED_APP_LABEL,
  DEFAULT_DESCRIPTION,
  DESIRED_HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from "./types.js";
import type {
  ApplicationCredentials,
  ApplicationEntry,
  ApplicationService,
  Conflict,
  DesiredApplication,
  DesiredSecret,
  DesiredState,
  SecretManifest,
  Warning,
} from "./types.js";

export interface DesiredStateOptions {
  /** APP_CENTRAL_GATEWAY_SERVICE_URL, e.g. http://central-application-gateway.kyma-system.svc.cluster.local:8082 */
  centralGatewayUrl: string;
  /** APP_SKIP_APPS_TLS_VERIFY → `spec.skipVerify` */
  skipAppsTlsVerify: boolean;
  /** APP_INTEGRATION_NAMESPACE (kyma-system): where the credential and request-parameter Secrets live. */
  integrationNamespace: string;
  /** Overrides the decision taken from the runtime label `isNormalized`. */
  normalizeNames?: boolean | undefined;
}

/** What one bundle contributes: the credentials its API entries carry, and its Secrets. */
interface BundleAuthResult {
  credentials: ApplicationCredentials;
  requestParametersSecretName: string | undefined;
  secrets: DesiredSecret[];
  warnings: string[];
}

/**
 * Credentials are shared, not copied, by the entries that have them (every event; every API of a bundle): with
 * 1,000 applications × 5 bundles × (3 APIs + 2 events) that is 25,000 objects fewer. Frozen, as they are shared.
 */
const EMPTY_CREDENTIALS: ApplicationCredentials = Object.freeze({ type: "", secretName: "" });

export function buildDesiredState(
  applications: readonly DirectorApplication[],
  runtimeLabels: Readonly<Record<string, unknown>>,
  options: DesiredStateOptions,
): DesiredState {
  const builder = new DesiredStateBuilder(options);
  builder.setRuntimeLabels(runtimeLabels);
  for (const application of applications) builder.add(application);
  return builder.finish();
}

/** One application as converted, or why it cannot be (before the names of the others are known). */
interface Converted {
  applicationId: string;
  name: string;
  result: { application: DesiredApplication; secrets: DesiredSecret[]; warnings: Warning[] } | { reason: string };
}

/**
 * buildDesiredState one application at a time, for a listing that streams them (director-client's
 * streamApplicationsForRuntime): each application is converted as it arrives and can be released at once, so the
 * Director's model and the desired state are never both held whole (for 1,000 applications × 5 bundles × (3 APIs +
 * 2 events) about 12 MB and 10 MB). Applications that arrive before the runtime's labels (they say whether names are
 * normalized) wait unconverted. A name shared by two applications is a conflict for both, known at `finish`.
 */
export class DesiredStateBuilder implements ApplicationSink {
  readonly #options: DesiredStateOptions;
  #normalized: boolean | undefined;
  #waiting: DirectorApplication[] = [];
  #byName = new Map<string, Converted[]>();

  constructor(options: DesiredStateOptions) {
    this.#options = options;
  }

  /** The runtime's labels (`isNormalized`, unless `normalizeNames` overrides it); converts the waiting applications. */
  setRuntimeLabels(runtimeLabels: Readonly<Record<string, unknown>>): void {
    this.#normalized = this.#options.normalizeNames ?? shouldNormalize(runtimeLabels);
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const application of waiting) this.add(application);
  }

  /** Forgets every application given so far (the listing starts over). */
  restart(): void {
    this.#waiting = [];
    this.#byName = new Map();
  }

  add(app: DirectorApplication): void {
    if (this.#normalized === undefined) {
      this.#waiting.push(app);
      return;
    }
    const name = this.#normalized ? normalizeApplicationName(app.name) : app.name;
    const converted: Converted = { applicationId: app.id, name, result: convert(app, name, this.#options) };
    const sameName = this.#byName.get(name);
    if (sameName === undefined) this.#byName.set(name, [converted]);
    else sameName.push(converted);
  }

  /**
   * The desired state of every application given since the last restart, in application id order. The builder keeps
   * none of it (it is empty again): a caller that drops objects once written frees them.
   */
  finish(): DesiredState {
    if (this.#normalized === undefined) throw new Error("DesiredStateBuilder.finish: the runtime's labels were never set");
    const byName = this.#byName;
    this.restart();
    const conflicts: Conflict[] = [];
    const warnings: Warning[] = [];
    const applications: DesiredApplication[] = [];
    const secrets: DesiredSecret[] = [];
    const all = [...byName.values()].flat().sort((a, b) => inCodeUnitOrder(a.applicationId, b.applicationId));
    for (const { applicationId, name, result } of all) {
      const sameName = byName.get(name) ?? [];
      if (sameName.length > 1) {
        const others = sameName.map((c) => c.applicationId).filter((id) => id !== applicationId).sort();
        conflicts.push({
          applicationId,
          name,
          reason: `the name ${name} is also the name of application${others.length > 1 ? "s" : ""} ${others.join(", ")}; none of them is synced until the names differ`,
        });
      } else if ("reason" in result) {
        conflicts.push({ applicationId, name, reason: result.reason });
      } else {
        applications.push(result.application);
        secrets.push(...result.secrets);
        warnings.push(...result.warnings);
      }
    }
    return { applications, secrets, conflicts, warnings, normalized: this.#normalized };
  }
}

function convert(app: DirectorApplication, name: string, options: DesiredStateOptions): Converted["result"] {
  if (!isDnsSubdomain(name)) {
    return { reason: `${JSON.stringify(name)} is not a valid Kubernetes name (lower-case RFC 1123 subdomain, at most 253 characters)` };
  }
  const converted = convertApplication(app, name, options);
  const badSecret = converted.secrets.find((s) => !isDnsSubdomain(s.secret.metadata.name));
  if (badSecret) {
    return { reason: `the Secret name ${JSON.stringify(badSecret.secret.metadata.name)} derived for bundle ${badSecret.bundleId} is not a valid Kubernetes name` };
  }
  return converted;
}

function convertApplication(
  app: DirectorApplication,
  name: string,
  options: DesiredStateOptions,
): { application: DesiredApplication; secrets: DesiredSecret[]; warnings: Warning[] } {
  const secrets: DesiredSecret[] = [];
  const warnings: Warning[] = [];
  const services: ApplicationService[] = byId(app.bundles).map((bundle) => {
    const auth = bundleAuth(app, name, bundle, options);
    secrets.push(...auth.secrets);
    warnings.push(...auth.warnings.map((reason) => ({ applicationId: app.id, name, bundleId: bundle.id, reason })));
    return convertBundle(name, bundle, auth, options);
  });

  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
  const spec: DesiredApplication["spec"] = {
    description: app.description ? app.description : DEFAULT_DESCRIPTION,
    skipVerify: options.skipAppsTlsVerify,
    encodeUrl: false,
    labels: { [CONNECTED_APP_LABEL]: name },
    displayName: "",
    providerDisplayName: "",
    longDescription: "",
    services,
    compassMetadata: {
      applicationId: app.id,
      authentication: { clientIds: [...app.systemAuthIds] },
    },
  };
  const application: DesiredApplication = {
    apiVersion: APPLICATION_API_VERSION,
    kind: APPLICATION_KIND,
    metadata: {
      name,
      labels,
      annotations: { [DESIRED_HASH_ANNOTATION]: applicationContentHash(labels, spec) },
    },
    spec,
  };
  return { application, secrets, warnings };
}

/**
 * The canonical order of services (bundles) and entries (APIs, then events): by id. The Director returns nested
 * lists in an order that varies between identical calls; without one order of our own, an unchanged Compass would
 * rewrite Application CRs whose content did not change.
 */
function byId<T extends { id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => inCodeUnitOrder(a.id, b.id));
}

/** The order of ids (the Director's order: code units, as PostgreSQL sorts lower-case UUIDs). */
function inCodeUnitOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function convertBundle(
  appName: string,
  bundle: DirectorBundle,
  auth: BundleAuthResult,
  options: DesiredStateOptions,
): ApplicationService {
  const bundleSegment = normalizeGatewayName(bundle.name);
  const entries: ApplicationEntry[] = [
    ...byId(bundle.apiDefinitions).map((api): ApplicationEntry => {
      const entry: ApplicationEntry = {
        type: "API",
        targetUrl: api.targetUrl,
        credentials: auth.credentials,
        id: api.id,
        name: api.name,
        centralGatewayUrl: `${options.centralGatewayUrl}/${appName}/${bundleSegment}/${normalizeGatewayName(api.name)}`,
        gatewayUrl: "",
      };
      if (auth.requestParametersSecretName !== undefined) entry.requestParametersSecretName = auth.requestParametersSecretName;
      return entry;
    }),
    ...byId(bundle.eventDefinitions).map(
      (event): ApplicationEntry => ({
        type: "Events",
        targetUrl: "",
        credentials: EMPTY_CREDENTIALS,
        id: event.id,
        name: event.name,
        centralGatewayUrl: "",
        gatewayUrl: "",
      }),
    ),
  ];
  const service: ApplicationService = {
    id: bundle.id,
    identifier: "",
    name: serviceName(bundle.name, bundle.id),
    displayName: bundle.name,
    description: bundle.description ? bundle.description : DEFAULT_DESCRIPTION,
    entries,
    providerDisplayName: "",
  };
  if (bundle.instanceAuthRequestInputSchema !== null) service.authCreateParameterSchema = bundle.instanceAuthRequestInputSchema;
  return service;
}

function bundleAuth(app: DirectorApplication, appName: string, bundle: DirectorBundle, options: DesiredStateOptions): BundleAuthResult {
  const result: BundleAuthResult = { credentials: EMPTY_CREDENTIALS, requestParametersSecretName: undefined, secrets: [], warnings: [] };
  const auth: DirectorAuth | null = bundle.defaultInstanceAuth;
  if (auth === null) return result;
  const base = { ownerApplication: appName, applicationId: app.id, bundleId: bundle.id };
  const csrfInfo = auth.csrf ? { tokenEndpointURL: auth.csrf.tokenEndpointUrl } : undefined;
  const credential = auth.credential;

  if (credential?.type === "OAuth" || credential?.type === "Basic") {
    const [first, second] =
      credential.type === "OAuth" ? [credential.clientId, credential.clientSecret] : [credential.username, credential.password];
    if (first === "" || second === "") {
      const fields = credential.type === "OAuth" ? "client id or client secret" : "username or password";
      result.warnings.push(`the bundle's ${credential.type} credential has an empty ${fields}; its APIs are synced without credentials`);
    } else {
      const secretName = credentialsSecretName(appName, bundle.id);
      result.credentials = Object.freeze(
        credential.type === "OAuth"
          ? { type: "OAuth", secretName, authenticationUrl: credential.url, ...(csrfInfo ? { csrfInfo } : {}) }
          : { type: "Basic", secretName, ...(csrfInfo ? { csrfInfo } : {}) },
      );
      const data: Record<string, string> =
        credential.type === "OAuth" ? { clientId: first, clientSecret: second } : { username: first, password: second };
      result.secrets.push({ ...base, purpose: "credentials", secret: secretManifest(secretName, appName, bundle.id, data, options) });
    }
  } else if (credential?.type === "CertificateOAuth") {
    result.warnings.push(
      "the bundle's credential is CertificateOAuth, which Kyma's Application CRs cannot express (the Go agent ignores it too); its APIs are synced without credentials",
    );
  }

  const headers = auth.additionalHeaders;
  const query = auth.additionalQueryParams;
  if (!isEmptyMap(headers) || !isEmptyMap(query)) {
    const secretName = requestParametersSecretName(appName, bundle.id);
    const data: Record<string, string> = {};
    if (headers !== null) data["headers"] = goJsonMultiMap(headers);
    if (query !== null) data["queryParameters"] = goJsonMultiMap(query);
    result.requestParametersSecretName = secretName;
    result.secrets.push({ ...base, purpose: "request-parameters", secret: secretManifest(secretName, appName, bundle.id, data, options) });
  }
  return result;
}

function isEmptyMap(map: MultiValueMap | null): boolean {
  return map === null || Object.keys(map).length === 0;
}

function secretManifest(
  name: string,
  appName: string,
  bundleId: string,
  text: Record<string, string>,
  options: DesiredStateOptions,
): SecretManifest {
  const labels = { app: appName, bundleId, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
  const data = Object.fromEntries(Object.entries(text).map(([key, value]) => [key, toBase64(value)]));
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: options.integrationNamespace,
      labels,
      annotations: { [DESIRED_HASH_ANNOTATION]: secretContentHash(labels, data) },
    },
    type: "Opaque",
    data,
  };
}
