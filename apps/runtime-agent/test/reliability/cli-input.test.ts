import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { runCli } from "../support/cli.js";

// Reliability matrix, bad input at start-up (docs/reliability.md): settings out of range, bad flags, a missing
// kubeconfig. `runtime-agent run` exits at once with a clear message and the documented exit code, never a stack
// trace, and without touching anything.
const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe("runtime-agent run with bad settings", () => {
  test("environment variables out of range: exit 2, every problem named by its variable", async () => {
    const result = await runCli(["run"], {
      APP_CONTROLLER_SYNC_PERIOD: "-5s",
      APP_MINIMAL_COMPASS_SYNC_TIME: "10",
      APP_HEALTH_PORT: "70000",
      APP_METRICS_PORT: "-1",
      APP_CERT_VALIDITY_RENEWAL_THRESHOLD: "1.5",
      APP_LOG_LEVEL: "loud",
      APP_LOG_FORMAT: "xml",
      APP_INTEGRATION_NAMESPACE: "Bad_Namespace",
      APP_AGENT_CONFIGURATION_SECRET: "no-namespace",
      APP_RUNTIME_EVENTS_URL: "ftp://events.example.com",
      APP_SKIP_COMPASS_TLS_VERIFY: "maybe",
    });
    expect(result.code).toBe(2);
    for (const variable of [
      "APP_CONTROLLER_SYNC_PERIOD",
      "APP_MINIMAL_COMPASS_SYNC_TIME",
      "APP_HEALTH_PORT",
      "APP_METRICS_PORT",
      "APP_CERT_VALIDITY_RENEWAL_THRESHOLD",
      "APP_LOG_LEVEL",
      "APP_LOG_FORMAT",
      "APP_INTEGRATION_NAMESPACE",
      "APP_AGENT_CONFIGURATION_SECRET",
      "APP_RUNTIME_EVENTS_URL",
      "APP_SKIP_COMPASS_TLS_VERIFY",
    ]) {
      expect(result.stderr, variable).toContain(variable);
    }
    noStackTrace(result.stderr);
    expect(result.stdout).toBe("");
  });

  test("leader election timings that do not nest: exit 2 with the rule", async () => {
    const result = await runCli(["run"], { APP_LEADER_ELECTION_LEASE_DURATION: "5s", APP_LEADER_ELECTION_RENEW_DEADLINE: "10s" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/APP_LEADER_ELECTION_RENEW_DEADLINE=10s must be shorter than APP_LEADER_ELECTION_LEASE_DURATION=5s/);
    noStackTrace(result.stderr);
  });

  test("a retry period within the jitter of the renew deadline: exit 2 at the configuration check, not exit 1 from the elector", async () => {
    // Used to pass the configuration check (9 s < 10 s) and then fail in the elector (9 s × 1.2 ≥ 10 s) with exit 1.
    // The kubeconfig is valid (an API server nobody listens on: nothing is sent before the elector starts).
    const dir = await mkdtemp(join(tmpdir(), "cli-input-"));
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(
      kubeconfig,
      "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
      { mode: 0o600 },
    );
    try {
      const result = await runCli(["run", "--kubeconfig", kubeconfig, "--key-size", "2048"], {
        APP_LEADER_ELECTION: "true",
        APP_LEADER_ELECTION_LEASE_DURATION: "15s",
        APP_LEADER_ELECTION_RENEW_DEADLINE: "10s",
        APP_LEADER_ELECTION_RETRY_PERIOD: "9s",
      });
      expect(result.stderr).toMatch(/APP_LEADER_ELECTION_RETRY_PERIOD=9s × 1\.2 \(jitter\) must be shorter than APP_LEADER_ELECTION_RENEW_DEADLINE=10s/);
      expect(result.code).toBe(2);
      noStackTrace(result.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.each([["100"], ["abc"], ["99999"]])("--key-size %s: exit 2 at start-up, not at the next pairing", async (size) => {
    const result = await runCli(["run", "--key-size", size, "--kubeconfig", "/nonexistent/kubeconfig"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--key-size must be an integer from 2048 to 8192/);
    noStackTrace(result.stderr);
  });

  test("an unknown flag: exit 2 with the usage", async () => {
    const result = await runCli(["run", "--controler-sync-period", "5s"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/controler-sync-period/);
    expect(result.stderr).toMatch(/usage:/);
  });

  test("a kubeconfig that does not exist: exit 1 naming the file, no stack trace", async () => {
    // (The store is created before the probes listen: the default ports are never opened.)
    const result = await runCli(["run", "--kubeconfig", "/nonexistent/kubeconfig", "--key-size", "2048"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/kubeconfig file \/nonexistent\/kubeconfig does not exist/);
    noStackTrace(result.stderr);
  });
});
