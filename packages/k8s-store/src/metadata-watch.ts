import { ACCEPT_METADATA, type K8sClient } from "./client.js";
import { toK8sStoreError, type K8sStoreError } from "./errors.js";
import { listedObjectMeta, type ObjectMeta } from "./meta.js";
import { watchEventFailure } from "./watch.js";

export interface MetadataWatchHandlers {
  /** An object added, modified or deleted: its metadata (managedFields left out). */
  onEvent(type: "ADDED" | "MODIFIED" | "DELETED", metadata: ObjectMeta): void;
  /**
   * Called once, when the watch ends: undefined after stop() or when the API server closed it (it closes every
   * watch after a while), else the error (410 Gone when `resourceVersion` is too old, 403 without the permission).
   */
  onEnd(error: K8sStoreError | undefined): void;
}

export interface MetadataWatch {
  stop(): void;
}

/**
 * One metadata-only watch (no spec, status or data on the wire) of `path` from `resourceVersion`, typically a list's:
 * every change after that list. No cache and no resuming — unlike an Informer it holds nothing per object; a caller
 * that needs to know again lists again. BOOKMARK events keep it alive (they are not handed on).
 */
export function watchMetadata(
  client: K8sClient,
  resource: string,
  path: string,
  query: { resourceVersion: string; labelSelector?: string | undefined },
  handlers: MetadataWatchHandlers,
  inactivityTimeoutMs = 75_000,
): MetadataWatch {
  const started = performance.now();
  let controller: AbortController | undefined;
  let stopped = false;
  let failure: unknown;
  const onEvent = (type: string, object: unknown): void => {
    if (failure !== undefined || stopped) return;
    if (type === "ERROR") {
      failure = watchEventFailure(object);
      controller?.abort();
      return;
    }
    if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") handlers.onEvent(type, listedObjectMeta(object));
  };
  let ended = false;
  const done = (err: unknown): void => {
    if (ended) return;
    ended = true;
    const cause = failure ?? err;
    // The inactivity timeout and the server's own close are normal ends, as is stop().
    const normal = stopped || cause === null || cause === undefined || (cause instanceof Error && cause.name === "TimeoutError" && failure === undefined);
    const error = normal ? undefined : toK8sStoreError(cause, `watch ${resource}`);
    client.counter.record({ verb: "watch", resource, errorCode: error?.code, durationMs: performance.now() - started });
    handlers.onEnd(error);
  };
  client
    .watch(path, { ...query, allowWatchBookmarks: true }, inactivityTimeoutMs, onEvent, done, ACCEPT_METADATA)
    .then((c) => {
      controller = c;
      if (stopped) c.abort();
    })
    .catch(done);
  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}
