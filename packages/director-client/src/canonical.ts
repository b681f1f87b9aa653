/**
 * Canonical order and digest of a listing. Real Compass sorts `applicationsForRuntime` by id but returns bundles,
 * API definitions and event definitions in varying order between identical calls (a SQL UNION without an outer
 * ORDER BY). The client sorts every nested list by id, so that equal content is an equal model, and digests the
 * model, not the bytes of the answers.
 */
import { createHash, type Hash } from "node:crypto";
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

/**
 * Sorts the nested lists of a raw answer to any of the listing's documents (bundles, API and event definitions of
 * each application on the page) by id, in place: two answers sorted so differ only where their content does. What is
 * not shaped as expected is left alone (the converters refuse it).
 */
function sortRawNestedLists(data: unknown): void {
  for (const application of pageItems(member(data, "result"))) {
    const bundles = pageItems(member(application, "bundles"));
    sortRawById(bundles);
    const bundle = member(application, "bundle");
    for (const b of bundle === undefined ? bundles : [bundle]) {
      sortRawById(pageItems(member(b, "apiDefinitions")));
      sortRawById(pageItems(member(b, "eventDefinitions")));
    }
  }
}

/**
 * SHA-256 (hex) of an answer's data as JSON text, with its nested lists sorted by id (in place). The text is hashed a
 * piece at a time (each application of a page, each of its bundles), never built whole: the same hash as of
 * JSON.stringify(data), without a string the size of the answer.
 */
export function canonicalSha256(data: unknown): string {
  sortRawNestedLists(data);
  const sha256 = createHash("sha256");
  updateJson(sha256, data, 3);
  return sha256.digest("hex");
}

/** Feeds JSON.stringify(value) to `hash`; objects and arrays `levels` deep are fed member by member. */
function updateJson(hash: Hash, value: unknown, levels: number): void {
  if (levels === 0 || value === null || typeof value !== "object") {
    hash.update(JSON.stringify(value));
  } else if (Array.isArray(value)) {
    hash.update("[");
    value.forEach((item: unknown, i) => {
      if (i > 0) hash.update(",");
      updateJson(hash, item, levels - 1);
    });
    hash.update("]");
  } else {
    hash.update("{");
    let first = true;
    for (const [key, member] of Object.entries(value)) {
      hash.update(`${first ? "" : ","}${JSON.stringify(key)}:`);
      updateJson(hash, member, levels - 1);
      first = false;
    }
    hash.update("}");
  }
}

function member(value: unknown, key: string): unknown {
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
}

function pageItems(page: unknown): unknown[] {
  const data = member(page, "data");
  return Array.isArray(data) ? data : [];
}

function sortRawById(items: unknown[]): void {
  if (items.every((item) => typeof member(item, "id") === "string")) sortById(items as { id: string }[]);
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
 * SHA-256 (hex) of one application with its nested lists in id order (sortNestedLists): equal for equal content,
 * whatever order Compass sent. Object keys are in the fixed order of the model's converters, except inside labels and
 * header/query maps, which keep Compass's order (its Go JSON encoder sorts map keys).
 */
export function applicationDigest(application: DirectorApplication): string {
  return createHash("sha256").update(JSON.stringify(application)).digest("hex");
}

/**
 * SHA-256 (hex) of a listing from the applicationDigest of each application, by application id: taken in id order,
 * so it does not depend on the order the applications arrived in, and needs none of them kept.
 */
export function listingDigest(digestsById: ReadonlyMap<string, string>): string {
  const hash = createHash("sha256");
  for (const id of [...digestsById.keys()].sort()) hash.update(id).update(" ").update(digestsById.get(id) as string).update("\n");
  return hash.digest("hex");
}
