import { describe, expect, test } from "vitest";
import { parseCli, UsageError } from "./cli-args.js";
import { parseDuration } from "./duration.js";

describe("parseDuration", () => {
  test.each([
    ["90d", 90 * 86400],
    ["12h", 43200],
    ["15m", 900],
    ["30s", 30],
    ["45", 45],
    ["1.5h", 5400],
    ["500ms", 0.5],
  ])("%s = %d s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  test.each(["", "x", "10y", "-5s", "0s", "1 d d"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(RangeError);
  });
});

describe("parseCli", () => {
  test("defaults: nothing set (the library picks 127.0.0.1 and free ports)", () => {
    expect(parseCli([])).toEqual({ options: {}, help: false, quiet: false });
  });

  test("all flags", () => {
    const { options } = parseCli([
      "--host", "0.0.0.0", "--advertised-host", "sim.local",
      "--token-port", "1", "--mtls-port", "2", "--admin-port", "0",
      "--cert-validity", "90d", "--token-ttl", "60m", "--serial2", "--strict-not-before",
    ]);
    expect(options).toEqual({
      host: "0.0.0.0",
      advertisedHost: "sim.local",
      tokenPort: 1,
      mtlsPort: 2,
      adminPort: 0,
      certValidity: 90 * 86400,
      tokenTtl: 3600,
      serial2: true,
      realTimeNotBefore: false,
    });
  });

  test("--generate-apps with its shape flags", () => {
    expect(parseCli(["--generate-apps", "1000"]).options).toEqual({ generate: { applications: 1000 } });
    expect(
      parseCli(["--generate-apps", "10", "--bundles", "5", "--apis", "3", "--events", "2", "--credentials-ratio", "0.25"]).options,
    ).toEqual({ generate: { applications: 10, bundles: 5, apis: 3, events: 2, credentialsRatio: 0.25 } });
  });

  test.each([
    [["--bundles", "2"], "--bundles needs --generate-apps"],
    [["--generate-apps", "x"], "--generate-apps must be a whole number"],
    [["--generate-apps", "1", "--credentials-ratio", "1.5"], "--credentials-ratio must be a number from 0 to 1"],
    [["--generate-apps", "1", "--credentials-ratio", ""], "--credentials-ratio must be a number from 0 to 1"],
    [["--generate-apps", "1", "--apis", "x"], "--apis must be a whole number"],
  ])("rejects %j: %s", (argv, message) => {
    expect(() => parseCli(argv)).toThrow(message);
  });

  test.each([["--nope"], ["--token-port", "-1"], ["--admin-port", "99999"], ["--cert-validity", "500ms"], ["extra"], ["--host", ""]])(
    "rejects %j",
    (...argv) => {
      expect(() => parseCli(argv)).toThrow(UsageError);
    },
  );
});
