import type { LifeRecord } from "./life.js";
import { FOREIGN_APP, FOREIGN_SECRET, k8sName, secretName } from "./model.js";
import type { FaultCase } from "./points.js";

/** The agent's own credential and configuration Secrets: it never deletes them, and neither does the life. */
const AGENT_SECRETS = new Set(["kyma-system/cluster-client-certificates", "istio-system/ca-certificates", "kyma-system/compass-agent-configuration"]);

export interface Verdict {
  violations: string[];
  /** Tokens lost to a kill in a window no design can close: reported apart, not violations. */
  unavoidable: string[];
}

/**
 * A kill right after Compass answered a token-listener call: `configuration` (it spent the configured token and
 * answered with the next one) or `signCertificateSigningRequest` (it issued the certificate). What Compass handed
 * out exists only in the dead process's memory; no design can store it before it has it.
 */
export function isUnavoidableWindow(c: FaultCase | undefined): boolean {
  return c !== undefined && c.kind === "kill" && c.point.side === "compass" && c.point.listener === "token";
}

/** The invariants of one life, judged from what was recorded while it ran. */
export function judge(life: LifeRecord, c: FaultCase | undefined): Verdict {
  const violations = [...life.violations];
  const unavoidable: string[] = [];

  // One-time tokens: each token presented once, and the life needed only the token it started with.
  const tokenProblems: string[] = [];
  for (const [token, presentations] of life.observer.presentationsByToken()) {
    if (presentations.length > 1) tokenProblems.push(`token ${token} sent ${presentations.length} times (${presentations.map((p) => p.result).join(", ")})`);
  }
  for (const cost of life.tokenCosts) tokenProblems.push(`a new one-time token was needed in phase ${cost.phase}: ${cost.why}`);
  if (tokenProblems.length > 0) {
    const text = `one-time token spent: ${[...new Set(tokenProblems)].join("; ")}`;
    if (isUnavoidableWindow(c)) unavoidable.push(text);
    else violations.push(text);
  }

  // Deletions: nothing of an application Compass still lists, none of the agent's own Secrets.
  const ownerOf = new Map<string, { removedAt: number | undefined }>();
  for (const app of life.model) {
    ownerOf.set(`Application//${k8sName(app)}`, { removedAt: app.removedAt });
    ownerOf.set(`Secret/kyma-system/${secretName(app)}`, { removedAt: app.removedAt });
  }
  for (const event of life.events) {
    const key = `${event.kind}/${event.namespace}/${event.name}`;
    if (event.type === "DELETED") {
      const owner = ownerOf.get(key);
      if (owner && (owner.removedAt === undefined || event.at < owner.removedAt)) violations.push(`${event.kind} ${event.namespace ? `${event.namespace}/` : ""}${event.name} deleted while Compass still listed its application`);
      if (event.kind === "Secret" && AGENT_SECRETS.has(`${event.namespace}/${event.name}`)) violations.push(`Secret ${event.namespace}/${event.name} deleted`);
    }
    const foreign = (event.kind === "Application" && event.name === FOREIGN_APP) || (event.kind === "Secret" && event.name === FOREIGN_SECRET);
    if (foreign && event.type !== "ADDED") violations.push(`the foreign ${event.kind} ${event.name} was ${event.type === "DELETED" ? "deleted" : "changed"}`);
  }
  if (life.foreignAfter.app !== life.foreignBefore.app || life.foreignAfter.secret !== life.foreignBefore.secret) {
    violations.push(`a foreign object's resourceVersion changed (Application ${life.foreignBefore.app} → ${life.foreignAfter.app}, Secret ${life.foreignBefore.secret} → ${life.foreignAfter.secret})`);
  }
  for (const problem of life.watchProblems) violations.push(`the cluster watch failed (deletions may be unseen): ${problem}`);
  return { violations: [...new Set(violations)], unavoidable };
}
