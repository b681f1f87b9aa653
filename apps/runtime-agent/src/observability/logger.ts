import { redactText, redactValue } from "./redact.js";

/** The levels, numbered as Go's and pino's JSON loggers number them; APP_LOG_LEVEL names the lowest one written. */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface LogFn {
  (msg: string): void;
  (fields: object, msg?: string): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger whose records also carry `bindings` (a cycle's reconcileId, say). */
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  format: "json" | "text";
  /** Where lines go (default stdout); tests pass a collector. */
  destination?: NodeJS.WritableStream;
}

/**
 * One JSON line per record — `{"level":"info","time":<ISO 8601>,"component":"runtime-agent",...bindings,...fields,
 * "msg":…}` — with every field and message passed through the redactor; "text" renders `time LEVEL msg key=value`
 * instead. Lines are written synchronously to stdout (as Node writes to a pipe or file), so none is lost at exit.
 * (A logger of its own: pino, which did the same, cost about 3 MB of RSS for code the agent never ran.)
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stdout;
  const threshold = LEVELS[options.level];
  if (threshold === undefined) throw new Error(`unknown log level ${JSON.stringify(options.level)}`);
  const render = options.format === "text" ? textLine : jsonLine;
  const logger = (bindings: Record<string, unknown>): Logger => {
    const at = (level: LogLevel): LogFn =>
      LEVELS[level] < threshold
        ? () => undefined
        : (first: string | object, msg?: string) => {
            const [fields, text] = typeof first === "string" ? [undefined, first] : [first, msg];
            destination.write(render(level, bindings, fields, text));
          };
    return {
      trace: at("trace"),
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      child: (more) => logger({ ...bindings, ...(redactValue(more) as Record<string, unknown>) }),
    };
  };
  return logger({});
}

function jsonLine(level: LogLevel, bindings: Record<string, unknown>, fields: object | undefined, msg: string | undefined): string {
  const head = { level, time: new Date().toISOString(), component: "runtime-agent", ...bindings };
  const message = msg === undefined ? {} : { msg: redactText(msg) };
  try {
    return `${JSON.stringify({ ...head, ...(redactValue(fields ?? {}) as object), ...message })}\n`;
  } catch (error) {
    // Fields JSON cannot hold (a BigInt, a cycle deeper than the redactor goes): the message still gets out.
    return `${JSON.stringify({ ...head, ...message, logError: `fields left out: ${error instanceof Error ? error.message : String(error)}` })}\n`;
  }
}

function textLine(level: LogLevel, bindings: Record<string, unknown>, fields: object | undefined, msg: string | undefined): string {
  const { time, msg: text, component: _component, level: _level, ...rest } = JSON.parse(jsonLine(level, bindings, fields, msg)) as Record<string, unknown>;
  const pairs = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${String(time)} ${level.toUpperCase().padEnd(5)} ${String(text ?? "")}${pairs.length > 0 ? ` ${pairs.join(" ")}` : ""}\n`;
}
