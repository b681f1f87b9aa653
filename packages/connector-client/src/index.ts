export { ConnectorClient, DEFAULT_TIMEOUT_MS, toConnectorError } from "./client.js";
export type { CallOptions, ConnectorAuth, ConnectorClientOptions } from "./client.js";
export { ConnectorError, ConnectorErrorCode, isConnectorError } from "./errors.js";
export type { ConnectorErrorDetails } from "./errors.js";
export { classifyTransportError, CompassTransport, parseRetryAfter } from "./transport.js";
export type { ClientCertificate, CompassTransportOptions, TlsTrust, TransportFailureKind } from "./transport.js";
export type { CertificationResult, ConnectorConfiguration } from "./validate.js";
export * as ConnectorGraphQL from "./generated/graphql.js";
