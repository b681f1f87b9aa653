/**
 * Which credential the connection phase uses this cycle: a pure function of what the reconciler observed, so
 * every branch is a row in a table test.
 *
 * Compass answers "not authenticated" alike for a used token, a revoked certificate and its own authentication
 * chain failing (real Compass: HTTP 400 with an empty body). A refusal therefore never retires a credential for
 * good: the refused token or certificate is tried again after a capped exponential backoff, and a credential the
 * agent has not tried yet (a new TOKEN in the config Secret, another certificate in the Secrets) is used at once.
 */

/** A credential Compass refused: not tried again before `notBefore` (epoch ms). */
export interface Refusal {
  /** What was refused: a token's digest or a certificate's fingerprint. */
  key: string;
  /** Refusals of this credential in a row. */
  attempts: number;
  notBefore: number;
  /** Why, in words for the status (no secrets). */
  reason: string;
}

export interface ConnectionObservation {
  now: number;
  /** A certificate paired for but not yet stored in the Secrets (held in memory). */
  pendingPairing: boolean;
  /** The client certificate held (from the Secrets or memory), when there is one. */
  certificate: { fingerprint: string; notAfter: number } | undefined;
  /** Whether the agent knows the certificate-secured Connector URL (the CompassConnection has it). */
  knowsConnectorUrl: boolean;
  certificateRefusal: Refusal | undefined;
  /** Digest of the config Secret's TOKEN, when it holds a well-formed one. */
  token: string | undefined;
  /** Digest of the token this agent paired with last: spent, never sent again. */
  spentToken: string | undefined;
  tokenRefusal: Refusal | undefined;
}

export type ConnectionDecision =
  /** Store the pending pairing (Secrets, then the CompassConnection). */
  | { kind: "store-pairing" }
  /** Check the connection with the certificate over mTLS (and renew when due). */
  | { kind: "maintain" }
  /** The one-time token flow with the config Secret's TOKEN. */
  | { kind: "pair" }
  /** Nothing to try now. `retryAt`: when a refused credential may be tried again (undefined: only a new token helps). */
  | { kind: "wait"; why: WaitReason; retryAt: number | undefined };

export type WaitReason = "no-token" | "token-spent" | "token-refused" | "certificate-refused";

export function decideConnection(o: ConnectionObservation): ConnectionDecision {
  if (o.pendingPairing) return { kind: "store-pairing" };

  const certificate = o.certificate !== undefined && o.certificate.notAfter > o.now && o.knowsConnectorUrl ? o.certificate : undefined;
  const certificateWaits = certificate !== undefined && waiting(o.certificateRefusal, certificate.fingerprint, o.now);
  if (certificate !== undefined && !certificateWaits) return { kind: "maintain" };

  const tokenWaits = o.token !== undefined && waiting(o.tokenRefusal, o.token, o.now);
  const tokenSpent = o.token !== undefined && o.token === o.spentToken;
  if (o.token !== undefined && !tokenWaits && !tokenSpent) return { kind: "pair" };

  const retryAt = earliest(certificateWaits ? o.certificateRefusal?.notBefore : undefined, tokenWaits ? o.tokenRefusal?.notBefore : undefined);
  const why: WaitReason = tokenWaits ? "token-refused" : tokenSpent ? "token-spent" : certificateWaits ? "certificate-refused" : "no-token";
  return { kind: "wait", why, retryAt };
}

/** The refusal after one more: the same credential waits twice as long (capped); another one starts over. */
export function nextRefusal(previous: Refusal | undefined, key: string, reason: string, now: number, delay: (attempts: number) => number): Refusal {
  const attempts = previous?.key === key ? previous.attempts + 1 : 1;
  return { key, attempts, notBefore: now + delay(attempts), reason };
}

function waiting(refusal: Refusal | undefined, key: string, now: number): boolean {
  return refusal !== undefined && refusal.key === key && now < refusal.notBefore;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
