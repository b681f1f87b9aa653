/**
 * Seed files: initial state as JSON, loaded section by section (tenants, formations, runtimes, applications, then
 * formation assignments and hide selectors). Sections without a loader are reported as ignored.
 *
 * ```json
 * {
 *   "tenants": ["3e64ebae-38b5-46a0-b1ed-9ccee153a0ae", {"externalId": "…", "internalId": "…", "name": "…"}],
 *   "runtimes": [{"id": "…", "name": "kyma", "tenant": "…", "labels": {…}, "formations": ["DEFAULT"]}],
 *   "applications": [{"id": "…", "name": "commerce", "formations": ["DEFAULT"], "bundles": [ … ]}],
 *   "formations": ["DEFAULT", {"name": "other", "tenant": "…", "runtimeIds": ["…"], "applicationIds": ["…"]}],
 *   "hideSelectors": {"hidden": ["true"]}
 * }
 * ```
 * Applications use the admin API's input format (applications.ts).
 */
import { readFileSync } from "node:fs";
import { createApplication, InputError, parseApplicationInput } from "./applications.js";
import { DEFAULT_TENANT, type CompassState, type JsonValue, type RuntimeCondition } from "./state.js";

export interface SeedTenant {
  externalId: string;
  internalId?: string;
  name?: string;
}

export interface SeedRuntime {
  id?: string;
  name: string;
  tenant?: string;
  description?: string;
  labels?: Record<string, JsonValue>;
  formations?: string[];
  status?: RuntimeCondition;
  /** Default `"kyma"`; `null` for none. */
  runtimeType?: string | null;
}

export interface SeedFormation {
  name: string;
  tenant?: string;
  /** Runtimes and applications to assign (after all runtimes and applications are loaded). */
  runtimeIds?: string[];
  applicationIds?: string[];
}

export interface SeedData {
  tenants?: Array<string | SeedTenant>;
  runtimes?: SeedRuntime[];
  formations?: Array<string | SeedFormation>;
  /** Application inputs as `POST /admin/applications` takes them. */
  applications?: unknown[];
  /** `applicationHideSelectors`: label key → values. */
  hideSelectors?: Record<string, string[]>;
}

export interface SeedReport {
  /** Items loaded per section. */
  loaded: Record<string, number>;
  /** Sections present in the seed that this version does not load. */
  ignored: string[];
}

export class SeedError extends Error {
  override readonly name = "SeedError";
}

