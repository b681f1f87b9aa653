/**
 * A Director outage: Compass's own authentication chain failing. In real Compass the hydrator that resolves a
 * one-time token (or a client certificate) to an identity asks the Director; when the Director is down the lookup
 * fails, Oathkeeper answers the Connector call exactly like an unauthenticated one (HTTP 400, empty body) and the
 * token is NOT spent: the same token pairs once the Director is back (real-compass.md §2.1). So a 400-empty from the
 * Connector means "refused, or Compass's authentication is failing".
 *
 * While an outage is on:
 * - Director calls get the outage's gateway answer (default HTTP 503 `no healthy upstream`; any fault action of
 *   faults.ts: `status`, `reset`, `rateLimit`, `emptyJson`, `delayMs`), before authentication (no CONNECTED);
 * - Connector calls on both listeners answer HTTP 400 with an empty body, and no token is looked up or burned. (The
 *   mTLS case is inferred: the certificate hydrator resolves the CN through the Director too.)
 *
 * Admin API: `PUT /admin/outages/director` (body: the Director's answer, optional) starts it, `DELETE` ends it,
 * `GET` shows it.
 */
import { FaultInputError, parseFaultRule } from "./faults.js";
import { readBody, sendJson, type AnyRequest, type AnyResponse } from "./http-util.js";
import type { FaultRule, FaultRuleInput } from "./state.js";

/** How Director calls fail during the outage: a fault rule's action, without target, operation or count. */
export type DirectorOutageInput = Omit<FaultRuleInput, "target" | "operation" | "times">;

export const DEFAULT_DIRECTOR_OUTAGE: DirectorOutageInput = Object.freeze({ status: 503 });

/** Checks an outage's Director answer (same rules as a fault rule's action). */
export function parseDirectorOutage(input: unknown): DirectorOutageInput {
  if (input === undefined || input === null || (typeof input === "object" && Object.keys(input).length === 0)) {
    return { ...DEFAULT_DIRECTOR_OUTAGE };
  }
  if (typeof input !== "object" || Array.isArray(input)) throw new FaultInputError("an outage must be a JSON object");
  for (const key of ["target", "operation", "times"]) {
    if (key in input) throw new FaultInputError(`"${key}" does not apply to an outage`);
  }
  const { target: _target, ...action } = parseFaultRule({ ...input, target: "director" });
  return action;
}

export class DirectorOutage {
  #active: DirectorOutageInput | undefined;

  start(input: unknown = undefined): DirectorOutageInput {
    this.#active = parseDirectorOutage(input);
    return this.#active;
  }

  /** Returns whether an outage was on. */
  end(): boolean {
    const wasActive = this.#active !== undefined;
    this.#active = undefined;
    return wasActive;
  }

  get active(): DirectorOutageInput | undefined {
    return this.#active;
  }

  /** The outage's Director answer as a fault rule for answerFault (never stored in the state's rule list). */
  asFaultRule(): FaultRule | undefined {
    if (!this.#active) return undefined;
    return { id: "director-outage", target: "director", times: 1, remaining: 1, ...this.#active };
  }
}

const ROUTE = "/admin/outages/director";

/** Handles the outage admin routes; returns false for any other path (handled by admin.ts). */
export async function handleOutageAdmin(
  outage: DirectorOutage,
  req: AnyRequest,
  res: AnyResponse,
  maxBodyBytes: number,
): Promise<boolean> {
  if (new URL(req.url ?? "/", "http://admin").pathname !== ROUTE) return false;
  try {
    if (req.method === "GET") {
      sendJson(res, 200, { directorOutage: outage.active ?? null });
    } else if (req.method === "PUT") {
      const raw = (await readBody(req, maxBodyBytes)).toString("utf8");
      const body: unknown = raw.trim() === "" ? undefined : JSON.parse(raw);
      sendJson(res, 200, { directorOutage: outage.start(body) });
    } else if (req.method === "DELETE") {
      sendJson(res, 200, { ended: outage.end() });
    } else {
      sendJson(res, 405, { error: `method ${req.method} not allowed on ${ROUTE}` }, { allow: "GET, PUT, DELETE" });
    }
  } catch (error) {
    if (error instanceof FaultInputError || error instanceof SyntaxError) sendJson(res, 400, { error: error.message });
    else throw error;
  }
  return true;
}
