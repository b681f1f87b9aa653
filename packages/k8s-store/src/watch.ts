import type { IncomingMessage } from "node:http";
import { STATUS_CODES } from "node:http";
import { isRecord } from "./meta.js";

/** Receives each event of a watch: its type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and object. */
export type WatchEventHandler = (type: string, object: unknown) => void;

/** Opens the watch request (authenticated, pooled); the caller reads the streamed body. */
export type WatchOpener = (path: string, query: Readonly<Record<string, string | number | boolean | undefined>>, signal: AbortSignal) => Promise<IncomingMessage>;

/**
 * The failure an ERROR event stands for: its Status object as an HTTP answer of that code (500 when it names none),
 * in the form toK8sStoreError maps (410 Gone: K8S_GONE).
 */
export function watchEventFailure(status: unknown): { code: number; body: string; headers: Record<string, string> } {
  const object = isRecord(status) ? status : {};
  return { code: typeof object["code"] === "number" ? object["code"] : 500, body: JSON.stringify(object), headers: {} };
}

/** The most of an error answer's body kept for the message (a Status object is far smaller). */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * One Kubernetes watch: the API server's stream of JSON lines, each handed to `onEvent`. `done` is called exactly
 * once, when the stream ends (null), fails (the error; a non-200 answer is an Error with `statusCode` and the
 * answer's `body`), is aborted through the returned controller, or stays without any data for
 * `inactivityTimeoutMs` (a DOMException named TimeoutError).
 */
export async function watch(
  open: WatchOpener,
  inactivityTimeoutMs: number,
  path: string,
  query: Readonly<Record<string, string | number | boolean | undefined>>,
  onEvent: WatchEventHandler,
  done: (err: unknown) => void,
): Promise<AbortController> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const finish = (err: unknown): void => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    controller.abort();
    done(err);
  };
  const resetTimer = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => finish(new DOMException("The watch saw no data for too long", "TimeoutError")), inactivityTimeoutMs);
    timer.unref();
  };
  controller.signal.addEventListener("abort", () => finish(controller.signal.reason), { once: true });
  resetTimer();
  let res: IncomingMessage;
  try {
    res = await open(path, { ...query, watch: true }, controller.signal);
  } catch (err) {
    finish(err);
    return controller;
  }
  res.setEncoding("utf8");
  if (res.statusCode !== 200) {
    let body = "";
    res.on("data", (chunk: string) => {
      if (body.length < MAX_ERROR_BODY) body += chunk;
    });
    res.on("error", finish);
    res.on("end", () => {
      const status = res.statusCode ?? 0;
      finish(Object.assign(new Error(res.statusMessage || STATUS_CODES[status] || "Internal Server Error"), { statusCode: status, body }));
    });
    return controller;
  }
  let partial = "";
  res.on("data", (chunk: string) => {
    resetTimer();
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      let event: { type?: unknown; object?: unknown };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        continue; // not a JSON line: skipped, as client-go's decoder cannot use it either
      }
      if (typeof event.type === "string") onEvent(event.type, event.object);
      if (ended) return;
    }
  });
  res.on("error", finish);
  res.on("end", () => finish(null));
  res.on("close", () => finish(null));
  return controller;
}
