import { createHash } from "node:crypto";
import { CertificateError, shouldRenew } from "@runtime-agent/cert-manager";
import { ConnectorError, ConnectorErrorCode } from "@runtime-agent/connector-client";
import type { ConnectorConfiguration } from "@runtime-agent/connector-client";
import type { AgentConfiguration, CompassConnection, CredentialLocations, CredentialsReadResult, K8sStore, ManagementInfo, MissingCredentialPart } from "@runtime-agent/k8s-store";
import type { AgentConfig } from "../config/schema.js";
import type { Logger } from "../observability/logger.js";
import type { CompassSession } from "./compass-session.js";
import { fromSecretData, toSecretData } from "./credentials.js";
import type { AgentCredentials } from "./credentials.js";
import { describe } from "./describe-error.js";

export interface ConnectionContext {
  config: AgentConfig;
  store: K8sStore;
  session: CompassSession;
  log: Logger;
  now: Date;
  requestId: string;
  signal: AbortSignal;
}

/** What the connection phase concluded; the reconciler turns it into status. */
export type ConnectionOutcome =
  | { kind: "paired"; credentials: AgentCredentials; configuration: ConnectorConfiguration }
  | { kind: "maintained"; configuration: ConnectorConfiguration; renewed: AgentCredentials | undefined }
  /** `requeueAfterMs`: when trying again can help (a refused credential's backoff, or a new token); else the usual backoff. */
  | { kind: "connection-failed"; message: string; requeueAfterMs?: number | undefined; retryAfterMs?: number | undefined }
  | { kind: "maintenance-failed"; message: string; retryAfterMs?: number | undefined };

