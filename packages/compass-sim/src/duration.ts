/** Durations on the command line: `90d`, `12h`, `15m`, `30s`, `500ms`, or a bare number of seconds. */
const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Returns seconds, or throws a RangeError naming the bad input. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new RangeError(`invalid duration "${text}" (use e.g. 90d, 12h, 15m, 30s)`);
  const seconds = Number(match[1]) * UNITS[match[2] ?? "s"]!;
  if (!(seconds > 0)) throw new RangeError(`duration must be positive, got "${text}"`);
  return seconds;
}
