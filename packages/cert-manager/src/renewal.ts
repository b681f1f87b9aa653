import { createHash } from "node:crypto";
import { CertificateError, CertificateErrorCode } from "./errors.js";

/** The Go agent's default `APP_CERT_VALIDITY_RENEGOTIATION_THRESHOLD`. */
export const DEFAULT_RENEWAL_THRESHOLD = 0.3;

export interface RenewalInput {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly now: Date;
  /** Renew when less than this fraction of the validity is left. 0…1, default 0.3. */
  readonly threshold?: number;
  /** The agent's minimal Compass sync period: renew when less than twice this is left. */
  readonly minimalSyncTimeMs: number;
  /** Renew now, whatever the dates say (`spec.refreshCredentialsNow`). */
  readonly force?: boolean;
  /**
   * Spread renewals of many runtimes: the threshold is lowered by up to `jitter` × validity, by
   * `jitter × random()`. 0…1, default 0 (no jitter). Needs `random`.
   */
  readonly jitter?: number;
  /**
   * Returns a number in [0, 1). Must return the same number for the same certificate on every call, or the
   * effective threshold moves between reconciles; {@link stableRandom} derives one from a fingerprint.
   */
  readonly random?: () => number;
}

export type RenewalReason = "forced" | "expired" | "threshold" | "minimal-sync-time" | "valid";

export interface RenewalDecision {
  readonly renew: boolean;
  readonly reason: RenewalReason;
  /**
   * When renewal is or becomes due: `now` when forced; otherwise
   * `notAfter − max(thresholdFraction × validity, 2 × minimalSyncTime)`, which is ≤ `now` exactly when `renew`
   * is true for a date-based reason. Schedule the next check at `max(now, renewAt)`.
   */
  readonly renewAt: Date;
}

function invalidArgument(message: string): CertificateError {
  return new CertificateError(CertificateErrorCode.InvalidArgument, message);
}

function time(name: string, value: Date): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw invalidArgument(`${name} must be a valid Date.`);
  return value.getTime();
}

function fraction(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw invalidArgument(`${name} must be a number between 0 and 1, got ${String(value)}.`);
  }
  return value;
}

/**
 * The renewal policy of the Go agent (`ShouldRenewCertificate`), with reasons and a due time:
 * renew when forced, when the remaining validity is below `threshold × validity` (lowered by the jitter), or when it
 * is below `2 × minimalSyncTime` (the next sync could come too late). An expired certificate is reported as
 * `"expired"`. Comparisons are strict, as in Go.
 */
export function shouldRenew(input: RenewalInput): RenewalDecision {
  const now = time("now", input.now);
  const notBefore = time("notBefore", input.notBefore);
  const notAfter = time("notAfter", input.notAfter);
  const threshold = fraction("threshold", input.threshold ?? DEFAULT_RENEWAL_THRESHOLD);
  const jitter = fraction("jitter", input.jitter ?? 0);
  const minimalSync = input.minimalSyncTimeMs;
  if (typeof minimalSync !== "number" || !Number.isFinite(minimalSync) || minimalSync < 0) {
    throw invalidArgument(`minimalSyncTimeMs must be a number >= 0, got ${String(minimalSync)}.`);
  }
  let draw = 0;
  if (jitter > 0) {
    if (input.random === undefined) throw invalidArgument("jitter needs an injected random() function.");
    draw = fraction("random()", input.random());
  }

  const validity = Math.max(0, notAfter - notBefore);
  const remaining = notAfter - now;
  const thresholdMs = Math.max(0, threshold - jitter * draw) * validity;
  const minimalSyncMs = 2 * minimalSync;
  const renewAt = new Date(notAfter - Math.max(thresholdMs, minimalSyncMs));

  if (input.force === true) return { renew: true, reason: "forced", renewAt: new Date(now) };
  if (remaining <= 0) return { renew: true, reason: "expired", renewAt };
  if (remaining < thresholdMs) return { renew: true, reason: "threshold", renewAt };
  if (remaining < minimalSyncMs) return { renew: true, reason: "minimal-sync-time", renewAt };
  return { renew: false, reason: "valid", renewAt };
}

/**
 * A `random()` for {@link RenewalInput} that always returns the same number in [0, 1) for the same seed, e.g. the
 * certificate's SHA-256 fingerprint: the jittered renewal time is then stable across reconciles and restarts, and
 * still differs between runtimes.
 */
export function stableRandom(seed: string): () => number {
  const digest = createHash("sha256").update(seed, "utf8").digest();
  const value = digest.readUIntBE(0, 6) / 2 ** 48;
  return () => value;
}
