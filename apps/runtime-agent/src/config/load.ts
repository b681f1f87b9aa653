import { leaderElectionTimingProblems } from "@runtime-agent/k8s-store";
import { SETTINGS } from "./schema.js";
import type { AgentConfig, SettingName } from "./schema.js";
import { formatDuration } from "./values.js";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/**
 * Reads every setting from flags (--name=value) or, failing that, the environment, or the default.
 * All problems are collected so one start-up tells the operator everything that is wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv, flags: Record<string, string | undefined> = {}): AgentConfig {
  const problems: string[] = [];
  const config: Partial<Record<SettingName, unknown>> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const fromFlag = flags[s.flag];
    const raw = fromFlag ?? env[s.env] ?? s.default;
    const source = fromFlag !== undefined ? `--${s.flag}` : env[s.env] !== undefined ? s.env : `default of ${s.env}`;
    if (raw === undefined) {
      config[key] = undefined;
      continue;
    }
    try {
      config[key] = s.parse(raw);
    } catch (error) {
      problems.push(`${source}: ${(error as Error).message}`);
    }
  }
  const result = config as AgentConfig;
  if (problems.length === 0) {
    // The elector's own rule, so that a configuration that passes here never fails when the elector starts.
    const named = (key: "leaseDuration" | "renewDeadline" | "retryPeriod") => `${SETTINGS[key].env}=${formatDuration(result[key])}`;
    problems.push(
      ...leaderElectionTimingProblems(
        { leaseDurationMs: result.leaseDuration, renewDeadlineMs: result.renewDeadline, retryPeriodMs: result.retryPeriod },
        { leaseDurationMs: named("leaseDuration"), renewDeadlineMs: named("renewDeadline"), retryPeriodMs: named("retryPeriod") },
      ),
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result;
}

/** The effective configuration for the start-up log line. Nothing in it is secret (the token lives in a Secret). */
export function describeConfig(config: AgentConfig): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const value = config[key] as never;
    if (value === undefined) continue;
    const show = (s as { show?: (v: never) => string }).show;
    out[s.env] = show ? show(value) : (value as string | number | boolean);
  }
  return out;
}
