import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "pino";
import { redactText, redactValue } from "./redact.js";

export type { Logger };

export interface LoggerOptions {
  level: string;
  format: "json" | "text";
  /** Where lines go (default stdout); tests pass a collector. */
  destination?: NodeJS.WritableStream;
}

/** pino with every record passed through the redactor; "text" renders `time level msg key=value`. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stdout;
  const stream = options.format === "text" ? textStream(destination) : destination;
  return pino(
    {
      level: options.level,
      base: { component: "runtime-agent" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactValue(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const redacted = args.map((arg) => (typeof arg === "string" ? redactText(arg) : arg));
          method.apply(this, redacted as Parameters<typeof method>);
        },
      },
      serializers: { err: (error: unknown) => redactValue(error) },
    },
    stream as pino.DestinationStream,
  );
}

function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        try {
          const { time, level, msg, component: _component, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v)}`)
            .join(" ");
          out.write(`${String(time)} ${String(level).toUpperCase().padEnd(5)} ${String(msg ?? "")}${fields ? ` ${fields}` : ""}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      callback();
    },
  });
}
