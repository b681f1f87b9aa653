/**
 * @runtime-agent/compass-sim: a faithful Compass (Connector and Director) for tests, the demo and tools.
 */
export {
  startCompassSimulator,
  type CompassSimulator,
  type CompassSimulatorOptions,
  type OneTimeTokenView,
  type SignedCertificate,
} from "./simulator.js";
export { SimClock, type Clock } from "./clock.js";
export {
  CompassState,
  StateError,
  DEFAULT_TENANT,
  DEFAULT_RUNTIME_TYPE,
  DEFAULT_STATE_CONFIG,
  runtimeLabels,
  generateOneTimeToken,
  normalizeFingerprint,
  type StateConfig,
  type StateSnapshot,
  type Tenant,
  type Runtime,
  type RuntimeCondition,
  type CreateRuntimeInput,
  type SystemAuth,
  type SystemAuthReferenceType,
  type OneTimeToken,
  type OneTimeTokenType,
  type TokenRejection,
  type IssuedCertificate,
  type Application,
  type ApplicationCondition,
  type Bundle,
  type BundleInstanceAuth,
  type BundleInstanceAuthCondition,
  type ApiDefinition,
  type EventDefinition,
  type DocumentDefinition,
  type Auth,
  type Credential,
  type BasicCredential,
  type OAuthCredential,
  type CertificateOAuthCredential,
  type Version,
  type Formation,
  type JsonValue,
  type RequestLogEntry,
  type ListenerName,
  type FaultRule,
  type FaultRuleInput,
} from "./state.js";
export {
  DEFAULT_SUBJECT,
  CsrError,
  subjectString,
  validateCsr,
  decodeStdBase64,
  decodeFirstPemBlock,
  type SubjectConstants,
  type ValidatedCsr,
} from "./csr.js";
export { CONNECTOR_MESSAGES, type ConfigurationResult, type ConnectorContext } from "./connector.js";
export {
  AppError,
  createDirector,
  decodeCursor,
  directorSchema,
  DIRECTOR_NOT_IMPLEMENTED,
  encodeCursor,
  ErrorCode,
  formatTimestamp,
  nameForRuntime,
  normalizeName,
  paginate,
  placeholderDirector,
  presentDirectorError,
  RUNTIME_SCOPES,
  runtimeNormalizes,
  validateLabelInput,
  type DirectorFactory,
  type DirectorHandler,
  type DirectorOptions,
  type DirectorRequest,
  type DirectorEnvironment,
  type Page,
} from "./director.js";
export {
  createApplication,
  InputError,
  parseApplicationInput,
  parseApplicationPatch,
  parseAuth,
  parseCredential,
  patchApplication,
  type ApiDefinitionInput,
  type ApplicationInput,
  type ApplicationPatch,
  type BundleInput,
  type BundleInstanceAuthInput,
  type EventDefinitionInput,
} from "./applications.js";
export { applicationJson, type ApplicationJson } from "./views.js";
export { FaultInputError, parseFaultRule, describeFault } from "./faults.js";
export { generateApplications, GENERATE_DEFAULTS, type GenerateOptions, type GeneratedSet } from "./generate.js";
export type { Identity, AuthOutcome } from "./identity.js";
export type { CertificationResult } from "./issuer.js";
export { directorInternalError, gqlerrorText, gqlparserMessage, INTERNAL_ERROR } from "./gqlgen-errors.js";
export { decodeGraphQLBody, type GoDecodeResult } from "./go-json.js";
export { DEFAULT_DIRECTOR_OUTAGE, parseDirectorOutage, type DirectorOutageInput } from "./outage.js";
export {
  executeOperation,
  prepareOperation,
  parseGetRequest,
  parseRequestBody,
  type GraphQLDialect,
  formatResolverError,
  type GraphQLHttpResult,
  type GraphQLRequestBody,
  type GraphQLResponseJson,
  type GraphQLErrorJson,
  type ErrorFormatter,
} from "./graphql-http.js";
export { applySeed, readSeedFile, SeedError, type SeedData, type SeedReport, type SeedRuntime, type SeedTenant, type SeedFormation } from "./seed.js";
export { schemaPath, loadSchema, loadSchemaSource, schemaExists, type SchemaName } from "./schemas.js";
export { parseDuration } from "./duration.js";
export { startConnectProxy, type ConnectProxy, type ConnectProxyOptions, type ConnectRecord } from "./connect-proxy.js";
