import { SETTINGS } from "./schema.js";

export const CONFIG_TABLE_START = "<!-- config-table:start (generated from apps/runtime-agent/src/config/schema.ts: pnpm docs:config) -->";
export const CONFIG_TABLE_END = "<!-- config-table:end -->";

/** The README's configuration table, rendered from the settings table so the two cannot drift. */
export function renderConfigTable(): string {
  const rows = Object.values(SETTINGS).map((s) => {
    const note = s.unused ? " (unused)" : "added" in s && s.added ? " (new)" : "";
    const def = s.default === undefined ? "—" : `\`${s.default}\``;
    return `| \`${s.env}\`${note} | \`--${s.flag}\` | ${def} | ${s.description} |`;
  });
  return [CONFIG_TABLE_START, "| variable | flag | default | meaning |", "| --- | --- | --- | --- |", ...rows, CONFIG_TABLE_END].join("\n");
}

/** Replaces the generated section of a README text. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(CONFIG_TABLE_START);
  const end = readme.indexOf(CONFIG_TABLE_END);
  if (start < 0 || end < start) throw new Error("the README has no configuration table markers");
  return readme.slice(0, start) + renderConfigTable() + readme.slice(end + CONFIG_TABLE_END.length);
}
