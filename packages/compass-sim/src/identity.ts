/**
 * Who is calling: what Istio + Oathkeeper + the hydrators work out in Compass, collapsed into two functions.
 * The outcome's `reason` is for logs only; Compass answers every unauthenticated call with the same message.
 */
import * as pkijs from "pkijs";
import type { SubjectConstants } from "./csr.js";
import { nameValues } from "./names.js";
import { sha256Hex } from "./pki.js";
import type { CompassState, SystemAuth } from "./state.js";

export type Identity =
  | { via: "token"; systemAuth: SystemAuth }
  | { via: "certificate"; systemAuth: SystemAuth; commonName: string; fingerprint: string };

export interface AuthOutcome {
  identity?: Identity;
  /** Why there is no identity (for the request log). */
  reason?: string;
  /** Fingerprint of the presented client certificate, if any. */
  fingerprint?: string;
}

/**
 * Token listener: the `Connector-Token` header, else the `token` query parameter. A valid token is burned here,
 * before the operation runs.
 */
export function authenticateToken(state: CompassState, token: string | undefined): AuthOutcome {
  if (token === undefined || token === "") return { reason: "no token" };
  const result = state.consumeToken(token);
  if ("rejection" in result) return { reason: `token ${result.rejection}` };
  return { identity: { via: "token", systemAuth: result.systemAuth } };
}

/**
 * mTLS listener (the handshake already verified the chain and the real-clock validity):
 * revoked hash → none; notAfter before the SIMULATOR clock → none; O/OU/L/ST/C ≠ constants → none;
 * CN without a SystemAuth → none.
 */
export function authenticateCertificate(
  state: CompassState,
  der: Uint8Array,
  constants: SubjectConstants,
): AuthOutcome {
  const fingerprint = sha256Hex(der);
  if (state.isRevoked(fingerprint)) return { fingerprint, reason: "certificate revoked" };
  let certificate: pkijs.Certificate;
  try {
    certificate = pkijs.Certificate.fromBER(new Uint8Array(der));
  } catch {
    return { fingerprint, reason: "certificate unparsable" };
  }
  // TLS verified validity with the REAL clock. The simulator clock can be ahead of it (tests advance it to expire
  // certificates), so a certificate already expired in simulator time is treated as unauthenticated here.
  const notAfter = certificate.notAfter.value;
  if (notAfter.getTime() < state.now().getTime()) return { fingerprint, reason: "certificate expired (simulator clock)" };
  const subject = nameValues(certificate.subject);
  const matches =
    subject.organization[0] === constants.organization &&
    subject.organizationalUnit[0] === constants.organizationalUnit &&
    subject.locality[0] === constants.locality &&
    subject.province[0] === constants.province &&
    subject.country[0] === constants.country;
  if (!matches) return { fingerprint, reason: "certificate subject does not match the Connector constants" };
  const systemAuth = state.getSystemAuth(subject.commonName);
  if (!systemAuth) return { fingerprint, reason: `no SystemAuth for CN ${subject.commonName}` };
  state.noteCertificateLogin(systemAuth, subject.commonName);
  return { fingerprint, identity: { via: "certificate", systemAuth, commonName: subject.commonName, fingerprint } };
}
