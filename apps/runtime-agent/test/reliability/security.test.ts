import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { runCli } from "../support/cli.js";
import { SecretWatch, secretiveApplication } from "../support/leaks.js";
import { addFaults, rewriteKubeconfig } from "../support/reliability.js";
import { CONFIG_SECRET, Scenario } from "../support/scenario.js";

// Reliability matrix, security checks (docs/reliability.md): TLS verification is on unless explicitly disabled, and
// every disabled check is a warning at start-up; the CLI writes keys with mode 0600; and, after everything this file
// does (pairing, every credential kind, renewal, a refused token, Director faults, the CLI), no key, token, password
// or client secret is in the agent's output, the Events, the CR, /metrics or the CLI's output.
let scenario: Scenario;
let leaks: SecretWatch;
let work: string;

const { values: VALUES, application: SECRETIVE } = secretiveApplication("sec");

const WARNINGS = {
  compass: "APP_SKIP_COMPASS_TLS_VERIFY=true: Compass's server certificates are NOT verified",
  apps: "APP_SKIP_APPS_TLS_VERIFY=true: Applications are written with spec.skipVerify=true",
  kubeconfig: "the kubeconfig sets insecure-skip-tls-verify: the API server's certificate is NOT verified",
};

const startupWarnings = (agent: AgentProcess) => agent.logs().filter((l) => String(l.level) === "warn").map((l) => String(l.msg));

beforeAll(async () => {
  scenario = await Scenario.start(inject("adminKubeconfig"));
  leaks = new SecretWatch(scenario);
  leaks.add(...Object.values(VALUES));
  work = await mkdtemp(join(tmpdir(), "ra-security-"));
  await scenario.addApplication(SECRETIVE);
});

afterAll(async () => {
  await killAllAgents();
  await scenario?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("TLS verification", () => {
  test("on by default: a default agent logs none of the 'NOT verified' warnings (and refuses an unknown server certificate: compass-faults.test.ts)", async () => {
    const agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv({ APP_LOG_LEVEL: "trace", APP_QUERY_LOGGING: "true" }) });
    await scenario.waitForState("Synchronized");
    const warnings = startupWarnings(agent);
    for (const warning of Object.values(WARNINGS)) expect(warnings).not.toContain(warning);
    const apps = await scenario.store.applications.listManaged();
    expect(apps.every((a) => (a.spec as { skipVerify?: boolean }).skipVerify === false)).toBe(true);
    await leaks.remember();

    // While it runs: renewal, Director faults and a refused token (more paths for the leak scan at the end).
    await scenario.patchSpec({ refreshCredentialsNow: true });
    await waitFor("renewed", async () => ((await scenario.connection())?.spec.refreshCredentialsNow === false ? true : undefined));
    await leaks.remember();
    await addFaults(scenario, [
      { target: "director", status: 503, times: 2 },
      { target: "director", emptyJson: true, times: 2 },
    ]);
    await scenario.waitForState("SynchronizationFailed");
    await scenario.waitForState("Synchronized");
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, { TOKEN: VALUES.invalidToken });
    await scenario.store.compassConnections.delete();
    await waitFor("the invalid token refused", async () => (agent.logs().some((l) => /CONNECTOR_NOT_AUTHENTICATED/.test(String(l["reason"]))) ? true : undefined));
    await scenario.writeConfigSecret();
    await scenario.waitForState("Synchronized");
    await leaks.remember();
    await leaks.captureMetrics();
    await agent.stop();
  });

  test("every check turned off is a warning at start-up, before the first connection: Compass TLS, the Applications' skipVerify, and a kubeconfig with insecure-skip-tls-verify", async () => {
    const insecureKubeconfig = rewriteKubeconfig(inject("agentKubeconfig"), "insecure", (cluster) => {
      delete cluster["certificate-authority-data"];
      cluster["insecure-skip-tls-verify"] = true;
    });
    const agent = await startAgentProcess({
      kubeconfig: insecureKubeconfig,
      // No Compass CA: pairing works only because verification is off.
      env: scenario.agentEnv({ APP_COMPASS_CA_FILE: "", APP_SKIP_COMPASS_TLS_VERIFY: "true", APP_SKIP_APPS_TLS_VERIFY: "true" }),
    });
    await scenario.writeConfigSecret();
    await scenario.store.compassConnections.delete();
    await scenario.waitForState("Synchronized");
    const warnings = startupWarnings(agent);
    for (const warning of Object.values(WARNINGS)) expect(warnings).toContain(warning);
    // Said before anything was done: the warnings come before the first reconcile's lines.
    const lines = agent.logs().map((l) => String(l.msg));
    const firstWork = lines.findIndex((m) => m === "connected to Compass" || m === "synchronization done");
    for (const warning of Object.values(WARNINGS)) expect(lines.indexOf(warning)).toBeLessThan(firstWork);
    const apps = await scenario.store.applications.listManaged();
    expect(apps.every((a) => (a.spec as { skipVerify?: boolean }).skipVerify === true)).toBe(true);
    await leaks.remember();
    await leaks.captureMetrics();
    await agent.stop();
  });

  test("the CLI: --insecure-skip-tls-verify and --skip-apps-tls-verify print a warning on stderr", async () => {
    const { token, connectorURL } = await scenario.admin.issueToken(scenario.runtimeId);
    scenario.tokens.push(token);
    const dir = join(work, "insecure");
    const pair = await runCli(["pair", "--connector-url", connectorURL, "--token", token, "--out", dir, "--insecure-skip-tls-verify", "--key-size", "2048"]);
    expect(pair.code).toBe(0);
    expect(pair.stderr).toContain("warning: --insecure-skip-tls-verify: Compass's server certificate is NOT verified");
    const sync = await runCli(["sync", "--dry-run", "--cert-dir", dir, "--runtime-id", scenario.runtimeId, "--insecure-skip-tls-verify", "--skip-apps-tls-verify"]);
    expect(sync.code).toBe(0);
    expect(sync.stderr).toContain("warning: --insecure-skip-tls-verify");
    expect(sync.stderr).toContain("warning: --skip-apps-tls-verify");
    const verified = await runCli(["renew", "--cert-dir", dir, "--ca-file", scenario.sim.serverCaFile, "--key-size", "2048"]);
    expect(verified.code).toBe(0);
    expect(verified.stderr).not.toContain("warning");
    for (const [i, result] of [pair, sync, verified].entries()) leaks.addText(`CLI run #${i + 1}`, result.stdout + result.stderr);
  });
});

