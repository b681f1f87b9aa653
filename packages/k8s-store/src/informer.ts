import type { K8sClient } from "./client.js";
import { K8sStoreError, toK8sStoreError } from "./errors.js";
import { isRecord } from "./meta.js";
import { backoffDelay, sleep, type BackoffOptions } from "./util.js";
import { watchEventFailure } from "./watch.js";

export type InformerEvent = "add" | "update" | "delete";

export interface InformerHandlers<T> {
  add: (obj: T) => void;
  update: (obj: T, old: T) => void;
  delete: (obj: T) => void;
  error: (err: K8sStoreError) => void;
}

export interface InformerOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Backoff after failures (list or watch errors, watches that close at once): default 1 s doubling to 30 s, jittered. */
  backoff?: BackoffOptions;
  /** Abort a watch that received nothing (not even a bookmark) for this long, default 75 s. */
  watchInactivityTimeoutMs?: number;
  /** Server-side watch timeout, a random value in this range per watch (seconds), default [300, 600). */
  watchTimeoutSeconds?: readonly [number, number];
  /** Items per list page, default 500. */
  pageSize?: number;
  /** A watch that ends sooner than this counts as a failure (backoff, re-list), default 1 s. */
  minWatchDurationMs?: number;
}

export interface InformerStatus {
  /** The cache has been filled by a complete list at least once. */
  synced: boolean;
  /** A watch is established right now. */
  watching: boolean;
  /** Failures since the last successful list or watch event. */
  consecutiveFailures: number;
  /** Restarts (re-lists) after errors so far. */
  restarts: number;
  lastError: K8sStoreError | undefined;
  /** Time of the last complete list. */
  lastListAt: Date | undefined;
}

/** How an informer lists and watches one kind. Internal; the stores build these. */
export interface InformerSource<T> {
  /** Resource plural, for request counting and messages. */
  resource: string;
  /** Watch URL path, e.g. `/apis/compass.kyma-project.io/v1alpha1/compassconnections`. */
  watchPath: string;
  list(query: { labelSelector?: string; fieldSelector?: string; limit: number; continue?: string }): Promise<{ items: unknown[]; resourceVersion: string; continue?: string }>;
  parse(raw: unknown): T;
}

interface Keyed {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

const keyOf = (o: Keyed): string => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

class WatchEnded {
  constructor(readonly rv: string, readonly durationMs: number) {}
}

/**
 * A list+watch cache of one kind that never gives up: after ANY error (network, 5xx, 410 Gone, a watch closed
 * early) it re-lists with jittered exponential backoff; a watch that the server ends normally is resumed from
 * the last resourceVersion without a re-list. `isSynced()` turns true after the first complete list.
 */
export class Informer<T extends Keyed> {
  private cache = new Map<string, T>();
  private readonly handlers: { [K in keyof InformerHandlers<T>]: Set<InformerHandlers<T>[K]> } = {
    add: new Set(),
    update: new Set(),
    delete: new Set(),
    error: new Set(),
  };
  private started = false;
  private stopped = false;
  private readonly stopController = new AbortController();
  private currentWatch: AbortController | undefined;
  private running: Promise<void> | undefined;
  private synced = false;
  private resolveSynced!: () => void;
  /** Resolves after the first complete list (never rejects; stays pending if stopped before). */
  readonly hasSynced: Promise<void>;
  private state: Omit<InformerStatus, "synced"> = {
    watching: false,
    consecutiveFailures: 0,
    restarts: 0,
    lastError: undefined,
    lastListAt: undefined,
  };

  /**
   * What is watched, for error messages: `secrets in kyma-system (metadata.name=x)`. A failed watch carries no
   * Status from the API server (the client does not read its body), so the message must say which watch it was.
   */
  private readonly watched: string;