type SectionLoader = (state: CompassState, items: unknown[], path: string) => number;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(item: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = item[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") throw new SeedError(`${path}.${key} must be a non-empty string`);
  return value;
}

function requiredString(item: Record<string, unknown>, key: string, path: string): string {
  const value = optionalString(item, key, path);
  if (value === undefined) throw new SeedError(`${path}.${key} is required`);
  return value;
}

const RUNTIME_CONDITIONS = new Set(["INITIAL", "PROVISIONING", "CONNECTED", "FAILED"]);

const loaders: Record<string, SectionLoader> = {
  tenants(state, items, path) {
    items.forEach((item, i) => {
      const at = `${path}[${i}]`;
      if (typeof item === "string" && item !== "") {
        state.ensureTenant(item);
        return;
      }
      if (!isObject(item)) throw new SeedError(`${at} must be a tenant id or {externalId, internalId?, name?}`);
      state.ensureTenant(
        requiredString(item, "externalId", at),
        optionalString(item, "internalId", at),
        optionalString(item, "name", at),
      );
    });
    return items.length;
  },

  formations(state, items, path) {
    items.forEach((item, i) => {
      const at = `${path}[${i}]`;
      if (typeof item === "string" && item !== "") {
        state.ensureFormation(DEFAULT_TENANT, item);
        return;
      }
      if (!isObject(item)) throw new SeedError(`${at} must be a formation name or {name, tenant?, runtimeIds?, applicationIds?}`);
      const tenant = optionalString(item, "tenant", at) ?? DEFAULT_TENANT;
      state.ensureTenant(tenant);
      state.ensureFormation(tenant, requiredString(item, "name", at));
      for (const key of ["runtimeIds", "applicationIds"]) {
        const ids = item[key];
        if (ids !== undefined && !(Array.isArray(ids) && ids.every((id) => typeof id === "string" && id !== ""))) {
          throw new SeedError(`${at}.${key} must be an array of ids`);
        }
      }
    });
    return items.length;
  },

  applications(state, items, path) {
    items.forEach((item, i) => {
      const at = `${path}[${i}]`;
      try {
        createApplication(state, parseApplicationInput(item, at));
      } catch (error) {
        if (error instanceof InputError) throw new SeedError(error.message);
        throw new SeedError(`${at}: ${(error as Error).message}`);
      }
    });
    return items.length;
  },

  runtimes(state, items, path) {
    items.forEach((item, i) => {
      const at = `${path}[${i}]`;
      if (!isObject(item)) throw new SeedError(`${at} must be an object`);
      const labels = item["labels"];
      if (labels !== undefined && !isObject(labels)) throw new SeedError(`${at}.labels must be an object`);
      const formations = item["formations"];
      if (formations !== undefined && !(Array.isArray(formations) && formations.every((f) => typeof f === "string"))) {
        throw new SeedError(`${at}.formations must be an array of strings`);
      }
      const status = optionalString(item, "status", at);
      if (status !== undefined && !RUNTIME_CONDITIONS.has(status)) {
        throw new SeedError(`${at}.status must be one of ${[...RUNTIME_CONDITIONS].join(", ")}`);
      }
      const id = optionalString(item, "id", at);
      const tenant = optionalString(item, "tenant", at);
      const description = optionalString(item, "description", at);
      const runtimeType = item["runtimeType"];
      if (runtimeType !== undefined && runtimeType !== null && (typeof runtimeType !== "string" || runtimeType === "")) {
        throw new SeedError(`${at}.runtimeType must be a non-empty string or null`);
      }
      try {
        state.createRuntime({
          name: requiredString(item, "name", at),
          ...(id !== undefined ? { id } : {}),
          ...(tenant !== undefined ? { tenant } : {}),
          ...(description !== undefined ? { description } : {}),
          ...(labels !== undefined ? { labels: labels as Record<string, JsonValue> } : {}),
          ...(formations !== undefined ? { formations: formations as string[] } : {}),
          ...(status !== undefined ? { status: status as RuntimeCondition } : {}),
          ...(runtimeType !== undefined ? { runtimeType: runtimeType as string | null } : {}),
        });
      } catch (error) {
        throw new SeedError(`${at}: ${(error as Error).message}`);
      }
    });
    return items.length;
  },
};

/** Order matters: tenants before the objects that reference them. */
const SECTION_ORDER = ["tenants", "formations", "runtimes", "applications"];

/** After every object exists: `formations[].runtimeIds/applicationIds`. */
function assignFormations(state: CompassState, items: unknown[]): number {
  let assigned = 0;
  items.forEach((item, i) => {
    if (!isObject(item)) return;
    const name = item["name"] as string;
    const run = (target: { runtimeId: string } | { applicationId: string }, at: string) => {
      try {
        state.assignFormation(name, target);
        assigned++;
      } catch (error) {
        throw new SeedError(`${at}: ${(error as Error).message}`);
      }
    };
    ((item["runtimeIds"] as string[] | undefined) ?? []).forEach((runtimeId, j) =>
      run({ runtimeId }, `formations[${i}].runtimeIds[${j}]`),
    );
    ((item["applicationIds"] as string[] | undefined) ?? []).forEach((applicationId, j) =>
      run({ applicationId }, `formations[${i}].applicationIds[${j}]`),
    );
  });
  return assigned;
}

function loadHideSelectors(state: CompassState, value: unknown): number {
  if (!isObject(value)) throw new SeedError("hideSelectors must be an object {labelKey: [values]}");
  for (const [key, values] of Object.entries(value)) {
    if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) {
      throw new SeedError(`hideSelectors.${key} must be an array of strings`);
    }
    state.hideSelectors.set(key, [...(values as string[])]);
  }
  return Object.keys(value).length;
}

/** Validates and loads a parsed seed into the state. Throws SeedError with a JSON path on bad input. */
export function applySeed(state: CompassState, seed: unknown): SeedReport {
  if (!isObject(seed)) throw new SeedError("seed must be a JSON object");
  const report: SeedReport = { loaded: {}, ignored: [] };
  for (const key of Object.keys(seed)) {
    if (!(key in loaders) && key !== "hideSelectors") report.ignored.push(key);
  }
  for (const section of SECTION_ORDER) {
    const items = seed[section];
    if (items === undefined) continue;
    if (!Array.isArray(items)) throw new SeedError(`${section} must be an array`);
    report.loaded[section] = loaders[section]!(state, items, section);
  }
  if (Array.isArray(seed["formations"])) {
    const assignments = assignFormations(state, seed["formations"]);
    if (assignments > 0) report.loaded["formationAssignments"] = assignments;
  }
  if (seed["hideSelectors"] !== undefined) report.loaded["hideSelectors"] = loadHideSelectors(state, seed["hideSelectors"]);
  return report;
}

export function readSeedFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new SeedError(`cannot read seed file ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new SeedError(`seed file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}
