// Listings against a Director that keeps changing (real-compass.md §2.5) or that varies the order of nested lists
// between identical calls (§2.2): `allowInconsistent`, `consistent`, the canonical order and the digest.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { DirectorClient, DirectorErrorCode } from "../src/index.js";
import { failure } from "./support/failure.js";
import type { ApplicationListing, ApplicationSink, DirectorApplication, ListingReplay, RelistApplicationsOptions } from "../src/index.js";
import { FakeDirector, fakeId, json } from "./support/fake-director.js";
import type { FakeApplication, FakeBundle } from "./support/fake-director.js";

const director = new FakeDirector();
let client: DirectorClient;

beforeAll(async () => {
  await director.start();
  client = new DirectorClient({ url: director.url, tls: { caPem: director.tls.caPem } });
});
afterAll(async () => {
  await client.close();
  await director.stop();
});
beforeEach(() => director.reset());

/** An application with two bundles; the first has 201 API definitions (two nested pages) and 3 events. */
function application(prefix: string, n: number): FakeApplication {
  const bundles: FakeBundle[] = [
    {
      id: fakeId("b0000000", n * 10 + 2),
      name: `big-${n}`,
      apis: Array.from({ length: 201 }, (_, i) => ({ id: fakeId(`c${prefix.slice(1)}`, n * 1000 + i), name: `api-${i}`, targetURL: `https://x/${i}` })),
      events: Array.from({ length: 3 }, (_, i) => ({ id: fakeId("e0000000", n * 10 + i), name: `event-${i}` })),
    },
    { id: fakeId("b0000000", n * 10 + 1), name: `small-${n}`, events: [{ id: fakeId("e1000000", n), name: "only" }] },
  ];
  return { id: fakeId(prefix, n), name: `mp-${prefix}-${n}`, bundles };
}

/** What a complete listing of `app` holds, with every list in id order. */
function expectedIds(app: FakeApplication): unknown {
  const sorted = (ids: string[]) => [...ids].sort();
  return {
    id: app.id,
    bundles: sorted((app.bundles ?? []).map((b) => b.id)).map((id) => {
      const b = (app.bundles ?? []).find((x) => x.id === id);
      return { id, apis: sorted((b?.apis ?? []).map((a) => a.id)), events: sorted((b?.events ?? []).map((e) => e.id)) };
    }),
  };
}

function listedIds(listing: ApplicationListing, id: string): unknown {
  const app = listing.applications.find((a) => a.id === id);
  return app && {
    id: app.id,
    bundles: app.bundles.map((b) => ({ id: b.id, apis: b.apiDefinitions.map((a) => a.id), events: b.eventDefinitions.map((e) => e.id) })),
  };
}

/** A sink that keeps what it is given, in the order given, and counts its restarts. */
function collecting(): ApplicationSink & { applications: DirectorApplication[]; restarts: number } {
  const sink = {
    applications: [] as DirectorApplication[],
    restarts: 0,
    restart: () => {
      sink.applications = [];
      sink.restarts++;
    },
    add: (application: DirectorApplication) => sink.applications.push(application),
  };
  return sink;
}

/** relistApplicationsForRuntime into a collecting sink; a full listing comes back with its applications in id order. */
async function relist(runtimeId: string, previous: ListingReplay, options: RelistApplicationsOptions) {
  const sink = collecting();
  const relisted = await client.relistApplicationsForRuntime(runtimeId, previous, sink, options);
  if (relisted.unchanged) {
    expect(sink.applications).toEqual([]);
    return relisted;
  }
  return { ...relisted, applications: sink.applications.sort((a, b) => (a.id < b.id ? -1 : 1)) };
}

/** Before every application page but the first of an attempt, an application with a smaller id appears. */
function keepInserting(): void {
  let n = 0;
  director.beforeExecute = (_index, request) => {
    if (request.operationName === "ApplicationsForRuntime" && request.variables["after"] !== null) {
      n++;
      director.applications.push(application("0a000000", n));
    }
  };
}

