export { createK8sStore } from "./store.js";
export type { K8sStore, K8sStoreOptions } from "./store.js";

export { K8sStoreError, isK8sStoreError, isNotFound, isConflict, isAlreadyExists, toK8sStoreError, parseStatusBody } from "./errors.js";
export type { K8sStoreErrorCode, K8sStoreErrorOptions, ApiStatus } from "./errors.js";

export { loadKubeConfig } from "./kubeconfig.js";
export type { ExecPlugin, KubeConfigOptions, KubeConfigSource, KubeCredentials, KubeTls, LoadedKubeConfig } from "./kubeconfig.js";

export { RequestCounter, diffCounts, K8S_VERBS, WRITE_VERBS } from "./counter.js";
export type { K8sVerb, RequestCounts, RequestRecord, RequestListener } from "./counter.js";

export {
  FINGERPRINT_ANNOTATION,
  MANAGEMENT_INFO_ANNOTATION,
  PAIRED_TOKEN_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  DEFAULT_MANAGED_SELECTOR,
  FIELD_MANAGER,
} from "./meta.js";
export type { ObjectMeta, OwnerReference, ObjectReference } from "./meta.js";

export {
  CompassConnectionStore,
  parseCompassConnection,
  setCondition,
  COMPASS_GROUP,
  COMPASS_VERSION,
  COMPASS_PLURAL,
  COMPASS_KIND,
  COMPASS_API_VERSION,
  DEFAULT_COMPASS_CONNECTION_NAME,
  CONNECTION_STATES,
} from "./compass-connection.js";
export type {
  CompassConnection,
  CompassConnectionSpec,
  CompassConnectionStatus,
  ConnectionState,
  ConnectionStatus,
  CertificateStatus,
  SynchronizationStatus,
  Condition,
  ManagementInfo,
  NewCompassConnection,
  Timestamp,
  Mutation,
  MutateResult,
  CompassConnectionStoreOptions,
  WithResourceVersion,
} from "./compass-connection.js";

export {
  SecretStore,
  parseSecret,
  agentConfigurationFromData,
  parseManagementInfo,
  clientCertificateFromData,
  caCertificateFromData,
  certificateFingerprint,
  checkKeyPair,
  classifyCredentials,
  secretBody,
} from "./secrets.js";
export type {
  SecretObject,
  SecretMetadata,
  SecretRef,
  AgentConfiguration,
  ClientCertificateData,
  CaCertificateData,
  Credentials,
  CredentialLocations,
  CredentialRecord,
  CredentialsReadResult,
  MissingCredentialPart,
  UpsertSecretOptions,
  UpsertResult,
  DesiredSecret,
  SecretStoreOptions,
} from "./secrets.js";

export { ConfigMapStore } from "./config-maps.js";
export type { ConfigMapObject } from "./config-maps.js";

export {
  ApplicationStore,
  parseApplication,
  selectorFor,
  hasLabels,
  APPLICATION_GROUP,
  APPLICATION_VERSION,
  APPLICATION_PLURAL,
  APPLICATION_KIND,
  APPLICATION_API_VERSION,
  APP_SECRET_SELECTOR,
  DEFAULT_INTEGRATION_NAMESPACE,
} from "./applications.js";
export type {
  Application,
  ApplicationSpec,
  ApplicationService,
  ApplicationEntry,
  ApplicationCredentials,
  ApplicationStatus,
  DesiredApplication,
  DesiredAppSecret,
  ApplicationStoreOptions,
} from "./applications.js";

export { EventRecorder } from "./events.js";
export type { EventType, EventRecorderOptions } from "./events.js";

export { LeaderElector, defaultIdentity, leaderElectionTimingProblems } from "./leader-election.js";
export type { LeaderElectionOptions, LeaderElectionTiming } from "./leader-election.js";

export { Informer } from "./informer.js";
export type { MetadataWatch, MetadataWatchHandlers } from "./metadata-watch.js";
export type { InformerOptions, InformerStatus, InformerEvent, InformerHandlers } from "./informer.js";

export { retryOnConflict } from "./retry.js";
export type { ConflictRetryOptions } from "./retry.js";

export { backoffDelay } from "./util.js";
export type { BackoffOptions } from "./util.js";
