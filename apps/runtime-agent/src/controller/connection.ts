import { createHash } from "node:crypto";
import { CertificateError, shouldRenew } from "@runtime-agent/cert-manager";
import { ConnectorError, ConnectorErrorCode } from "@runtime-agent/connector-client";
import type { ConnectorConfiguration } from "@runtime-agent/connector-client";
import type { AgentConfiguration, CompassConnection, CredentialLocations, K8sStore } from "@runtime-agent/k8s-store";
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
  | { kind: "skipped"; retryInMs: number }
  | { kind: "connection-failed"; message: string; tokenRefused: boolean; waitForNewToken: boolean; retryAfterMs?: number | undefined }
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

/**
 * The token flow with the config Secret's CONNECTOR_URL and TOKEN, then the credentials are stored.
 * A token Compass already refused is not sent again: the operator must write a new one (the Secret is watched).
 */
export async function establish(
  ctx: ConnectionContext,
  agentConfig: AgentConfiguration | undefined,
  refusedTokenDigest: string | undefined,
  /** Why that token failed, repeated in the status (the first failure's message is overwritten by the next cycle). */
  refusedReason?: string,
): Promise<ConnectionOutcome> {
  const secret = `${ctx.config.agentConfigurationSecret.namespace}/${ctx.config.agentConfigurationSecret.name}`;
  if (!agentConfig) {
    return { kind: "connection-failed", message: `Failed to read the configuration Secret ${secret}`, tokenRefused: false, waitForNewToken: true };
  }
  const connectorUrl = agentConfig.connectorUrl.trim();
  const token = agentConfig.token.trim();
  if (connectorUrl === "") {
    return { kind: "connection-failed", message: `Failed to establish connection: CONNECTOR_URL in Secret ${secret} is empty`, tokenRefused: false, waitForNewToken: true };
  }
  if (!isHttpsUrl(connectorUrl)) {
    return { kind: "connection-failed", message: `Failed to establish connection: CONNECTOR_URL in Secret ${secret} is not an https URL`, tokenRefused: false, waitForNewToken: true };
  }
  if (token === "" || /[\s\p{Cc}]/u.test(token)) {
    return {
      kind: "connection-failed",
      message: `Failed to establish connection: TOKEN in Secret ${secret} is ${token === "" ? "empty" : "malformed (whitespace or control characters)"}`,
      tokenRefused: false,
      waitForNewToken: true,
    };
  }
  if (refusedTokenDigest !== undefined && tokenDigest(token) === refusedTokenDigest) {
    return {
      kind: "connection-failed",
      message: `The one-time token in Secret ${secret} was refused by Compass (used or expired); write a new TOKEN into the Secret${refusedReason ? `. Last attempt: ${refusedReason}` : ""}`,
      tokenRefused: true,
      waitForNewToken: true,
    };
  }
  if (ctx.session.hasRetryToken(connectorUrl, token)) {
    ctx.log.info("retrying the pairing with the one-time token Compass returned last time (the configured one was spent by that attempt)");
  }
  try {
    const { credentials, configuration } = await ctx.session.pair(connectorUrl, token, ctx.requestId, ctx.signal);
    await ctx.store.secrets.writeCredentials(credentialLocations(ctx.config), toSecretData(credentials));
    ctx.session.use(credentials);
    return { kind: "paired", credentials, configuration };
  } catch (error) {
    // Refused, or a certificate we could not accept: either way Compass has spent the token.
    const refused =
      error instanceof CertificateError ||
      (error instanceof ConnectorError && (error.code === ConnectorErrorCode.AUTH_FAILED || error.code === ConnectorErrorCode.REJECTED));
    return {
      kind: "connection-failed",
      message: `Failed to establish connection with the one-time token: ${describe(error)}`,
      tokenRefused: refused,
      waitForNewToken: refused,
      retryAfterMs: retryAfterOf(error),
    };
  }
}

/**
 * Loads the credentials from the Secrets into the session. Returns whether the Secrets need repair (missing,
 * mismatched or corrupt) and whether the session still holds a certificate to repair them with.
 */
export async function loadCredentials(ctx: ConnectionContext): Promise<{ repair: string | undefined; usable: boolean }> {
  const read = await ctx.store.secrets.readCredentials(credentialLocations(ctx.config));
  if (read.state === "complete") {
    try {
      ctx.session.use(fromSecretData(read.credentials));
      return { repair: undefined, usable: true };
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

/**
 * The maintenance pass over mTLS: `configuration` as a connection check (new URLs are taken over), then a
 * renewal when forced, due by the renewal rule, or needed to repair the Secrets.
 */
export async function maintain(ctx: ConnectionContext, cc: CompassConnection, repair: string | undefined): Promise<ConnectionOutcome> {
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
    await ctx.store.secrets.writeCredentials(credentialLocations(ctx.config), toSecretData(renewed.credentials));
    ctx.session.use(renewed.credentials);
    return { kind: "maintained", configuration: renewed.configuration, renewed: renewed.credentials };
  } catch (error) {
    return certificateFailure(ctx, error, "Error while renewing the client certificate");
  }
}

/** A certificate Compass refuses (revoked, expired, unknown) sends the agent back to the token flow. */
function certificateFailure(ctx: ConnectionContext, error: unknown, prefix: string): ConnectionOutcome {
  const current = ctx.session.credentials;
  const expired = current !== undefined && current.notAfter.getTime() <= ctx.now.getTime();
  if ((error instanceof ConnectorError && error.code === ConnectorErrorCode.AUTH_FAILED) || expired) {
    const why = expired ? `the client certificate expired at ${current?.notAfter.toISOString()}` : "Compass refused the client certificate (revoked, expired or unknown)";
    ctx.session.forget();
    return { kind: "connection-failed", message: `${prefix}: ${why}: ${describe(error)}; falling back to the one-time token`, tokenRefused: false, waitForNewToken: false };
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
