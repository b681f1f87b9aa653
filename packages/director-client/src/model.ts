/**
 * What the Director client returns: camelCase, null-safe, checked against the schema's promises. Nullable Director
 * fields stay `null` (never `undefined`); lists are always arrays; every nested page has been fetched; applications,
 * bundles, API definitions and event definitions are sorted by id (Compass's order of nested lists varies between
 * identical calls).
 */
import type { ListingReplay } from "./client.js";

/** An application assigned to the runtime, with all its bundles, API definitions and event definitions. */
export interface DirectorApplication {
  id: string;
  /** As the Director sent it: already normalized (`mp-…`, plus `-<systemNumber>`) unless the runtime says otherwise. */
  name: string;
  systemNumber: string | null;
  providerName: string | null;
  description: string | null;
  /** The application's labels (Labels scalar); `{}` when it has none. */
  labels: Record<string, unknown>;
  /** Ids of the application's system auths (`auths[].id`): the client ids Kyma's connectivity validator matches. */
  systemAuthIds: string[];
  bundles: DirectorBundle[];
}

export interface DirectorBundle {
  id: string;
  name: string;
  description: string | null;
  /** JSONSchema scalar: stringified JSON exactly as Compass sent it (checked to parse), or null. */
  instanceAuthRequestInputSchema: string | null;
  apiDefinitions: DirectorApiDefinition[];
  eventDefinitions: DirectorEventDefinition[];
  /** For a runtime caller Compass puts the runtime's own BundleInstanceAuth here when it has one. */
  defaultInstanceAuth: DirectorAuth | null;
}

export interface DirectorVersion {
  value: string;
  deprecated: boolean | null;
  deprecatedSince: string | null;
  forRemoval: boolean | null;
}

export interface DirectorApiDefinition {
  id: string;
  name: string;
  description: string | null;
  /** `targetURL` in the Director API. */
  targetUrl: string;
  group: string | null;
  version: DirectorVersion | null;
}

export interface DirectorEventDefinition {
  id: string;
  name: string;
  description: string | null;
  group: string | null;
  version: DirectorVersion | null;
}

/** HttpHeaders / QueryParams scalars: name → values. */
export type MultiValueMap = Record<string, string[]>;

export interface BasicCredential {
  type: "Basic";
  username: string;
  password: string;
}

export interface OAuthCredential {
  type: "OAuth";
  clientId: string;
  clientSecret: string;
  /** Token endpoint. */
  url: string;
}

export interface CertificateOAuthCredential {
  type: "CertificateOAuth";
  clientId: string;
  /** The certificate Compass holds for the client (no private key). */
  certificate: string;
  url: string;
}

/** A member of the CredentialData union, told apart by `__typename` on the wire and by `type` here. */
export type DirectorCredential = BasicCredential | OAuthCredential | CertificateOAuthCredential;

export interface DirectorCsrf {
  /** `tokenEndpointURL` in the Director API. */
  tokenEndpointUrl: string;
  credential: DirectorCredential | null;
  additionalHeaders: MultiValueMap | null;
  additionalQueryParams: MultiValueMap | null;
}

export interface DirectorAuth {
  credential: DirectorCredential | null;
  additionalHeaders: MultiValueMap | null;
  additionalQueryParams: MultiValueMap | null;
  /** `requestAuth.csrf` */
  csrf: DirectorCsrf | null;
}

/** A runtime label as `setRuntimeLabel` / `deleteRuntimeLabel` return it. */
export interface RuntimeLabel {
  key: string;
  value: unknown;
}

/** What one listing cost; for logs, metrics and benchmarks. */
export interface ListingStats {
  /** HTTP requests made, over all attempts. */
  requests: number;
  /** Response body bytes received, over all attempts. */
  bytesReceived: number;
  /** Pages of `applicationsForRuntime` read (first pages of nested lists come with them). */
  applicationPages: number;
  /** Extra requests for further pages of bundles, API definitions or event definitions. */
  nestedPages: number;
  /** 1, or 2 when the first attempt saw the pages shift and the listing started over. */
  attempts: number;
  /** Why the first attempt was abandoned, when it was. */
  restartReason: string | null;
}

/** Receives a listing's applications one by one (streamApplicationsForRuntime, relistApplicationsForRuntime). */
export interface ApplicationSink {
  /**
   * A listing attempt starts. Called before the first application; called again when the pages of the first attempt
   * did not fit together (Compass changed while the client paged) and the listing starts over: drop what it gave.
   */
  restart(): void;
  /** One complete application (every nested page fetched, nested lists sorted by id); the client keeps nothing of it. */
  add(application: DirectorApplication): void;
}

/** A full listing whose applications went to a sink as they arrived (in the Director's order), none kept. */
export interface ApplicationStream {
  /** Always false: a full listing (relistApplicationsForRuntime's other answer is `unchanged: true`). */
  unchanged: false;
  /** Applications the sink was given since its last `restart`. */
  applicationCount: number;
  /** `totalCount` Compass reported last; equal to `applicationCount` when `consistent`. */
  totalCount: number;
  stats: ListingStats;
  /**
   * SHA-256 (hex) of the applications by id, each with its nested lists in id order: an equal digest means the same
   * applications, whatever order Compass sent them and their nested lists in (a cheap "nothing changed in Compass").
   */
  digest: string;
  /**
   * True when every page fitted together: the applications are everything assigned to the runtime. False only with
   * `allowInconsistent`, when Compass kept changing during both attempts: each application is complete, but some may
   * be missing. Create and update from it; never delete because of it.
   */
  consistent: boolean;
  /** Why the listing is not consistent; null when it is. */
  inconsistency: string | null;
  /** For relistApplicationsForRuntime: what this listing asked and was answered. Null when it is not consistent. */
  replay: ListingReplay | null;
}

/** A full listing with its applications (listApplicationsForRuntime). */
export interface ApplicationListing extends ApplicationStream {
  /** Sorted by id. */
  applications: DirectorApplication[];
}
