import { createHash, randomUUID } from "node:crypto";
import { CompassTransport, graphQLData, graphQLPost, graphQLQuery } from "@runtime-agent/connector-client";
import type { ClientCertificate, CompassResponse, GraphQLDocument, ProxyConfig, TlsTrust } from "@runtime-agent/connector-client";
import { applicationDigest, byId, canonicalSha256, listingDigest, sortNestedLists } from "./canonical.js";
import * as convert from "./convert.js";
import type { ApplicationState, BundleState, Origin, PageMeta } from "./convert.js";
import { DirectorError, DirectorErrorCode } from "./errors.js";
import { toDirectorError } from "./error-mapping.js";
import {
  ApplicationBundlesPageDocument,
  ApplicationsForRuntimeDocument,
  BundleApiDefinitionsPageDocument,
  BundleEventDefinitionsPageDocument,
  DeleteRuntimeLabelDocument,
  RuntimeLabelsDocument,
  SetRuntimeLabelDocument,
} from "./generated/graphql.js";
import type { ApplicationListing, ApplicationSink, ApplicationStream, DirectorApplication, ListingStats, RuntimeLabel } from "./model.js";

export const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * Applications per `applicationsForRuntime` page. Compass documents 100 as the maximum for this query (it enforces
 * none), and every application arrives with up to 200 bundles × 200 APIs/events, so pages stay moderate. Half of that:
 * a page is text, then a parsed tree, then hashed or converted, and each page's garbage is short-lived only while it
 * fits V8's young generation (the agent's 2 MB). pnpm bench, 1,000 applications × 5 bundles × (3 APIs + 2 events): a
 * no-change cycle 0.23-0.25 s of CPU with 50 against 0.30-0.37 s with 100, and the whole-life peak RSS 1-3 MB lower,
 * for 21 requests instead of 11.
 */
export const DEFAULT_PAGE_SIZE = 50;
/** The largest page the client asks for; 200 is Compass's own default and its limit on nested lists. */
export const MAX_PAGE_SIZE = 200;
/** Page size for nested lists (bundles, API and event definitions): Compass's maximum, 1..200 enforced. */
export const NESTED_PAGE_SIZE = 200;
/** A Director answer larger than this is refused (BAD_RESPONSE) instead of exhausting memory. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface DirectorClientOptions {
  /** Director GraphQL endpoint, as the Connector's configuration names it (`directorURL`). */
  url: string;
  /** Sent as the `Tenant` header when set. Optional: Compass takes the tenant from the certificate otherwise. */
  tenant?: string | undefined;
  /** The runtime's client certificate (mTLS). Not needed when `transport` is given. */
  clientCertificate?: ClientCertificate | undefined;
  tls?: TlsTrust | undefined;
  /** HTTP(S) proxy to the Director (as Go's HTTPS_PROXY / NO_PROXY), for the client's own transport; direct when absent. */
  proxy?: ProxyConfig | undefined;
  /** Share one transport (and its certificate swaps) with the Connector client; otherwise the client owns one. */
  transport?: CompassTransport | undefined;
  /** Per-request timeout (default 30 s). A listing of many pages gets this for each request. */
  timeoutMs?: number | undefined;
  maxResponseBytes?: number | undefined;
}

export interface DirectorCallOptions {
  signal?: AbortSignal | undefined;
  /** Sent as x-request-id on every request of the call; a random UUID when absent. */
  requestId?: string | undefined;
}

export interface ListApplicationsOptions extends DirectorCallOptions {
  /** Applications per page, 1..200 (default 100). */
  pageSize?: number | undefined;
  /**
   * When the pages still do not fit together after the listing started over (Compass kept changing), return what the
   * second attempt saw, marked `consistent: false`, instead of failing with DIRECTOR_INCONSISTENT_PAGING. Every
   * application in it is complete; applications may be missing. Fit for creating and updating, never for deleting.
   */
  allowInconsistent?: boolean | undefined;
}