/** How long Compass asked to wait (HTTP 429 or 503 with Retry-After), when it did. */
export function retryAfterOf(error: unknown): number | undefined {
  const value = (error as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

export function credentialLocations(config: AgentConfig): CredentialLocations {
  return { clientCertificate: config.clusterCertificatesSecret, caCertificate: config.caCertificatesSecret };
}

export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function configSecretName(config: AgentConfig): string {
  return `${config.agentConfigurationSecret.namespace}/${config.agentConfigurationSecret.name}`;
}

/** Why the config Secret cannot start a pairing (read, CONNECTOR_URL, TOKEN), or undefined when it can. */
export function pairingConfigProblem(config: AgentConfig, agentConfig: AgentConfiguration | undefined): string | undefined {
  const secret = configSecretName(config);
  if (!agentConfig) return `Failed to read the configuration Secret ${secret}`;
  const connectorUrl = agentConfig.connectorUrl.trim();
  const token = agentConfig.token.trim();
  if (connectorUrl === "") return `Failed to establish connection: CONNECTOR_URL in Secret ${secret} is empty`;
  if (!isHttpsUrl(connectorUrl)) return `Failed to establish connection: CONNECTOR_URL in Secret ${secret} is not an https URL`;
  if (token === "" || /[\s\p{Cc}]/u.test(token)) {
    return `Failed to establish connection: TOKEN in Secret ${secret} is ${token === "" ? "empty" : "malformed (whitespace or control characters)"}`;
  }
  return undefined;
}

export type PairingResult =
  | { kind: "paired"; credentials: AgentCredentials; configuration: ConnectorConfiguration }
  /** Compass did not accept the token (or could not authenticate it) or issued nothing usable. */
  | { kind: "refused"; message: string }
  /** Unreachable, timed out, a bad answer: the same token can be tried again (with the token Compass returned). */
  | { kind: "failed"; message: string; retryAfterMs: number | undefined };

/** The token flow with the config Secret's CONNECTOR_URL and TOKEN (checked by pairingConfigProblem). Stores nothing. */
export async function pair(ctx: ConnectionContext, agentConfig: AgentConfiguration): Promise<PairingResult> {
  const connectorUrl = agentConfig.connectorUrl.trim();
  const token = agentConfig.token.trim();
  if (ctx.session.hasRetryToken(connectorUrl, token)) {
    ctx.log.info("retrying the pairing with the one-time token Compass returned last time (the configured one was spent by that attempt)");
  }
  try {
    const { credentials, configuration } = await ctx.session.pair(connectorUrl, token, ctx.requestId, ctx.signal);
    return { kind: "paired", credentials, configuration };
  } catch (error) {
    const message = `Failed to establish connection with the one-time token: ${describe(error)}`;
    // Refused, or a certificate we could not accept: either way Compass has spent the token (or, for
    // CONNECTOR_NOT_AUTHENTICATED, could not authenticate it at all).
    const refused = isRefusal(error) || error instanceof CertificateError || (error instanceof ConnectorError && error.code === ConnectorErrorCode.REJECTED);
    return refused ? { kind: "refused", message } : { kind: "failed", message, retryAfterMs: retryAfterOf(error) };
  }
}

/**
 * Writes a certificate into the Secrets (after pairing, renewal, or again after a write failed), with the URLs it
 * is for and, after a pairing, the digest of the token it spent: an agent killed before it records the URLs in the
 * CompassConnection can still use the certificate, and knows that token is spent.
 */
export async function storeCredentials(
  ctx: ConnectionContext,
  credentials: AgentCredentials,
  configuration: ConnectorConfiguration,
  pairedTokenSha256?: string,
): Promise<void> {
  await ctx.store.secrets.writeCredentials(credentialLocations(ctx.config), toSecretData(credentials), {
    managementInfo: managementInfoOf(configuration),
    ...(pairedTokenSha256 ? { pairedTokenSha256 } : {}),
  });
}

/** The URLs a certificate is used with, as the CompassConnection's spec.managementInfo holds them. */
export function managementInfoOf(configuration: { certificateSecuredConnectorUrl: string; directorUrl: string }): ManagementInfo {
  return { connectorUrl: configuration.certificateSecuredConnectorUrl, directorUrl: configuration.directorUrl };
}

/**
 * Loads the credentials from the Secrets into the session. Returns whether the Secrets need repair (missing,
 * mismatched or corrupt) and whether the session still holds a certificate to repair them with.
 */
export async function loadCredentials(ctx: ConnectionContext): Promise<{ repair: string | undefined; usable: boolean }> {
  const locations = credentialLocations(ctx.config);
  let read = await ctx.store.secrets.readCredentials(locations);
  let legacy: string | undefined;
  if (read.state === "missing") {
    const found = await readLegacyCredentials(ctx, locations, read.missing);
    if (found) ({ read, from: legacy } = found);
  }
  if (read.state === "complete") {
    try {
      ctx.session.use(fromSecretData(read.credentials));
      // Renewed over mTLS and written to the configured Secrets by the repair (the legacy ones are left as they are).
      return { repair: legacy && `credential Secrets found in the legacy namespace ${LEGACY_NAMESPACE} (${legacy}), not where configured`, usable: true };
    } catch (error) {
      return { repair: `the client certificate Secret cannot be read: ${describe(error)}`, usable: ctx.session.credentials !== undefined };
    }
  }
  const why =
    read.state === "missing"
      ? `credential Secrets incomplete (missing ${read.missing.join(", ")})`
      : read.state === "mismatched"
        ? `credential Secrets disagree: ${read.detail}`
        : `credential Secrets corrupt: ${read.detail}`;
  if (!ctx.session.credentials) {
    // The client certificate Secret itself is intact (only the CA Secret is missing or stale): use it to renew and
    // rewrite both, as the Go agent does after a restart, instead of needing a new one-time token.
    const partial = read.state === "mismatched" ? read.credentials : read.partial;
    const intact =
      read.state === "mismatched" || (read.state === "missing" && !read.missing.some((part) => part === "clientCertificateSecret" || part === "crt" || part === "key"));
    if (intact && partial.crt && partial.key) {
      try {
        ctx.session.use(fromSecretData({ crt: partial.crt, key: partial.key, crtChain: partial.crtChain ?? "", cacert: partial.cacert ?? "" }));
      } catch {
        // fall through: nothing usable
      }
    }
  }
  return { repair: why, usable: ctx.session.credentials !== undefined };
}

/** Where Kyma kept the agent's Secrets before it moved them to kyma-system; an upgraded cluster may still have them there. */
const LEGACY_NAMESPACE = "compass-system";

/**
 * The configured credential Secrets are missing: a client certificate or CA Secret of the same name in the legacy
 * namespace stands in for each missing one. Only a complete pair counts; a legacy Secret that cannot be read (the
 * RBAC component for it is optional) counts as absent.
 */
async function readLegacyCredentials(
  ctx: ConnectionContext,
  locations: CredentialLocations,
  missing: readonly MissingCredentialPart[],
): Promise<{ read: CredentialsReadResult; from: string } | undefined> {
  const moved = { ...locations };
  const from: string[] = [];
  if (missing.includes("clientCertificateSecret") && locations.clientCertificate.namespace !== LEGACY_NAMESPACE) {
    moved.clientCertificate = { namespace: LEGACY_NAMESPACE, name: locations.clientCertificate.name };
    from.push(`${LEGACY_NAMESPACE}/${locations.clientCertificate.name}`);
  }
  if (missing.includes("caCertificateSecret") && locations.caCertificate.namespace !== LEGACY_NAMESPACE) {
    moved.caCertificate = { namespace: LEGACY_NAMESPACE, name: locations.caCertificate.name };
    from.push(`${LEGACY_NAMESPACE}/${locations.caCertificate.name}`);
  }
  if (from.length === 0) return undefined;
  try {
    const read = await ctx.store.secrets.readCredentials(moved);
    return read.state === "complete" ? { read, from: from.join(", ") } : undefined;
  } catch (error) {
    ctx.log.debug({ reason: describe(error) }, `cannot read the credential Secrets in the legacy namespace ${LEGACY_NAMESPACE}`);
    return undefined;
  }
}

/**
 * The maintenance pass over mTLS: `configuration` as a connection check (new URLs are taken over), then a
 * renewal when forced, due by the renewal rule, or needed to repair the Secrets.
 */
export async function maintain(
  ctx: ConnectionContext,
  cc: CompassConnection,
  repair: string | undefined,
): Promise<ConnectionOutcome | { kind: "certificate-refused"; message: string }> {
  const connectorUrl = cc.spec.managementInfo.connectorUrl;
  let configuration: ConnectorConfiguration;
  try {
    configuration = await ctx.session.checkConnection(connectorUrl, ctx.requestId, ctx.signal);
  } catch (error) {
    return certificateFailure(ctx, error, "Error while trying to maintain connection");
  }
  const current = ctx.session.credentials as AgentCredentials;
  const policy = shouldRenew({
    notBefore: current.notBefore,
    notAfter: current.notAfter,
    now: ctx.now,
    threshold: ctx.config.certValidityRenewalThreshold,
    minimalSyncTimeMs: ctx.config.minimalCompassSyncTime,
    force: cc.spec.refreshCredentialsNow === true,
  });
  if (!policy.renew && repair === undefined) return { kind: "maintained", configuration, renewed: undefined };

  ctx.log.info({ reason: repair ?? policy.reason, notAfter: current.notAfter.toISOString() }, "renewing the client certificate");
  try {
    const renewed = await ctx.session.renew(configuration.certificateSecuredConnectorUrl, ctx.requestId, ctx.signal);
    await storeCredentials(ctx, renewed.credentials, renewed.configuration);
    ctx.session.use(renewed.credentials);
    return { kind: "maintained", configuration: renewed.configuration, renewed: renewed.credentials };
  } catch (error) {
    return certificateFailure(ctx, error, "Error while renewing the client certificate");
  }
}

/** Whether Compass's answer says it did not accept the client certificate (or a token): 400-empty or an auth error. */
function isRefusal(error: unknown): boolean {
  return error instanceof ConnectorError && (error.code === ConnectorErrorCode.AUTH_FAILED || error.code === ConnectorErrorCode.NOT_AUTHENTICATED);
}

/** A certificate Compass refuses (revoked, expired, unknown — or its authentication failing) is set aside for now. */
function certificateFailure(ctx: ConnectionContext, error: unknown, prefix: string): ConnectionOutcome | { kind: "certificate-refused"; message: string } {
  const current = ctx.session.credentials;
  const expired = current !== undefined && current.notAfter.getTime() <= ctx.now.getTime();
  if (isRefusal(error) || expired) {
    const why = expired ? `the client certificate expired at ${current?.notAfter.toISOString()}` : "Compass did not accept the client certificate";
    ctx.session.forget();
    return { kind: "certificate-refused", message: `${prefix}: ${why}: ${describe(error)}` };
  }
  return { kind: "maintenance-failed", message: `${prefix}: ${describe(error)}`, retryAfterMs: retryAfterOf(error) };
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === "https:";
  } catch {
    return false;
  }
}