describe("a Director that keeps changing", () => {
  test("a listing that fits together is consistent", async () => {
    director.applications = [application("a0000000", 1), application("a0000000", 2)];
    const listing = await client.listApplicationsForRuntime(director.runtimeId, { allowInconsistent: true });
    expect(listing).toMatchObject({ consistent: true, inconsistency: null, totalCount: 2 });
    expect(listing.stats.attempts).toBe(1);
  });

  test("without allowInconsistent: DIRECTOR_INCONSISTENT_PAGING, as before", async () => {
    director.applications = Array.from({ length: 6 }, (_, i) => application("a0000000", i + 1));
    keepInserting();
    const error = await failure(client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2 }));
    expect(error.code).toBe(DirectorErrorCode.INCONSISTENT_PAGING);
  });

  test("with allowInconsistent: the applications seen, once each, each complete, marked inconsistent", async () => {
    director.applications = Array.from({ length: 6 }, (_, i) => application("a0000000", i + 1));
    keepInserting();
    const listing = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2, allowInconsistent: true });
    expect(listing.consistent).toBe(false);
    expect(listing.inconsistency).toMatch(/^first attempt: .*totalCount changed.*; second attempt: .*totalCount changed/);
    expect(listing.stats.attempts).toBe(2);
    const ids = listing.applications.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort());
    // Offset paging with an insert before each page sees (and repeats) items; all six of the start are still seen.
    expect(ids.filter((id) => id.startsWith("a0000000"))).toHaveLength(6);
    for (const id of ids) {
      const app = director.applications.find((a) => a.id === id);
      expect(app).toBeDefined();
      expect(listedIds(listing, id)).toEqual(expectedIds(app as FakeApplication));
    }
  });

  test("with allowInconsistent, when the second attempt fits together, the listing is consistent", async () => {
    director.applications = Array.from({ length: 4 }, (_, i) => application("a0000000", i + 1));
    let inserted = false;
    director.beforeExecute = (_index, request) => {
      if (!inserted && request.operationName === "ApplicationsForRuntime" && request.variables["after"] !== null) {
        inserted = true;
        director.applications.push(application("0a000000", 1));
      }
    };
    const listing = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2, allowInconsistent: true });
    expect(listing).toMatchObject({ consistent: true, inconsistency: null, totalCount: 5 });
    expect(listing.applications).toHaveLength(5);
    expect(listing.stats.attempts).toBe(2);
  });

  test("an application whose nested pages shift in the second attempt too is left out, never half listed", async () => {
    const shifting = application("a0000000", 1);
    director.applications = [shifting, application("a0000000", 2), application("a0000000", 3)];
    let added = 0;
    director.beforeExecute = (_index, request) => {
      if (request.operationName === "BundleApiDefinitionsPage" && request.variables["bundleId"] === shifting.bundles?.[0]?.id) {
        shifting.bundles?.[0]?.apis?.push({ id: fakeId("c0000000", 0) + `-${++added}`, name: "new", targetURL: "https://x" });
      }
    };
    const listing = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2, allowInconsistent: true });
    expect(listing.consistent).toBe(false);
    expect(listing.inconsistency).toContain(`application ${shifting.id} is left out`);
    expect(listing.applications.map((a) => a.id)).toEqual([fakeId("a0000000", 2), fakeId("a0000000", 3)]);
    for (const app of director.applications.slice(1)) expect(listedIds(listing, app.id)).toEqual(expectedIds(app));
  });
});

describe("canonical order and digest", () => {
  const reverse = <T>(data: T[]): T[] => [...data].reverse();
  const swapFirstTwo = <T>(data: T[]): T[] => (data.length < 2 ? data : [data[1] as T, data[0] as T, ...data.slice(2)]);

  test("the same content in other nested (and application) orders: the same model and digest", async () => {
    director.applications = [application("a0000000", 1), application("a0000000", 2), application("a0000000", 3)];
    const inIdOrder = await client.listApplicationsForRuntime(director.runtimeId);
    director.pageOrder = reverse;
    const reversed = await client.listApplicationsForRuntime(director.runtimeId);
    director.pageOrder = swapFirstTwo;
    const swapped = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2 });
    expect(reversed.applications).toEqual(inIdOrder.applications);
    expect(swapped.applications).toEqual(inIdOrder.applications);
    expect(reversed.digest).toBe(inIdOrder.digest);
    expect(swapped.digest).toBe(inIdOrder.digest);
    for (const app of director.applications) expect(listedIds(reversed, app.id)).toEqual(expectedIds(app));
  });

  test("different content: a different digest", async () => {
    director.applications = [application("a0000000", 1), application("a0000000", 2)];
    const before = await client.listApplicationsForRuntime(director.runtimeId);
    const event = director.applications[1]?.bundles?.[0]?.events?.[2];
    if (event) event.name = "renamed";
    director.pageOrder = reverse;
    const after = await client.listApplicationsForRuntime(director.runtimeId);
    expect(after.digest).not.toBe(before.digest);
    director.pageOrder = undefined;
    director.applications.pop();
    expect((await client.listApplicationsForRuntime(director.runtimeId)).digest).not.toBe(after.digest);
  });
});