export interface RelistApplicationsOptions extends ListApplicationsOptions {
  /**
   * Called once when the relisting turns into a full listing (an answer differs, or the replay is of another
   * listing), before its first request: work that only a change needs can start beside it.
   */
  onFullListing?: (() => void) | undefined;
}

/** Internal: the pages of one listing attempt did not fit together. */
class PagingInconsistency extends Error {
  override readonly name = "PagingInconsistency";
}

interface CallContext {
  requestId: string;
  signal: AbortSignal | undefined;
  stats: { requests: number; bytesReceived: number };
  /** When set, every successful request of the call is recorded here (a listing's replay). */
  steps?: ReplayStep[] | undefined;
}

/** One request of a listing, and the SHA-256 of its answer: of the bytes, and of its data with nested lists in id order. */
interface ReplayStep {
  document: GraphQLDocument<unknown, Record<string, unknown>>;
  variables: Record<string, unknown>;
  sha256: string;
  canonical: string;
}

/**
 * What a consistent listing asked the Director and the hashes of each answer (no content: about 250 bytes per
 * request), for `relistApplicationsForRuntime`. The client asks deterministically from the answers, so answers with
 * the same content mean the same requests and the same listing. Content, not bytes: real Compass varies the order of
 * nested lists between identical calls, so each answer is also hashed with its nested lists sorted by id.
 */
export interface ListingReplay {
  /** The replayed listing's number of applications and digest. */
  readonly applicationCount: number;
  readonly digest: string;
}

/** What each replay stands for, out of its users' reach: a replay not made by a client is never replayed. */
const recorded = new WeakMap<ListingReplay, { scope: string; steps: readonly ReplayStep[] }>();

function newReplay(scope: string, steps: readonly ReplayStep[], applicationCount: number, digest: string): ListingReplay {
  const replay: ListingReplay = Object.freeze({ applicationCount, digest });
  recorded.set(replay, { scope, steps });
  return replay;
}

/** What `relistApplicationsForRuntime` returns when every answer was the same as the replayed listing's. */
export interface ListingUnchanged {
  unchanged: true;
  applicationCount: number;
  digest: string;
  /** The replay to pass next time (the same one). */
  replay: ListingReplay;
  stats: ListingStats;
}

/** Where an application was found: the page to ask again for its nested lists. */
interface PageLocator {
  first: number;
  after: string | null;
  totalCount: number;
}

const LABEL_KEY = /^[a-zA-Z0-9_]{1,256}$/;

/** Up to this many ids, a list of one page is checked for ids that come twice without a Set. */
const SMALL_PAGE = 16;

/**
 * Follows one list's pages and proves they fit together: stable totalCount, no id twice, no cursor seen twice,
 * and exactly totalCount items in the end.
 */
class ListTracker {
  /** What the list is, for messages: built only when one is written (a listing has a tracker per nested list). */
  readonly #what: () => string;
  /** Ids and cursors of the pages so far; not needed while the list is a single page (most nested lists are). */
  #ids: Set<string> | undefined;
  #cursors: Set<string> | undefined;
  readonly #tolerate: ((problem: string) => void) | undefined;
  #totalCount: number | undefined;

  /**
   * With `tolerate`, a mismatch is reported to it and paging goes on with the latest totalCount; where going on
   * could loop (a cursor that comes back, an empty page that claims more), the list ends there.
   */
  constructor(what: () => string, tolerate?: (problem: string) => void) {
    this.#what = what;
    this.#tolerate = tolerate;
  }

  #mismatch(problem: string): void {
    if (this.#tolerate === undefined) throw new PagingInconsistency(problem);
    this.#tolerate(problem);
  }

  get totalCount(): number {
    return this.#totalCount ?? 0;
  }

