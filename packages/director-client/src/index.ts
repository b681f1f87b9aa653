export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_PAGE_SIZE,
  DEFAULT_TIMEOUT_MS,
  DirectorClient,
  MAX_PAGE_SIZE,
  NESTED_PAGE_SIZE,
} from "./client.js";
export type { DirectorCallOptions, DirectorClientOptions, ListApplicationsOptions, ListingReplay, ListingUnchanged, RelistApplicationsOptions } from "./client.js";
export { CompassErrorCode, DirectorError, DirectorErrorCode, isDirectorError, isRetryableCode } from "./errors.js";
export type { CompassGraphQLError, DirectorErrorDetails } from "./errors.js";
export { codeForCompassError, toDirectorError } from "./error-mapping.js";
export type { FailureContext } from "./error-mapping.js";
export type {
  ApplicationListing,
  ApplicationSink,
  ApplicationStream,
  BasicCredential,
  CertificateOAuthCredential,
  DirectorApiDefinition,
  DirectorApplication,
  DirectorAuth,
  DirectorBundle,
  DirectorCredential,
  DirectorCsrf,
  DirectorEventDefinition,
  DirectorVersion,
  ListingStats,
  MultiValueMap,
  OAuthCredential,
  RuntimeLabel,
} from "./model.js";
export * as DirectorGraphQL from "./generated/graphql.js";
