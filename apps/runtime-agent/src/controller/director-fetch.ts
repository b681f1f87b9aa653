import { DirectorError, DirectorErrorCode } from "@runtime-agent/director-client";
import type { DirectorApplication } from "@runtime-agent/director-client";
import { retryAfterOf } from "./connection.js";
import { describe } from "./describe-error.js";
import type { SyncContext, SyncOutcome } from "./synchronization.js";

/**
 * The Director answers HTTP 401 code 26 both for a certificate it does not accept and for a Tenant header naming no
 * tenant it knows. The Connector accepted the certificate earlier in the same cycle, so with a TENANT configured the
 * TENANT is the likely cause; without one, the certificate is.
 */
export function fetchFailure(error: unknown, tenant: string, secret: string): SyncOutcome {
  const message = `Failed to fetch configuration: ${describe(error)}`;
  if (!(error instanceof DirectorError && error.code === DirectorErrorCode.AUTH_FAILED)) {
    return { kind: "fetch-failed", message, retryAfterMs: retryAfterOf(error) };
  }
  if (tenant !== "") {
    return {
      kind: "fetch-failed",
      message: `${message}. Likely cause: TENANT ${JSON.stringify(tenant)} in Secret ${secret} is not a tenant Compass knows (the Connector accepted the client certificate); correct TENANT in the Secret`,
    };
  }
  return { kind: "fetch-failed", message, certificateRefused: true };
}

/**
 * The runtime's labels and every application, fetched in parallel. A function of its own so that nothing but the
 * caller's `applications` keeps the Director's model reachable (a suspended async function keeps the values of its
 * block-scoped temporaries), and the caller can drop it before the writes.
 */
export async function fetchFromDirector(
  ctx: SyncContext,
  director: ReturnType<SyncContext["session"]["director"]>,
  runtimeId: string,
): Promise<{ labels: Record<string, unknown>; applications: DirectorApplication[]; digest: string; inconsistency: string | undefined }> {
  const call = { requestId: ctx.requestId, signal: ctx.signal };
  const [labels, listing] = await Promise.all([
    ctx.metrics.timeCompass("runtimeLabels", () => director.getRuntimeLabels(runtimeId, call)),
    // A Compass that keeps changing must not starve the sync: an inconsistent listing is returned, marked.
    ctx.metrics.timeCompass("applicationsForRuntime", () => director.listApplicationsForRuntime(runtimeId, { ...call, allowInconsistent: true })),
  ]);
  return { labels, applications: listing.applications, digest: listing.digest, inconsistency: listing.consistent ? undefined : (listing.inconsistency ?? "the pages did not fit together") };
}