  /** Records one page; returns the cursor of the next page, or null when the list is complete. */
  accept(ids: readonly string[], meta: PageMeta, sentAfter: string | null): string | null {
    if (this.#totalCount !== undefined && meta.totalCount !== this.#totalCount) {
      this.#mismatch(`${this.#what()}: totalCount changed from ${this.#totalCount} to ${meta.totalCount} between pages`);
    }
    this.#totalCount = meta.totalCount;
    const onlyPage = this.#ids === undefined && !meta.hasNextPage && ids.length <= SMALL_PAGE;
    const received = onlyPage ? this.#smallOnlyPage(ids) : this.#nextPage(ids);
    if (received > this.#totalCount) {
      this.#mismatch(`${this.#what()}: received ${received} items but totalCount is ${this.#totalCount}`);
    }
    if (!meta.hasNextPage) {
      if (received !== this.#totalCount) {
        this.#mismatch(`${this.#what()}: the last page came after ${received} of ${this.#totalCount} items`);
      }
      return null;
    }
    if (ids.length === 0) {
      this.#mismatch(`${this.#what()}: an empty page claims that more follow`);
      return null;
    }
    this.#cursors ??= new Set();
    if (meta.endCursor === (sentAfter ?? "") || this.#cursors.has(meta.endCursor)) {
      this.#mismatch(`${this.#what()}: cursor loop, endCursor ${JSON.stringify(meta.endCursor)} came back`);
      return null;
    }
    this.#cursors.add(meta.endCursor);
    return meta.endCursor;
  }

  /**
   * A list of one short page (most nested lists): its distinct ids, counted without a Set. Quadratic, hence only up
   * to SMALL_PAGE ids: a Director may send pages far larger than it was asked for.
   */
  #smallOnlyPage(ids: readonly string[]): number {
    let distinct = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      if (ids.indexOf(id) < i) this.#mismatch(`${this.#what()}: ${id} came twice`);
      else distinct++;
    }
    return distinct;
  }

  /** A page of a list of several: its ids added to those of the pages before; the distinct ids so far. */
  #nextPage(ids: readonly string[]): number {
    const seen = (this.#ids ??= new Set());
    for (const id of ids) {
      if (seen.has(id)) this.#mismatch(`${this.#what()}: ${id} came twice`);
      seen.add(id);
    }
    return seen.size;
  }
}

/** Typed client for the part of the Compass Director a runtime uses. */
export class DirectorClient {
  readonly url: string;
  readonly #tenant: string | undefined;
  readonly #transport: CompassTransport;
  readonly #ownsTransport: boolean;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;

  constructor(options: DirectorClientOptions) {
    this.url = options.url;
    this.#tenant = options.tenant === "" ? undefined : options.tenant;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#ownsTransport = options.transport === undefined;
    this.#transport =
      options.transport ?? new CompassTransport({ tls: options.tls, clientCertificate: options.clientCertificate, proxy: options.proxy });
  }

  /** Replace the client certificate after a renewal; calls under way finish with the old one. */
  setClientCertificate(clientCertificate: ClientCertificate): void {
    this.#transport.setClientCertificate(clientCertificate);
  }

  /** The runtime's labels (`{}` when it has none). A runtime the Director does not know is DIRECTOR_RUNTIME_NOT_FOUND. */
  async getRuntimeLabels(runtimeId: string, options: DirectorCallOptions = {}): Promise<Record<string, unknown>> {
    const operation = "getRuntimeLabels";
    requireId(operation, "runtimeId", runtimeId);
    const call = this.#call(options);
    const data = await this.#request(operation, RuntimeLabelsDocument, { runtimeId }, call);
    const origin: Origin = { operation, requestId: call.requestId };
    const labels = convert.runtimeLabels(field(data, "runtime", origin), origin);
    if (labels === null) {
      throw new DirectorError(
        DirectorErrorCode.RUNTIME_NOT_FOUND,
        `${operation}: the Director knows no runtime ${runtimeId} in this tenant; check RUNTIME_ID and TENANT, or whether the runtime was unregistered`,
        { operation, requestId: call.requestId },
      );
    }
    return labels;
  }

