/**
 * The names Kyma's Go agent gives to Applications, services and Secrets, reproduced exactly (upstream-agent §6.2-6.4),
 * plus the Kubernetes name rules the Go agent never checked.
 */
import { createHash } from "node:crypto";

const MP_PREFIX = "mp-";

function compassNormalize(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^-a-z0-9]/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/-$/, "");
}

/**
 * Compass's default normalizer (`mp-` prefix, lower case, `[^-a-z0-9]` → `-`, `--` collapsed, one trailing `-`
 * dropped). A name that already has the `mp-` form is returned unchanged, so applying it twice changes nothing —
 * except for names with no letter or digit, which become `mp`, exactly as in Compass and the Go agent.
 */
export function normalizeApplicationName(name: string): string {
  if (name.startsWith(MP_PREFIX) && compassNormalize(name) === name) return name;
  return compassNormalize(MP_PREFIX + name);
}

/**
 * Whether names are normalized by the agent: unless the runtime label `isNormalized` is the string "true" (which
 * means the Director already did it). Absent, "false" or any non-string value → normalize.
 */
export function shouldNormalize(runtimeLabels: Readonly<Record<string, unknown>>): boolean {
  return runtimeLabels["isNormalized"] !== "true";
}

/**
 * The central gateway's NormalizeName: runs of characters other than [A-Za-z0-9] → `-`, lower case, one trailing
 * `-` dropped, cut to 57 characters, one leading `-` dropped (in that order, so a cut can leave a trailing `-`).
 */
export function normalizeGatewayName(name: string): string {
  let normalized = name.replace(/[^A-Za-z0-9]+/g, "-").toLowerCase();
  if (normalized.endsWith("-")) normalized = normalized.slice(0, -1);
  if (normalized.length > 57) normalized = normalized.slice(0, 57);
  return normalized.startsWith("-") ? normalized.slice(1) : normalized;
}

/** `NormalizeServiceNameWithId`: NormalizeName(name) + "-" + the first 5 hex digits of sha1(id), leading `-` dropped. */
export function serviceName(bundleName: string, bundleId: string): string {
  const suffix = createHash("sha1").update(bundleId, "utf8").digest("hex").slice(0, 5);
  const name = `${normalizeGatewayName(bundleName)}-${suffix}`;
  return name.startsWith("-") ? name.slice(1) : name;
}

/** Go's 63-character budget for `<prefix>-<uuid>`: the prefix before the dash keeps at most 26 characters. */
const MAX_PREFIX = 63 - 36 - 1;

function resourceName(prefix: string, id: string): string {
  const truncated = prefix.length > MAX_PREFIX ? prefix.slice(0, MAX_PREFIX) : prefix;
  return `${truncated}-${id}`;
}

/** Name of the Secret with a bundle's credentials: `<app>-<bundleId>`, the app part cut to 26 characters. */
export function credentialsSecretName(applicationName: string, bundleId: string): string {
  return resourceName(applicationName, bundleId);
}

/** Name of the Secret with a bundle's request parameters: `params-<app>-<bundleId>`, `params-<app>` cut to 26. */
export function requestParametersSecretName(applicationName: string, bundleId: string): string {
  return resourceName(`params-${applicationName}`, bundleId);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 label: what Kubernetes requires of many names (≤ 63, lower-case alphanumerics and `-`). */
export function isDnsLabel(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}

/** RFC 1123 subdomain: what Kubernetes requires of Application and Secret names (≤ 253, dot-separated labels). */
export function isDnsSubdomain(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) => label.length > 0 && DNS_LABEL.test(label));
}
