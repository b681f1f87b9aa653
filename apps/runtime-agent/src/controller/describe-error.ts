import { redactText } from "../observability/redact.js";

/** One line for status, Events and logs: the stable code first when there is one; never secrets. */
export function describe(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return redactText(typeof code === "string" && !message.startsWith(code) ? `${code}: ${message}` : message);
}