  /**
   * Every application assigned to the runtime, with every bundle, API definition and event definition: all pages,
   * checked to fit together. When they do not (Compass pages by offset, so inserts and deletions shift items), the
   * listing starts over once, then fails with DIRECTOR_INCONSISTENT_PAGING — or, with `allowInconsistent`, returns
   * what the second attempt saw, marked `consistent: false`. It never returns a partially listed application.
   * Applications, bundles, API and event definitions come sorted by id.
   */
  async listApplicationsForRuntime(runtimeId: string, options: ListApplicationsOptions = {}): Promise<ApplicationListing> {
    let applications: DirectorApplication[] = [];
    const listing = await this.streamApplicationsForRuntime(
      runtimeId,
      {
        restart: () => (applications = []),
        add: (application) => applications.push(application),
      },
      options,
    );
    return { ...listing, applications: applications.sort(byId) };
  }

  /**
   * The same listing as listApplicationsForRuntime, but each application goes to `sink` as soon as it is complete,
   * in the Director's order, and none is kept: a caller that converts them holds the model one page at a time.
   */
  async streamApplicationsForRuntime(runtimeId: string, sink: ApplicationSink, options: ListApplicationsOptions = {}): Promise<ApplicationStream> {
    const { pageSize, call, stats } = this.#startListing(runtimeId, options);
    return this.#list(runtimeId, pageSize, options, call, stats, sink);
  }

  /**
   * The same listing as listApplicationsForRuntime, after an earlier one (`previous`, its `replay`): the requests of
   * that listing are sent again, and while each answer has the content it had then (the same bytes, or the same data
   * but for the order of nested lists), nothing is converted. When all do, the result is `unchanged: true` with that
   * listing's count and digest — no model is built. From the first answer that differs (or when `previous` is of
   * another runtime, tenant, URL or page size) it is a full listing into `sink` (streamApplicationsForRuntime), whose
   * requests include again those already sent (their answers are not kept: memory over requests).
   */
  async relistApplicationsForRuntime(
    runtimeId: string,
    previous: ListingReplay,
    sink: ApplicationSink,
    options: RelistApplicationsOptions = {},
  ): Promise<ListingUnchanged | ApplicationStream> {
    const { onFullListing } = options;
    const operation = "listApplicationsForRuntime";
    const { pageSize, call, stats } = this.#startListing(runtimeId, options);
    const full = () => {
      onFullListing?.();
      return this.#list(runtimeId, pageSize, options, call, stats, sink);
    };
    const replay = recorded.get(previous);
    // A replay of another client (URL, tenant), runtime or page size is not replayed.
    const steps = replay?.scope === this.#replayScope(runtimeId, pageSize) ? replay.steps : undefined;
    if (steps === undefined) return full();
    for (const step of steps) {
      // The same bytes: the same. Else the answer is read as any (an HTTP or GraphQL error fails the relisting as it
      // would fail a listing) and compared with its nested lists in id order.
      const same = await this.#exchange(
        operation,
        step.document,
        step.variables,
        call,
        (body, status, headers) =>
          (status === 200 && bodySha256(body) === step.sha256) || canonicalSha256(this.#data(operation, step.document, step.variables, call, body, status, headers)) === step.canonical,
      );
      if (!same) return full();
    }
    stats.attempts = 1;
    return { unchanged: true, applicationCount: previous.applicationCount, digest: previous.digest, replay: previous, stats };
  }

