import { createHash } from "node:crypto";
import type { CompassSimulator } from "@runtime-agent/compass-sim";

/** One request the simulator answered (its request log entry). */
export type CompassRequest = CompassSimulator["state"]["requestLog"][number];

/** One one-time token presented to the token listener, and what Compass made of it. */
export interface TokenPresentation {
  at: number;
  /** SHA-256 of the token (the token itself is a secret). */
  token: string;
  /** "ok" (spent now) or Compass's rejection: used, unknown, expired. */
  result: string;
}

type Listener = (entry: CompassRequest) => void;

/**
 * Observes the simulator, which runs in the sweep's process: every answered request as it is logged (the log entry
 * is written right after the answer, so a SIGKILL from here lands "right after that request"), and every one-time
 * token presented, by digest, so tokens can be counted one by one. The simulator's behaviour is unchanged: the
 * wrapped methods are called as before.
 */
export class CompassObserver {
  readonly tokens: TokenPresentation[] = [];
  readonly #listeners = new Set<Listener>();

  constructor(readonly sim: CompassSimulator) {
    const state = sim.state;
    const logRequest = state.logRequest.bind(state);
    state.logRequest = (entry) => {
      logRequest(entry);
      for (const listener of [...this.#listeners]) listener(entry);
    };
    const consumeToken = state.consumeToken.bind(state);
    state.consumeToken = (token) => {
      const result = consumeToken(token);
      this.tokens.push({ at: Date.now(), token: digest(token), result: "rejection" in result ? result.rejection : "ok" });
      return result;
    };
  }

  get log(): readonly CompassRequest[] {
    return this.sim.state.requestLog;
  }

  /** Calls `listener` for every request logged from now on; returns the unsubscribe function. */
  onRequest(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Presentations per token digest. */
  presentationsByToken(): Map<string, TokenPresentation[]> {
    const by = new Map<string, TokenPresentation[]>();
    for (const p of this.tokens) by.set(p.token, [...(by.get(p.token) ?? []), p]);
    return by;
  }
}

export function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 16);
}
