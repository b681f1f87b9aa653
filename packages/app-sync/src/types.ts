/**
 * Kubernetes objects as app-sync produces and reads them. The desired objects have the JSON shape Kyma's Go agent
 * writes (Go `omitempty` rules included); the actual objects are structural, so the store can pass
 * @kubernetes/client-node objects (V1Secret, or a custom object) straight in.
 */

export const APPLICATION_API_VERSION = "applicationconnector.kyma-project.io/v1alpha1";
export const APPLICATION_KIND = "Application";
/** The label the Go agent puts on every Application it writes; app-sync also puts it on its Secrets. */
export const MANAGED_BY_LABEL = "applicationconnector.kyma-project.io/managed-by";
export const MANAGED_BY_VALUE = "compass-runtime-agent";
/** Hash of the managed content written with it (sha256 hex of the stable JSON of managed labels + spec / data). */
export const DESIRED_HASH_ANNOTATION = "compass.kyma-project.io/desired-hash";
/** Key of the spec label that names the application (`spec.labels.connected-app`). */
export const CONNECTED_APP_LABEL = "connected-app";
export const DEFAULT_DESCRIPTION = "Description not provided";

export interface CsrfInfo {
  tokenEndpointURL: string;
}

/** `entries[].credentials`. The Go agent always writes at least `{type: "", secretName: ""}`. */
export interface ApplicationCredentials {
  type: "OAuth" | "Basic" | "";
  secretName: string;
  authenticationUrl?: string;
  csrfInfo?: CsrfInfo;
}

export interface ApplicationEntry {
  type: "API" | "Events";
  targetUrl: string;
  credentials: ApplicationCredentials;
  id: string;
  name: string;
  centralGatewayUrl: string;
  gatewayUrl: string;
  requestParametersSecretName?: string;
}

export interface ApplicationService {
  id: string;
  identifier: string;
  name: string;
  displayName: string;
  description: string;
  /** Stringified JSON, as the Director's `instanceAuthRequestInputSchema`; omitted when the bundle has none. */
  authCreateParameterSchema?: string;
  entries: ApplicationEntry[];
  providerDisplayName: string;
}

export interface ApplicationSpec {
  description: string;
  skipVerify: boolean;
  /** Always false, as the Go agent writes it (the CRD default true never applies to agent-made Applications). */
  encodeUrl: boolean;
  labels: Record<string, string>;
  displayName: string;
  providerDisplayName: string;
  longDescription: string;
  services: ApplicationService[];
  compassMetadata: {
    applicationId: string;
    authentication: { clientIds: string[] };
  };
}

/** A complete Kyma Application CR (cluster-scoped), ready to be created. */
export interface DesiredApplication {
  apiVersion: typeof APPLICATION_API_VERSION;
  kind: typeof APPLICATION_KIND;
  metadata: {
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: ApplicationSpec;
}

/** A complete Secret without its owner reference. `data` values are base64, as in the Kubernetes API. */
export interface SecretManifest {
  apiVersion: "v1";
  kind: "Secret";
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  type: "Opaque";
  data: Record<string, string>;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/**
 * A Secret app-sync wants, and the Application that owns it. The owner's UID exists only once the Application does,
 * so the store adds the owner reference when it writes (see `withOwnerReference`), as the Go agent did.
 */
export interface DesiredSecret {
  secret: SecretManifest;
  /** Name of the owning Application (cluster-scoped). */
  ownerApplication: string;
  purpose: "credentials" | "request-parameters";
  applicationId: string;
  bundleId: string;
}

/** An application the agent cannot sync this time; its objects in the cluster are left as they are. */
export interface Conflict {
  applicationId: string;
  name: string;
  reason: string;
}

/** Something synced, but not completely (e.g. a credential Kyma cannot use). */
export interface Warning {
  applicationId: string;
  name: string;
  bundleId?: string;
  reason: string;
}

export interface DesiredState {
  applications: DesiredApplication[];
  secrets: DesiredSecret[];
  conflicts: Conflict[];
  warnings: Warning[];
  /** Whether the agent normalized names (runtime label `isNormalized` is not the string "true"). */
  normalized: boolean;
}

// ---- what the store reads back ----------------------------------------------------------------------------------

export interface ObjectMetaLike {
  name?: string | undefined;
  namespace?: string | undefined;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  ownerReferences?: OwnerReference[] | undefined;
}

/**
 * The content hash of an actual object, computed when it was read (`applicationContentHashOf`,
 * `secretContentHashOf`), so that a caller may keep only the metadata of what it read and still plan.
 */
export interface ContentHash {
  /** The managed label keys the hash covers, sorted and joined with "," (see `labelKeysOf`). */
  labelKeys: string;
  /** `applicationContentHash` / `secretContentHash` of those labels and the spec / data. */
  value: string;
}

export interface ActualApplication {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: ObjectMetaLike | undefined;
  spec?: unknown;
  status?: unknown;
  /** Used instead of hashing `spec` when it covers the desired object's label keys. */
  contentHash?: ContentHash | undefined;
}

export interface ActualSecret {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: ObjectMetaLike | undefined;
  type?: string | undefined;
  data?: Record<string, string> | undefined;
  /** Used instead of hashing `data` when it covers the desired object's label keys. */
  contentHash?: ContentHash | undefined;
}

export interface ActualState {
  applications: readonly ActualApplication[];
  /** Secrets of the integration namespace (at least those carrying the managed label or an `app` label). */
  secrets: readonly ActualSecret[];
}