  #startListing(runtimeId: string, options: ListApplicationsOptions): { pageSize: number; call: CallContext; stats: ListingStats } {
    const operation = "listApplicationsForRuntime";
    requireId(operation, "runtimeId", runtimeId);
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new DirectorError(
        DirectorErrorCode.INVALID_ARGUMENT,
        `${operation}: pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${String(pageSize)}`,
        { operation },
      );
    }
    const call = this.#call(options);
    const stats: ListingStats = {
      requests: 0,
      bytesReceived: 0,
      applicationPages: 0,
      nestedPages: 0,
      attempts: 0,
      restartReason: null,
    };
    call.stats = stats;
    return { pageSize, call, stats };
  }

  #replayScope(runtimeId: string, pageSize: number): string {
    return JSON.stringify([this.url, this.#tenant ?? "", runtimeId, pageSize]);
  }

  async #list(
    runtimeId: string,
    pageSize: number,
    options: ListApplicationsOptions,
    call: CallContext,
    stats: ListingStats,
    sink: ApplicationSink,
  ): Promise<ApplicationStream> {
    const operation = "listApplicationsForRuntime";
    for (let attempt = 1; ; attempt++) {
      stats.attempts = attempt;
      const problems: string[] = [];
      const tolerate = attempt > 1 && options.allowInconsistent === true ? (problem: string) => problems.push(problem) : undefined;
      const steps: ReplayStep[] = [];
      call.steps = steps;
      sink.restart();
      try {
        const { digests, totalCount } = await this.#listOnce(runtimeId, pageSize, call, stats, tolerate, sink);
        const inconsistency = problems.length === 0 ? null : describeProblems(stats.restartReason, problems);
        const digest = listingDigest(digests);
        const applicationCount = digests.size;
        const replay = inconsistency === null ? newReplay(this.#replayScope(runtimeId, pageSize), steps, applicationCount, digest) : null;
        return { unchanged: false, applicationCount, totalCount, stats, digest, consistent: inconsistency === null, inconsistency, replay };
      } catch (error) {
        if (!(error instanceof PagingInconsistency)) throw error;
        if (attempt === 1) {
          stats.restartReason = error.message;
          continue;
        }
        throw new DirectorError(
          DirectorErrorCode.INCONSISTENT_PAGING,
          `${operation}: the Director's pages did not fit together, twice in a row (first: ${stats.restartReason}; then: ${error.message}). ` +
            "Nothing is returned rather than an incomplete list; a later sync will try again",
          { operation, requestId: call.requestId, cause: error },
        );
      } finally {
        call.steps = undefined;
      }
    }
  }

  /** Creates or replaces a runtime label; returns what the Director stored. */
  async setRuntimeLabel(runtimeId: string, key: string, value: unknown, options: DirectorCallOptions = {}): Promise<RuntimeLabel> {
    const operation = "setRuntimeLabel";
    requireId(operation, "runtimeId", runtimeId);
    requireLabelKey(operation, key);
    if (value === undefined || value === null) {
      throw new DirectorError(DirectorErrorCode.INVALID_ARGUMENT, `${operation}: the value of label ${key} must not be null`, {
        operation,
      });
    }
    const call = this.#call(options);
    const data = await this.#request(operation, SetRuntimeLabelDocument, { runtimeId, key, value }, call);
    const origin: Origin = { operation, requestId: call.requestId };
    return convert.label(field(data, "result", origin), origin);
  }

  /** Removes a runtime label; returns the label as it was. A key that is not set is an error from the Director. */
  async deleteRuntimeLabel(runtimeId: string, key: string, options: DirectorCallOptions = {}): Promise<RuntimeLabel> {
    const operation = "deleteRuntimeLabel";
    requireId(operation, "runtimeId", runtimeId);
    requireLabelKey(operation, key);
    const call = this.#call(options);
    const data = await this.#request(operation, DeleteRuntimeLabelDocument, { runtimeId, key }, call);
    const origin: Origin = { operation, requestId: call.requestId };
    return convert.label(field(data, "result", origin), origin);
  }

  async close(): Promise<void> {
    if (this.#ownsTransport) await this.#transport.close();
  }

  #call(options: DirectorCallOptions): CallContext {
    return {
      requestId: options.requestId ?? randomUUID(),
      signal: options.signal,
      stats: { requests: 0, bytesReceived: 0 },
    };
  }

  /**
   * One pass over the pages, each application given to `sink` once complete; returns the applicationDigest of each by
   * id. With `tolerate`, mismatches between application pages are reported to it instead of thrown, an application
   * that comes twice is given once, and an application whose nested pages do not fit together is left out (and
   * reported): what the sink gets is complete, application by application.
   */
  async #listOnce(
    runtimeId: string,
    pageSize: number,
    call: CallContext,
    stats: ListingStats,
    tolerate: ((problem: string) => void) | undefined,
    sink: ApplicationSink,
  ): Promise<{ digests: Map<string, string>; totalCount: number }> {
    const operation = "listApplicationsForRuntime";
    const origin: Origin = { operation, requestId: call.requestId };
    const tracker = new ListTracker(() => `applications of runtime ${runtimeId}`, tolerate);
    const digests = new Map<string, string>();
    let after: string | null = null;
    for (;;) {
      const data = await this.#request(
        operation,
        ApplicationsForRuntimeDocument,
        { runtimeId, first: pageSize, after, nestedFirst: NESTED_PAGE_SIZE },
        call,
      );
      stats.applicationPages++;
      const { data: rawApplications, meta } = convert.rawPage(field(data, "result", origin), origin, "applicationsForRuntime");
      const states = rawApplications.map((raw) => convert.application(raw, origin));
      const next = tracker.accept(
        states.map((state) => state.application.id),
        meta,
        after,
      );
      const locator: PageLocator = { first: pageSize, after, totalCount: tracker.totalCount };
      for (const state of states) {
        const { id } = state.application;
        if (digests.has(id)) continue; // only when tolerating: the tracker reported it
        try {
          await this.#completeApplication(runtimeId, state, locator, call, stats);
        } catch (error) {
          if (tolerate === undefined || !(error instanceof PagingInconsistency)) throw error;
          tolerate(`${error.message}; application ${id} is left out`);
          continue;
        }
        digests.set(id, applicationDigest(state.application));
        sink.add(state.application);
      }
      if (next === null) return { digests, totalCount: tracker.totalCount };
      after = next;
    }
  }

  /** Fetches the further pages of an application's bundles and of each bundle's API and event definitions. */
  async #completeApplication(
    runtimeId: string,
    state: ApplicationState,
    locator: PageLocator,
    call: CallContext,
    stats: ListingStats,
  ): Promise<void> {
    const operation = "listApplicationsForRuntime";
    const appId = state.application.id;
    const origin: Origin = { operation, applicationId: appId, requestId: call.requestId };
    const bundleStates: BundleState[] = [...state.bundleStates];
    const bundles = new ListTracker(() => `bundles of application ${appId}`);
    let bundlesAfter = bundles.accept(
      bundleStates.map((b) => b.bundle.id),
      state.bundles,
      null,
    );
    while (bundlesAfter !== null) {
      const data = await this.#request(
        operation,
        ApplicationBundlesPageDocument,
        { runtimeId, first: locator.first, after: locator.after, bundlesFirst: NESTED_PAGE_SIZE, bundlesAfter, nestedFirst: NESTED_PAGE_SIZE },
        call,
      );
      stats.nestedPages++;
      const raw = findApplication(data, appId, locator, origin);
      const page = convert.bundlePage(raw["bundles"], origin, "bundles");
      const next = bundles.accept(
        page.items.map((b) => b.bundle.id),
        page.meta,
        bundlesAfter,
      );
      bundleStates.push(...page.items);
      bundlesAfter = next;
    }

    for (const { bundle, apis, events } of bundleStates) {
      const apiTracker = new ListTracker(() => `API definitions of bundle ${bundle.id} of application ${appId}`);
      let apisAfter = apiTracker.accept(
        bundle.apiDefinitions.map((a) => a.id),
        apis,
        null,
      );
      while (apisAfter !== null) {
        const data = await this.#request(
          operation,
          BundleApiDefinitionsPageDocument,
          { runtimeId, first: locator.first, after: locator.after, bundleId: bundle.id, apisFirst: NESTED_PAGE_SIZE, apisAfter },
          call,
        );
        stats.nestedPages++;
        const rawBundle = findBundle(findApplication(data, appId, locator, origin), bundle.id, origin);
        const page = convert.apiDefinitionPage(rawBundle["apiDefinitions"], origin, `bundle ${bundle.id}.apiDefinitions`);
        const next = apiTracker.accept(
          page.items.map((a) => a.id),
          page.meta,
          apisAfter,
        );
        bundle.apiDefinitions.push(...page.items);
        apisAfter = next;
      }

      const eventTracker = new ListTracker(() => `event definitions of bundle ${bundle.id} of application ${appId}`);
      let eventsAfter = eventTracker.accept(
        bundle.eventDefinitions.map((e) => e.id),
        events,
        null,
      );
      while (eventsAfter !== null) {
        const data = await this.#request(
          operation,
          BundleEventDefinitionsPageDocument,
          { runtimeId, first: locator.first, after: locator.after, bundleId: bundle.id, eventsFirst: NESTED_PAGE_SIZE, eventsAfter },
          call,
        );
        stats.nestedPages++;
        const rawBundle = findBundle(findApplication(data, appId, locator, origin), bundle.id, origin);
        const page = convert.eventDefinitionPage(rawBundle["eventDefinitions"], origin, `bundle ${bundle.id}.eventDefinitions`);
        const next = eventTracker.accept(
          page.items.map((e) => e.id),
          page.meta,
          eventsAfter,
        );
        bundle.eventDefinitions.push(...page.items);
        eventsAfter = next;
      }
    }
    state.application.bundles = bundleStates.map((b) => b.bundle);
    sortNestedLists(state.application);
  }

  /**
   * One GraphQL POST, with the same request and the same outcomes as graphql-request's `request` (see
   * connector-client's graphql-http.ts), but the answer is read once, with a size limit (readBody), then parsed.
   */
  async #request<TData, TVariables extends Record<string, unknown>>(
    operation: string,
    document: GraphQLDocument<TData, TVariables>,
    variables: TVariables,
    call: CallContext,
  ): Promise<Record<string, unknown>> {
    return this.#exchange(operation, document, variables, call, (body, status, headers) => {
      const data = this.#data(operation, document, variables, call, body, status, headers);
      if (call.steps !== undefined) {
        const step = { document: document as GraphQLDocument<unknown, Record<string, unknown>>, variables, sha256: bodySha256(body), canonical: canonicalSha256(data) };
        call.steps.push(step);
      }
      return data;
    });
  }

  /** The `data` of an answer; an HTTP error, GraphQL errors or no data throw (mapped by #exchange). */
  #data<TData, TVariables extends Record<string, unknown>>(
    operation: string,
    document: GraphQLDocument<TData, TVariables>,
    variables: TVariables,
    call: CallContext,
    body: Body,
    status: number,
    headers: CompassResponse["headers"],
  ): Record<string, unknown> {
    // A GraphQL endpoint answers JSON; some Compass error paths omit the Content-Type header.
    const contentType = headers.get("content-type") ?? "application/json";
    const data = graphQLData({ status, headers, body: bodyText(body), contentType }, { query: graphQLQuery(document).query, variables });
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new DirectorError(DirectorErrorCode.BAD_RESPONSE, `${operation}: the Director's answer has no data`, {
        operation,
        requestId: call.requestId,
      });
    }
    return data as Record<string, unknown>;
  }

  /** One GraphQL POST whose answer, read whole, `answer` turns into the result; every failure is a DirectorError. */
  async #exchange<TData, TVariables extends Record<string, unknown>, R>(
    operation: string,
    document: GraphQLDocument<TData, TVariables>,
    variables: TVariables,
    call: CallContext,
    answer: (body: Body, status: number, headers: CompassResponse["headers"]) => R,
  ): Promise<R> {
    const { requestId } = call;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    const headers: Record<string, string> = { "x-request-id": requestId };
    if (this.#tenant !== undefined) headers["Tenant"] = this.#tenant;
    call.stats.requests++;
    try {
      const response = await this.#transport.fetch(this.url, graphQLPost(graphQLQuery(document), variables, headers, signal));
      const nullBody = [101, 103, 204, 205, 304].includes(response.status);
      if (nullBody) await response.body?.cancel().catch(() => undefined);
      const body = nullBody ? [] : await readBody(response, this.#maxResponseBytes, operation, requestId, call);
      return answer(body, response.status, response.headers);
    } catch (error) {
      throw toDirectorError(error, {
        operation,
        requestId,
        timedOut: timeout.aborted,
        aborted: call.signal?.aborted === true,
        tenant: this.#tenant,
      });
    }
  }
}

/**
 * An answer's bytes, in the chunks they arrived in. They stay Buffers (outside the JS heap) and are never joined: a
 * joined copy of a large answer is a fresh allocation of its size each time, and in a VM, where page faults are dear,
 * faulting its pages in cost more than hashing them (pnpm bench, 1,000 applications: a quarter of a relisting's CPU
 * went to joining, decoding and stringifying whole answers).
 */
type Body = readonly Uint8Array[];

/** Reads a body, refusing more than `limit` bytes. */
async function readBody(
  response: Awaited<ReturnType<CompassTransport["fetch"]>>,
  limit: number,
  operation: string,
  requestId: string,
  call: CallContext,
): Promise<Body> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > limit) {
        await response.body.cancel().catch(() => undefined);
        throw new DirectorError(
          DirectorErrorCode.BAD_RESPONSE,
          `${operation}: the Director's answer is larger than ${limit} bytes; refusing it`,
          { operation, requestId, status: response.status },
        );
      }
      chunks.push(chunk);
    }
  }
  call.stats.bytesReceived += size;
  return chunks;
}

