// Reading the monitoring component's files (deploy/components/monitoring) for the monitoring tests.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Registry } from "prom-client";
import { parse } from "yaml";
import type { RuleGroup } from "../support/prometheus.js";

export const monitoringDir = fileURLToPath(new URL("../../deploy/components/monitoring", import.meta.url));

/** The rule groups of the PrometheusRule (its `spec.groups`: a Prometheus rule file's `groups`). */
export async function readRuleGroups(): Promise<RuleGroup[]> {
  const rule = parse(await readFile(join(monitoringDir, "prometheusrule.yaml"), "utf8")) as {
    kind: string;
    spec: { groups: RuleGroup[] };
  };
  if (rule.kind !== "PrometheusRule") throw new Error(`prometheusrule.yaml holds a ${rule.kind}`);
  return rule.spec.groups;
}

export interface Dashboard {
  title: string;
  templating: { list: { name: string; type: string; query?: unknown }[] };
  panels: {
    title: string;
    type: string;
    targets?: { expr: string; refId: string }[];
    panels?: Dashboard["panels"];
  }[];
}

export async function readDashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(join(monitoringDir, "dashboard.json"), "utf8")) as Dashboard;
}

/** Every PromQL query of the dashboard's panels (rows' nested panels too), with the panel's title. */
export function dashboardQueries(dashboard: Dashboard): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  const walk = (panels: Dashboard["panels"]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, expr: t.expr });
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
  "start",
  "end",
]);

/**
 * The metric names a PromQL expression selects. Strings, label matchers (`{…}`), ranges (`[…]`) and the label lists
 * of by/without/on/ignoring/group_left/group_right are dropped; of the identifiers left, those followed by `(` are
 * functions or aggregations and the rest, keywords aside, are metric names.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = m[1] as string;
    if (m[2] === undefined && !KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

/** The series names a registry exposes: counters and gauges by name, histograms' _bucket/_sum/_count, summaries'. */
export async function registrySeriesNames(registry: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    const type = String(m.type);
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
    else if (type === "summary") for (const s of ["", "_sum", "_count"]) names.add(m.name + s);
    else names.add(m.name);
  }
  return names;
}
