import { ConfigError, loadConfig } from "../config/load.js";
import { SETTINGS } from "../config/schema.js";
import type { AgentConfig } from "../config/schema.js";
import { parseFlags } from "./args.js";
import { UsageError } from "./exit-codes.js";

/** One string flag per setting (e.g. --controller-sync-period), mirroring the APP_* variables. */
export const CONFIG_FLAGS = Object.fromEntries(Object.values(SETTINGS).map((s) => [s.flag, { type: "string" as const }]));

export function configUsage(): string {
  return Object.values(SETTINGS)
    .map((s) => `    --${s.flag.padEnd(34)} ${s.env}${s.default === undefined ? "" : ` (default ${s.default})`}`)
    .join("\n");
}

/** Parses flags (settings plus `extra`) and builds the configuration from flags, environment and defaults. */
export function configFromArgs<E extends Record<string, { type: "string" | "boolean" }>>(argv: string[], extra: E) {
  const values = parseFlags(argv, { ...CONFIG_FLAGS, ...extra }) as Record<string, string | boolean | undefined>;
  const settingFlags: Record<string, string | undefined> = {};
  for (const s of Object.values(SETTINGS)) {
    const v = values[s.flag];
    if (typeof v === "string") settingFlags[s.flag] = v;
  }
  let config: AgentConfig;
  try {
    config = loadConfig(process.env, settingFlags);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  return { config, values };
}