  constructor(
    private readonly client: K8sClient,
    private readonly source: InformerSource<T>,
    private readonly options: InformerOptions = {},
  ) {
    this.hasSynced = new Promise<void>((r) => (this.resolveSynced = r));
    const namespace = /\/namespaces\/([^/]+)\//.exec(source.watchPath)?.[1];
    const selectors = [options.labelSelector, options.fieldSelector].filter((s) => s !== undefined && s !== "");
    this.watched = `${source.resource}${namespace !== undefined ? ` in ${decodeURIComponent(namespace)}` : ""}${selectors.length > 0 ? ` (${selectors.join(", ")})` : ""}`;
  }

  /** Starts listing and watching in the background. Idempotent. */
  start(): this {
    if (this.started || this.stopped) return this;
    this.started = true;
    this.running = this.run();
    return this;
  }

  /** Stops the watch and the restart loop. The cache stays readable. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopController.abort();
    this.currentWatch?.abort();
    await this.running;
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** Waits for the first complete list; false on timeout. */
  async waitForSync(timeoutMs = 120_000): Promise<boolean> {
    if (this.synced) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      return await Promise.race([this.hasSynced.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  status(): InformerStatus {
    return { synced: this.synced, ...this.state };
  }

  /** Cached objects (a snapshot array). */
  list(): T[] {
    return [...this.cache.values()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(`${namespace ?? ""}/${name}`);
  }

  /** Registers a callback; returns a function that removes it. */
  on<K extends keyof InformerHandlers<T>>(event: K, handler: InformerHandlers<T>[K]): () => void {
    const set = this.handlers[event] as Set<InformerHandlers<T>[K]>;
    set.add(handler);
    return () => set.delete(handler);
  }

  private emit(event: "add" | "delete", obj: T): void;
  private emit(event: "update", obj: T, old: T): void;
  private emit(event: InformerEvent, obj: T, old?: T): void {
    const set = this.handlers[event] as Set<(o: T, old?: T) => void>;
    for (const h of set) {
      try {
        h(obj, old);
      } catch (err) {
        this.emitError(toK8sStoreError(err, `${this.source.resource} informer ${event} handler`));
      }
    }
  }

  private emitError(err: K8sStoreError): void {
    for (const h of this.handlers.error) {
      try {
        h(err);
      } catch {
        // an error handler that throws has nowhere left to report to
      }
    }
  }

  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    while (!this.stopped) {
      try {
        let rv = await this.relist();
        for (;;) {
          if (this.stopped) return;
          const ended = await this.watchOnce(rv);
          rv = ended.rv;
          if (ended.durationMs < (this.options.minWatchDurationMs ?? 1_000)) {
            throw new K8sStoreError("K8S_UNAVAILABLE", `watch ${this.watched}: closed by the server after ${Math.round(ended.durationMs)} ms`);
          }
          // A normal end (server timeout, inactivity): resume from rv without a re-list.
        }
      } catch (err) {
        if (this.stopped) return;
        const e = toK8sStoreError(err, `watch ${this.watched}`);
        this.state.watching = false;
        this.state.restarts++;
        this.state.lastError = e;
        this.emitError(e);
        if (e.code === "K8S_GONE" && this.state.consecutiveFailures === 0) {
          // Expired resourceVersion: re-list at once (the first time; repeated ones back off).
          this.state.consecutiveFailures = 1;
          continue;
        }
        this.state.consecutiveFailures++;
        await sleep(backoffDelay(this.state.consecutiveFailures, this.options.backoff), signal);
      }
    }
  }

  /** Lists everything (paged), replaces the cache, emits the differences; returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv: string;
    do {
      const page = await this.source.list({
        ...(this.options.labelSelector !== undefined ? { labelSelector: this.options.labelSelector } : {}),
        ...(this.options.fieldSelector !== undefined ? { fieldSelector: this.options.fieldSelector } : {}),
        limit: this.options.pageSize ?? 500,
        ...(cont !== undefined ? { continue: cont } : {}),
      });
      for (const raw of page.items) {
        const obj = this.source.parse(raw);
        fresh.set(keyOf(obj), obj);
      }
      rv = page.resourceVersion;
      cont = page.continue !== undefined && page.continue !== "" ? page.continue : undefined;
    } while (cont !== undefined && !this.stopped);
    if (this.stopped) return rv;
    const old = this.cache;
    this.cache = fresh;
    for (const [k, obj] of fresh) {
      const prev = old.get(k);
      if (prev === undefined) this.emit("add", obj);
      else if (prev.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit("update", obj, prev);
    }
    for (const [k, obj] of old) if (!fresh.has(k)) this.emit("delete", obj);
    this.state.lastListAt = new Date();
    this.state.consecutiveFailures = 0;
    if (!this.synced) {
      this.synced = true;
      this.resolveSynced();
    }
    return rv;
  }

  /** One watch from `rv`; resolves when it ends normally, rejects on errors (including 410 Gone). */
  private async watchOnce(rv: string): Promise<WatchEnded> {
    const [minT, maxT] = this.options.watchTimeoutSeconds ?? [300, 600];
    const started = performance.now();
    let lastRv = rv;
    let failure: unknown;
    const query: Record<string, string | number | boolean | undefined> = {
      resourceVersion: rv,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.floor(minT + Math.random() * Math.max(0, maxT - minT)),
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
    };
    let finish!: (err: unknown) => void;
    const done = new Promise<unknown>((r) => (finish = r));
    let errorCode: string | undefined;
    const onEvent = (phase: string, obj: unknown): void => {
      if (failure !== undefined) return;
      if (phase === "ERROR") {
        failure = watchEventFailure(obj);
        this.currentWatch?.abort();
        return;
      }
      const metadata = isRecord(obj) && isRecord(obj["metadata"]) ? obj["metadata"] : {};
      if (typeof metadata["resourceVersion"] === "string") lastRv = metadata["resourceVersion"];
      if (phase === "BOOKMARK") return;
      this.state.consecutiveFailures = 0;
      let parsed: T;
      try {
        parsed = this.source.parse(obj);
      } catch (err) {
        this.emitError(toK8sStoreError(err, `watch ${this.watched}: unreadable object`));
        return;
      }
      const k = keyOf(parsed);
      const prev = this.cache.get(k);
      if (phase === "DELETED") {
        this.cache.delete(k);
        this.emit("delete", parsed);
      } else if (phase === "ADDED" || phase === "MODIFIED") {
        this.cache.set(k, parsed);
        if (prev === undefined) this.emit("add", parsed);
        else this.emit("update", parsed, prev);
      }
    };
    try {
      this.currentWatch = await this.client.watch(this.source.watchPath, query, this.options.watchInactivityTimeoutMs ?? 75_000, onEvent, (err: unknown) => finish(err));
    } catch (err) {
      finish(err);
    }
    if (this.stopped) this.currentWatch?.abort();
    else this.state.watching = true;
    const err = await done;
    this.state.watching = false;
    this.currentWatch = undefined;
    const durationMs = performance.now() - started;
    const mapped = failure ?? err;
    if (mapped !== null && mapped !== undefined) {
      const e = toK8sStoreError(mapped, `watch ${this.watched}`);
      errorCode = e.code;
      // The watch's inactivity timeout is a normal end (resume from lastRv), unless it never got going.
      const isInactivity = mapped instanceof Error && mapped.name === "TimeoutError" && failure === undefined;
      this.client.counter.record({ verb: "watch", resource: this.source.resource, errorCode: isInactivity ? undefined : errorCode, durationMs });
      if (isInactivity && durationMs >= (this.options.minWatchDurationMs ?? 1_000)) return new WatchEnded(lastRv, durationMs);
      if (!this.stopped) throw e;
      return new WatchEnded(lastRv, durationMs);
    }
    this.client.counter.record({ verb: "watch", resource: this.source.resource, errorCode: undefined, durationMs });
    return new WatchEnded(lastRv, durationMs);
  }
}
