/** Director calls over mTLS with node:https and a certificate paired through openssl (support/pairing.ts). */
import type { CompassSimulator } from "../../src/index.js";
import type { PairedRuntime } from "./pairing.js";
import { httpCall, type HttpResult } from "./tools.js";

export interface DirectorCallOptions {
  variables?: Record<string, unknown>;
  operationName?: string;
  headers?: Record<string, string>;
}

export function directorCall(
  sim: CompassSimulator,
  serverCa: string,
  who: Pick<PairedRuntime, "certPem" | "keyPem">,
  query: string,
  options: DirectorCallOptions = {},
): Promise<HttpResult> {
  return httpCall(sim.directorUrl, {
    ca: serverCa,
    cert: who.certPem,
    key: who.keyPem,
    headers: { "content-type": "application/json", ...options.headers },
    body: JSON.stringify({
      query,
      ...(options.variables ? { variables: options.variables } : {}),
      ...(options.operationName ? { operationName: options.operationName } : {}),
    }),
  });
}

/** `base64("DpKtJ4j9jDq" + offset)`, computed independently of the simulator's code. */
export function cursor(offset: number): string {
  return Buffer.from(`DpKtJ4j9jDq${offset}`).toString("base64");
}

/** A UUID that sorts by `n` (8 hex digits of prefix). */
export function orderedId(prefix: string, n: number): string {
  return `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}