/** The body as text, decoded once: the pieces are joined as text, into the one string JSON.parse reads. */
function bodyText(chunks: Body): string {
  const decoder = new TextDecoder();
  const pieces = chunks.map((chunk) => decoder.decode(chunk, { stream: true }));
  pieces.push(decoder.decode());
  return pieces.join("");
}

/** SHA-256 (hex) of the body's bytes. */
function bodySha256(chunks: Body): string {
  const sha256 = createHash("sha256");
  for (const chunk of chunks) sha256.update(chunk);
  return sha256.digest("hex");
}

/** The `inconsistency` text of a listing returned with `allowInconsistent`: why each attempt did not fit together. */
function describeProblems(restartReason: string | null, problems: readonly string[]): string {
  const shown = problems.slice(0, 5).join("; ");
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
  return `first attempt: ${restartReason ?? "?"}; second attempt: ${shown}${more}`;
}

function field(data: Record<string, unknown>, key: string, origin: Origin): unknown {
  if (!(key in data)) throw convert.badResponse(origin, key, "is missing from the answer");
  const value = data[key];
  return value;
}

/** In a re-read application page, the application we are completing; it must still be there. */
function findApplication(
  data: Record<string, unknown>,
  appId: string,
  locator: PageLocator,
  origin: Origin,
): Record<string, unknown> {
  const list = convert.rawApplicationList(field(data, "result", origin), origin, "applicationsForRuntime");
  if (list.totalCount !== locator.totalCount) {
    throw new PagingInconsistency(
      `applications: totalCount changed from ${locator.totalCount} to ${list.totalCount} while nested pages of ${appId} were read`,
    );
  }
  for (const raw of list.data) {
    if (convert.applicationId(raw, origin, "applicationsForRuntime.data[]") === appId) return raw as Record<string, unknown>;
  }
  throw new PagingInconsistency(`application ${appId} left its page while its nested pages were read`);
}

function findBundle(rawApplication: Record<string, unknown>, bundleId: string, origin: Origin): Record<string, unknown> {
  const raw = rawApplication["bundle"];
  if (raw === null || raw === undefined) {
    throw new PagingInconsistency(`bundle ${bundleId} of application ${origin.applicationId ?? "?"} disappeared while its pages were read`);
  }
  if (typeof raw !== "object" || Array.isArray(raw)) throw convert.badResponse(origin, "bundle", "is not an object");
  return raw as Record<string, unknown>;
}

function requireId(operation: string, name: string, value: string): void {
  if (typeof value !== "string" || value.trim() === "") {
    throw new DirectorError(DirectorErrorCode.INVALID_ARGUMENT, `${operation}: ${name} must be a non-empty string`, { operation });
  }
}

function requireLabelKey(operation: string, key: string): void {
  if (typeof key !== "string" || !LABEL_KEY.test(key)) {
    throw new DirectorError(
      DirectorErrorCode.INVALID_ARGUMENT,
      `${operation}: label key ${JSON.stringify(key)} is not valid for Compass (1-256 characters of [a-zA-Z0-9_])`,
      { operation },
    );
  }
}

