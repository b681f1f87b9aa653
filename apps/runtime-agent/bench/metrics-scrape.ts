/** Reads counters from a Prometheus text exposition: `name{labels} value` lines, summed per label combination. */
export function parseCounters(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^[^{ ]+(?:\{(.*)\})? ([0-9.eE+-]+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)) labels[pair[1] as string] = pair[2] as string;
    out.push({ labels, value: Number(match[2]) });
  }
  return out;
}

export function sumBy(entries: { labels: Record<string, string>; value: number }[], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) {
    const key = e.labels[label] ?? "";
    out[key] = (out[key] ?? 0) + e.value;
  }
  return out;
}

export function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...Object.keys(after), ...Object.keys(before)])) out[key] = (after[key] ?? 0) - (before[key] ?? 0);
  return out;
}