describe("streaming a listing (streamApplicationsForRuntime)", () => {
  test("each application goes to the sink as soon as it is complete, before the next page is asked; the result holds none", async () => {
    director.applications = [application("a0000000", 1), application("a0000000", 2), application("a0000000", 3)];
    const pagesAskedAt: number[] = [];
    const sink = collecting();
    const add = sink.add;
    sink.add = (application) => {
      pagesAskedAt.push(director.operations("ApplicationsForRuntime").length);
      return add(application);
    };
    const streamed = await client.streamApplicationsForRuntime(director.runtimeId, sink, { pageSize: 2 });
    // Two applications of the first page before the second page was asked, the third after.
    expect(pagesAskedAt).toEqual([1, 1, 2]);
    expect(streamed).not.toHaveProperty("applications");
    const listed = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2 });
    expect(streamed).toMatchObject({ applicationCount: 3, totalCount: 3, consistent: true, digest: listed.digest });
    expect(sink.restarts).toBe(1);
    expect(sink.applications.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(listed.applications);
  });

  test("a listing that starts over restarts the sink: it ends with the second attempt's applications only", async () => {
    director.applications = Array.from({ length: 6 }, (_, i) => application("a0000000", i + 1));
    keepInserting();
    const sink = collecting();
    const streamed = await client.streamApplicationsForRuntime(director.runtimeId, sink, { pageSize: 2, allowInconsistent: true });
    expect(streamed.stats.attempts).toBe(2);
    expect(sink.restarts).toBe(2);
    expect(sink.applications).toHaveLength(streamed.applicationCount);
    expect(new Set(sink.applications.map((a) => a.id)).size).toBe(streamed.applicationCount);
  });
});