describe("key files", () => {
  test("pair and renew write key.pem with mode 0600 (also over a key.pem someone made readable) in a 0700 directory", async () => {
    const { token, connectorURL } = await scenario.admin.issueToken(scenario.runtimeId);
    scenario.tokens.push(token);
    const dir = join(work, "modes");
    const pair = await runCli(["pair", "--connector-url", connectorURL, "--token", token, "--out", dir, "--ca-file", scenario.sim.serverCaFile, "--key-size", "2048"]);
    expect(pair.code).toBe(0);
    expect((await stat(join(dir, "key.pem"))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    await chmod(join(dir, "key.pem"), 0o644);
    const renew = await runCli(["renew", "--cert-dir", dir, "--ca-file", scenario.sim.serverCaFile, "--key-size", "2048"]);
    expect(renew.code).toBe(0);
    expect((await stat(join(dir, "key.pem"))).mode & 0o777).toBe(0o600);
    for (const [i, result] of [pair, renew].entries()) leaks.addText(`CLI key-file run #${i + 1}`, result.stdout + result.stderr);
  });
});

describe("nothing secret anywhere", () => {
  test("no key, token, password, client secret, header or query value in the agents' output, the Events, the CR, /metrics or the CLI output", async () => {
    expect(await leaks.scan()).toEqual([]);
    expect(leaks.metricsPages).toBeGreaterThanOrEqual(2);
    // Plenty was scanned: trace logs with query logging, state Events.
    expect((await scenario.kube.events("default")).length).toBeGreaterThan(2);
  });

  test("metric label values are short identifiers, never free text", async () => {
    const agent = await startAgentProcess({ kubeconfig: inject("agentKubeconfig"), env: scenario.agentEnv() });
    await scenario.waitForNextCycle("Synchronized");
    const text = await agent.metrics();
    const values = [...text.matchAll(/[a-zA-Z_]+="([^"]*)"/g)].map((m) => m[1] as string);
    expect(values.length).toBeGreaterThan(20);
    expect(values.filter((v) => !/^[A-Za-z0-9_.:+/-]{0,64}$/.test(v))).toEqual([]);
    await leaks.captureMetrics();
    expect(await leaks.scan()).toEqual([]);
  });
});
