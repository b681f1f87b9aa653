export { buildDesiredState, DesiredStateBuilder } from "./desired.js";
export type { DesiredStateOptions } from "./desired.js";
export { mergeApplication, mergeSecret, plan, withOwnerReference } from "./plan.js";
export type {
  ApplicationUpdate,
  KeptObject,
  ObjectPlan,
  ObjectRef,
  Plan,
  PlanConflict,
  PlanOptions,
  SecretUpdate,
  UpdateReason,
} from "./plan.js";
export {
  credentialsSecretName,
  isDnsLabel,
  isDnsSubdomain,
  normalizeApplicationName,
  normalizeGatewayName,
  requestParametersSecretName,
  serviceName,
  shouldNormalize,
} from "./names.js";
export {
  APPLICATION_LABEL_KEYS,
  SECRET_LABEL_KEYS,
  applicationContentHash,
  applicationContentHashOf,
  fromBase64,
  goJsonMultiMap,
  labelKeysOf,
  secretContentHash,
  secretContentHashOf,
  stableStringify,
  toBase64,
} from "./hash.js";
export {
  APPLICATION_API_VERSION,
  APPLICATION_KIND,
  CONNECTED_APP_LABEL,
  DEFAULT_DESCRIPTION,
  DESIRED_HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from "./types.js";
export type {
  ActualApplication,
  ActualSecret,
  ActualState,
  ApplicationCredentials,
  ApplicationEntry,
  ApplicationService,
  ApplicationSpec,
  Conflict,
  ContentHash,
  CsrfInfo,
  DesiredApplication,
  DesiredSecret,
  DesiredState,
  ObjectMetaLike,
  OwnerReference,
  SecretManifest,
  Warning,
} from "./types.js";