describe("relisting after a listing (relistApplicationsForRuntime)", () => {
  const reverse = <T>(data: T[]): T[] => [...data].reverse();
  /** Real Compass: applications in id order, nested lists in any order. */
  const reverseNested = <T extends { id: string }>(data: T[]): T[] => (data[0]?.id.startsWith("a0") ? data : [...data].reverse());
  /** Three applications over two application pages; the first has nested pages (201 API definitions). */
  async function firstListing(): Promise<ApplicationListing> {
    director.applications = [application("a0000000", 1), application("a0000000", 2), application("a0000000", 3)];
    const listing = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2 });
    expect(listing.replay).not.toBeNull();
    director.requests.length = 0;
    return listing;
  }

  test("the same answers: unchanged, with the listing's count and digest, and the same requests again", async () => {
    const before = await firstListing();
    const seen = before.stats.requests;
    const relisted = await relist(director.runtimeId, before.replay!, { pageSize: 2, onFullListing: () => expect.fail("no full listing") });
    expect(relisted).toMatchObject({ unchanged: true, applicationCount: 3, digest: before.digest, replay: before.replay });
    expect(relisted.stats.requests).toBe(seen);
    expect(director.requests).toHaveLength(seen);
  });

  test("nested lists in another order (as real Compass answers): unchanged", async () => {
    const before = await firstListing();
    director.pageOrder = reverseNested;
    const relisted = await relist(director.runtimeId, before.replay!, { pageSize: 2 });
    expect(relisted).toMatchObject({ unchanged: true, applicationCount: 3, digest: before.digest });
    expect(director.requests).toHaveLength(before.stats.requests);
  });

  test("an application changed after the first page, nested lists reordered: a full listing, equal to a fresh one", async () => {
    const before = await firstListing();
    director.pageOrder = reverseNested;
    const event = director.applications[2]?.bundles?.[0]?.events?.[0];
    if (event) event.name = "renamed";
    // onFullListing is called once, after the replayed requests up to the differing one and before the full listing's.
    const calledAfter: number[] = [];
    const relisted = await relist(director.runtimeId, before.replay!, {
      pageSize: 2,
      onFullListing: () => calledAfter.push(director.requests.length),
    });
    if (relisted.unchanged) throw new Error("a changed event name went unnoticed");
    const requestsOfRelisting = director.requests.length;
    expect(calledAfter).toHaveLength(1);
    const replayed = calledAfter[0] as number;
    // The replay stopped at the differing answer (page 2, before the third application's nested pages).
    expect(replayed).toBeGreaterThan(1);
    expect(replayed).toBeLessThan(before.stats.requests);
    expect(director.operations("ApplicationsForRuntime").filter((r) => r.variables["after"] === null)).toHaveLength(2);
    const fresh = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2 });
    // After the call, exactly the requests of a full listing.
    expect(requestsOfRelisting - replayed).toBe(fresh.stats.requests);
    expect(relisted.applications).toEqual(fresh.applications);
    expect(relisted.digest).toBe(fresh.digest);
    expect(relisted.digest).not.toBe(before.digest);
    expect(relisted.stats.requests).toBe(requestsOfRelisting);
  });

  test("an application added or removed: a full listing with it or without it", async () => {
    const before = await firstListing();
    director.applications.push(application("a0000000", 4));
    const added = await relist(director.runtimeId, before.replay!, { pageSize: 2 });
    expect(added.unchanged ? [] : added.applications.map((a) => a.id)).toEqual(director.applications.map((a) => a.id));
    director.applications.splice(0, 2);
    const removed = await relist(director.runtimeId, added.replay!, { pageSize: 2 });
    expect(removed.unchanged ? [] : removed.applications.map((a) => a.id)).toEqual(director.applications.map((a) => a.id));
  });

  test("applications in another order within a page (their paging differs): a full listing, with the same digest", async () => {
    const before = await firstListing();
    director.pageOrder = reverse;
    const relisted = await relist(director.runtimeId, before.replay!, { pageSize: 2 });
    expect(relisted.unchanged).toBe(false);
    expect(relisted.digest).toBe(before.digest);
  });

  test("a replay of another runtime or another page size, or not made by the client, is not replayed: a full listing", async () => {
    const before = await firstListing();
    const otherSize = await relist(director.runtimeId, before.replay!, { pageSize: 3 });
    expect(otherSize.unchanged).toBe(false);
    // A copy is not a replay: only the client's own replays are replayed.
    const copy = await relist(director.runtimeId, { ...before.replay! }, { pageSize: 2 });
    expect(copy.unchanged).toBe(false);
    director.requests.length = 0;
    // The fake Director knows no other runtime: the answer is its error, and no request named the replay's runtime.
    const otherRuntime = "1ab2ca6e-767c-4d34-a292-618b01681c50";
    await failure(relist(otherRuntime, before.replay!, { pageSize: 2 }));
    expect(director.requests.length).toBeGreaterThan(0);
    expect(director.requests.every((r) => r.variables["runtimeId"] === otherRuntime)).toBe(true);
  });

  test("an answer a listing would refuse fails the relisting as it would fail the listing: no full listing after it", async () => {
    for (const [handler, code] of [
      [json(503, { message: "no healthy upstream" }), DirectorErrorCode.UNAVAILABLE],
      [json(200, {}), DirectorErrorCode.BAD_RESPONSE],
    ] as const) {
      const before = await firstListing();
      // The second page of the replay.
      director.raw = (index) => (index === 1 ? handler : undefined);
      const error = await failure(relist(director.runtimeId, before.replay!, { pageSize: 2 }));
      expect(error.code).toBe(code);
      expect(director.requests).toHaveLength(2);
      director.raw = undefined;
    }
  });

  test("an inconsistent listing has no replay", async () => {
    director.applications = Array.from({ length: 6 }, (_, i) => application("a0000000", i + 1));
    keepInserting();
    const listing = await client.listApplicationsForRuntime(director.runtimeId, { pageSize: 2, allowInconsistent: true });
    expect(listing.consistent).toBe(false);
    expect(listing.replay).toBeNull();
  });
});
