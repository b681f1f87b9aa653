import type { DesiredStateBuilder } from "@runtime-agent/app-sync";
import { DirectorError, DirectorErrorCode } from "@runtime-agent/director-client";
import type { ApplicationStream, ListingReplay } from "@runtime-agent/director-client";
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

/** What the Director answered: the runtime's labels and that its applications went to the builder, or are as replayed. */
export type DirectorAnswers = {
  labels: Record<string, unknown>;
  applicationCount: number;
  digest: string;
} & (
  | {
      /** Every answer had the content of the replayed listing's: nothing was converted. */
      unchanged: true;
      inconsistency: undefined;
      replay: ListingReplay;
    }
  | {
      unchanged: false;
      inconsistency: string | undefined;
      /** For the next cycle's relisting; undefined when the listing was inconsistent. */
      replay: ListingReplay | undefined;
    }
);

type Director = ReturnType<SyncContext["session"]["director"]>;

/**
 * The runtime's labels and every application, fetched in parallel, the applications streamed into `desired` (which
 * gets the labels as soon as they arrive); with `previous` (the replay of the last clean cycle's listing), the
 * applications only when their content changed since (`onFullListing` is called when it turns out they did, before
 * they are listed).
 */
export async function fetchFromDirector(
  ctx: SyncContext,
  director: Director,
  runtimeId: string,
  previous: ListingReplay,
  desired: DesiredStateBuilder,
  onFullListing: () => void,
): Promise<DirectorAnswers> {
  const [labels, listing] = await withLabels(ctx, director, runtimeId, desired, (options) =>
    director.relistApplicationsForRuntime(runtimeId, previous, desired, { ...options, onFullListing }),
  );
  if (!listing.unchanged) return fullAnswers(labels, listing);
  return { labels, unchanged: true, applicationCount: listing.applicationCount, digest: listing.digest, inconsistency: undefined, replay: listing.replay };
}

/** The runtime's labels and every application, into `desired` (fetchFromDirector without a replay). */
export async function fetchFullListing(ctx: SyncContext, director: Director, runtimeId: string, desired: DesiredStateBuilder): Promise<DirectorAnswers & { unchanged: false }> {
  const [labels, listing] = await withLabels(ctx, director, runtimeId, desired, (options) => director.streamApplicationsForRuntime(runtimeId, desired, options));
  return fullAnswers(labels, listing);
}

async function withLabels<L>(
  ctx: SyncContext,
  director: Director,
  runtimeId: string,
  desired: DesiredStateBuilder,
  list: (options: { requestId: string; signal: AbortSignal; allowInconsistent: true }) => Promise<L>,
): Promise<[Record<string, unknown>, L]> {
  const call = { requestId: ctx.requestId, signal: ctx.signal };
  return Promise.all([
    ctx.metrics.timeCompass("runtimeLabels", () => director.getRuntimeLabels(runtimeId, call)).then((labels) => {
      desired.setRuntimeLabels(labels);
      return labels;
    }),
    // A Compass that keeps changing must not starve the sync: an inconsistent listing is returned, marked.
    ctx.metrics.timeCompass("applicationsForRuntime", () => list({ ...call, allowInconsistent: true })),
  ]);
}

function fullAnswers(labels: Record<string, unknown>, listing: ApplicationStream): DirectorAnswers & { unchanged: false } {
  return {
    labels,
    unchanged: false,
    applicationCount: listing.applicationCount,
    digest: listing.digest,
    inconsistency: listing.consistent ? undefined : (listing.inconsistency ?? "the pages did not fit together"),
    replay: listing.replay ?? undefined,
  };
}
