import { PassThrough } from "node:stream";
import { describe, expect, test } from "vitest";
import { createLogger } from "./logger.js";
import { REDACTED, redactValue } from "./redact.js";

const TOKEN = "RNVRztwC_SXnTUhbXg9Y6B9vyP9IJgya_hxENTX6j-PVIpG8z2047tHajR_77OhrsV9Hw4k3MCeKZkldtw8oTA==";
const PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";

function collect(format: "json" | "text") {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean)));
  return { logger: createLogger({ level: "debug", format, destination: stream }), lines };
}

describe("logger redaction", () => {
  test("secret keys, PEM blocks and one-time tokens never reach the output", async () => {
    const { logger, lines } = collect("json");
    logger.info({ token: TOKEN, config: { TOKEN: TOKEN, password: "p4ss", clientSecret: "s3cr3t", key: PEM } }, `paired using ${TOKEN}`);
    logger.warn({ err: new Error(`bad key ${PEM}`) }, "failed");
    logger.info({ note: `chain ${PEM}`, count: 3, insecureSkipTlsVerify: true }, "ok");
    await new Promise((resolve) => setImmediate(resolve));
    const all = lines.join("\n");
    for (const secret of [TOKEN, "p4ss", "s3cr3t", "MIIEowIBAAKCAQEA"]) expect(all).not.toContain(secret);
    const first = JSON.parse(lines[0] as string);
    expect(first.token).toBe(REDACTED);
    expect(first.config.password).toBe(REDACTED);
    expect(first.msg).toBe(`paired using ${REDACTED}`);
    const third = JSON.parse(lines[2] as string);
    expect(third.count).toBe(3);
    expect(third.insecureSkipTlsVerify).toBe(true);
  });

  test("text format renders one readable line per record", async () => {
    const { logger, lines } = collect("text");
    logger.info({ state: "Synchronized", password: "x" }, "cycle done");
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines[0]).toMatch(/^\S+ INFO {2}cycle done state="Synchronized" password="\[REDACTED\]"$/);
  });

  test("redactValue keeps structure and harmless values", () => {
    expect(redactValue({ a: [1, { secretName: "app-x", clientSecret: "x" }], b: null })).toEqual({ a: [1, { secretName: "app-x", clientSecret: REDACTED }], b: null });
    expect(redactValue({ APP_CA_CERTIFICATES_SECRET: "istio-system/ca", TOKEN: "t" })).toEqual({ APP_CA_CERTIFICATES_SECRET: "istio-system/ca", TOKEN: REDACTED });
  });
});

describe("logger records", () => {
  test("one JSON line per record: level, time, component, the child's bindings, the fields, msg; lower levels dropped", () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean)));
    const logger = createLogger({ level: "info", format: "json", destination: stream });
    const cycle = logger.child({ reconcileId: "r-1" });
    cycle.debug({ dropped: true }, "below the level");
    cycle.info({ applications: 3 }, "synchronization done");
    logger.warn("no fields");
    expect(lines.map((line) => Object.keys(JSON.parse(line) as object))).toEqual([
      ["level", "time", "component", "reconcileId", "applications", "msg"],
      ["level", "time", "component", "msg"],
    ]);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: "info", component: "runtime-agent", reconcileId: "r-1", applications: 3, msg: "synchronization done" });
    expect(new Date((JSON.parse(lines[1] as string) as { time: string }).time).toISOString()).toBe((JSON.parse(lines[1] as string) as { time: string }).time);
  });

  test("fields JSON cannot hold still let the message out", () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean)));
    createLogger({ level: "info", format: "json", destination: stream }).error({ size: 10n }, "odd fields");
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: "error", msg: "odd fields", logError: expect.stringContaining("BigInt") });
  });
});
