/**
 * Canonical order and digest of a listing. Real Compass sorts `applicationsForRuntime` by id but returns bundles,
 * API definitions and event definitions in varying order between identical calls (a SQL UNION without an outer
 * ORDER BY). The client sorts every nested list by id, so that equal content is an equal model, and digests the
 * model, not the bytes of the answers.
 */
import { createHash } from "node:crypto";
import type { DirectorApplication } from "./model.js";

/** Code-unit order of ids: the order PostgreSQL gives lower-case UUIDs, and the order Compass pages applications in. */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Sorts the application's bundles, and each bundle's API and event definitions, by id (in place). */
export function sortNestedLists(application: DirectorApplication): void {
  sortById(application.bundles);
  for (const bundle of application.bundles) {
    sortById(bundle.apiDefinitions);
    sortById(bundle.eventDefinitions);
  }
}

/** Lists up to this long are sorted in place by insertion; Array.prototype.sort copies every list it sorts. */
const INSERTION_SORT_MAX = 16;

function sortById<T extends { id: string }>(items: T[]): void {
  if (items.length > INSERTION_SORT_MAX) {
    items.sort(byId);
    return;
  }
  for (let i = 1; i < items.length; i++) {
    const item = items[i] as T;
    let j = i - 1;
    for (; j >= 0 && (items[j] as T).id > item.id; j--) items[j + 1] = items[j] as T;
    items[j + 1] = item;
  }
}

/**
 * SHA-256 (hex) of applications given in id order, each with its nested lists in id order (sortNestedLists): equal
 * for equal content, whatever order Compass sent. Object keys are in the fixed order of the model's converters, except
 * inside labels and header/query maps, which keep Compass's order (its Go JSON encoder sorts map keys).
 */
export function listingDigest(applications: readonly DirectorApplication[]): string {
  const hash = createHash("sha256");
  for (const application of applications) hash.update(JSON.stringify(application)).update("\n");
  return hash.digest("hex");
}
