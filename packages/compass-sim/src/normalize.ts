/** Compass's application name normalizer (components/director/pkg/normalizer), shared by the state and the Director. */

const NORMALIZED_PREFIX = "mp-";

function compassNormalize(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^-a-z0-9]/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/-$/, "");
}

/** `mp-` prefix, lower case, `[^-a-z0-9]` → `-`, `--` collapsed, a trailing `-` dropped; `mp-…` names kept. */
export function normalizeName(name: string): string {
  if (name.startsWith(NORMALIZED_PREFIX) && compassNormalize(name) === name) return name;
  return compassNormalize(NORMALIZED_PREFIX + name);
}
