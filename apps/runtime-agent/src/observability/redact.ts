/**
 * Last line of defence for logs, Events and status messages: whatever a caller passes, keys that name secrets are
 * replaced, and PEM blocks or one-time-token-like strings inside any string are cut out.
 */
const SECRET_KEY = /(token|password|passwd|secret|private|^key$|keypem|^crt$|crtchain|cacert|certificate|credential|authorization|cookie)/i;
const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g;
// Keys that name a Secret (APP_CA_CERTIFICATES_SECRET, secretName) rather than hold a secret value.
const NAMES_A_SECRET = /(_SECRET|secretName|SecretName|SecretRef)$/;
// Compass one-time tokens: 88 characters of URL-safe base64 ending in "==".
const ONE_TIME_TOKEN = /[A-Za-z0-9_-]{86}==/g;
// Credentials in a URL (http://user:password@proxy:3128, e.g. HTTPS_PROXY): the scheme and host stay readable.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;

export const REDACTED = "[REDACTED]";

export function redactText(text: string): string {
  return text.replace(PEM_BLOCK, "[REDACTED PEM]").replace(ONE_TIME_TOKEN, REDACTED).replace(URL_USERINFO, `$1${REDACTED}@`);
}

export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object" || depth > 8) return value;
  if (value instanceof Error) {
    return { type: value.name, message: redactText(value.message), ...("code" in value ? { code: (value as { code: unknown }).code } : {}) };
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && !NAMES_A_SECRET.test(key) && item !== null && item !== undefined && typeof item !== "boolean" && typeof item !== "number"
      ? REDACTED
      : redactValue(item, depth + 1);
  }
  return out;
}
