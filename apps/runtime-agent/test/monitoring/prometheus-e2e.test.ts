/**
 * A real Prometheus (built from the Go module proxy, test/support/prometheus.ts) scrapes a running agent (its own
 * process, the real kube-apiserver of kube-testenv, the Compass simulator) every second and evaluates the
 * PrometheusRule of deploy/components/monitoring every second:
 * - every query of the Grafana dashboard returns data;
 * - induced failures make the matching alert fire, and recovery makes it stop: a certificate about to expire, then
 *   renewed; Director faults; Connector faults; a foreign Application in the way; the API server refusing writes
 *   (RBAC).
 *
 * The rules are loaded as written (expressions, labels, annotations) except `for`, which is set to 0s (and
 * `keep_firing_for`, which is dropped): the production durations (15 minutes, an hour) are tested by promtool's unit
 * tests (monitoring.test.ts), so here an alert is firing exactly while its expression is true. No assertion on
 * durations: every wait has a hang guard.
 */
import { startFaultProxy } from "@runtime-agent/kube-testenv";
import type { FaultProxy } from "@runtime-agent/kube-testenv";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { killAllAgents, startAgentProcess, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { ensurePrometheus, SCRAPE_INTERVAL, startPrometheus } from "../support/prometheus.js";
import type { Alert, PrometheusServer, RuleGroup } from "../support/prometheus.js";
import { Scenario } from "../support/scenario.js";
import { dashboardQueries, readDashboard, readRuleGroups } from "./monitoring-files.js";

const NAMESPACE = "kyma-system";
const JOB = "compass-runtime-agent-metrics";
const DAY = 86_400;
/** Grafana's `$__rate_interval` for a 1 s scrape interval is 4 s; a minute keeps the rates smooth. */
const RATE_INTERVAL = "1m";
const APPLICATIONS = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications";
const GUARD = 120_000;
/** Per test: a few waits of at most GUARD each. */
const TEST_TIMEOUT = 6 * 60_000;

let scenario: Scenario;
let proxy: FaultProxy;
let agent: AgentProcess;
let prometheus: PrometheusServer;

/** What the e2e saw, printed at the end (and in the closing note of issue 17). */
const journal: string[] = [];

/** The PrometheusRule's groups as Prometheus loads them here: every scrape interval, `for: 0s`. */
function testCopy(groups: RuleGroup[]): RuleGroup[] {
  return groups.map((g) => ({
    ...g,
    interval: SCRAPE_INTERVAL,
    rules: g.rules.map((r) => {
      const { keep_firing_for: _keep, ...rest } = r;
      return { ...rest, for: "0s" };
    }),
  }));
}

const firing = async (): Promise<Alert[]> => (await prometheus.alerts()).filter((a) => a.state === "firing");
const names = (alerts: Alert[]) => alerts.map((a) => a.labels["alertname"] as string).sort();

/** Waits (at most GUARD) until `probe` finds what it waits for among the firing alerts; a timeout names them. */
async function waitForAlerts<T>(what: string, probe: (now: Alert[]) => T | undefined): Promise<T> {
  return waitFor(what, async () => probe(await firing()), GUARD, 500).catch(async (error: unknown) => {
    throw new Error(
      `${(error as Error).message}; firing: ${names(await firing()).join(", ") || "none"}; agent:\n${agent.tail(15)}`,
      { cause: error },
    );
  });
}

/** Waits until `alert` fires; returns it and notes every alert firing at that moment. */
async function waitForFiring(alert: string, stage: string): Promise<Alert> {
  const found = await waitForAlerts(`alert ${alert} firing (${stage})`, (now) => {
    const a = now.find((x) => x.labels["alertname"] === alert);
    return a ? { a, now } : undefined;
  });
  journal.push(
    `${stage}: ${alert} fired with value ${found.a.value}${
      found.now.length > 1
        ? ` (also firing: ${found.now
            .filter((x) => x !== found.a)
            .map((x) => `${x.labels["alertname"]}=${x.value}`)
            .join(", ")})`
        : ""
    }`,
  );
  return found.a;
}

/** Waits until none of `alerts` (default: none at all) is firing. */
async function waitForQuiet(stage: string, alerts?: string[]): Promise<void> {
  await waitForAlerts(`no ${alerts ? alerts.join(", ") : "alert"} firing (${stage})`, (now) =>
    names(now).some((n) => !alerts || alerts.includes(n)) ? undefined : true,
  );
  journal.push(`${stage}: ${alerts ? alerts.join(", ") : "every alert"} quiet`);
}

/**
 * A failure and its alert: `induce` the failure, wait until the agent reports `failedState` and `alert` fires, `check`
 * the alert; `undo` the failure, wait until the agent is Synchronized again and no alert fires.
 */
async function fireAndClear(failure: {
  induce: () => Promise<unknown>;
  failedState: string;
  alert: string;
  /** The journal's names of the failure and of the recovery. */
  stage: string;
  recovered: string;
  check: (alert: Alert) => void;
  undo: () => Promise<unknown>;
}): Promise<void> {
  await failure.induce();
  await scenario.waitForState(failure.failedState, GUARD);
  failure.check(await waitForFiring(failure.alert, failure.stage));
  await failure.undo();
  await scenario.waitForState("Synchronized", GUARD);
  await waitForQuiet(failure.recovered);
}

/** The Compass simulator answering `target`'s requests with 503 (for as long as a test takes), and no faults. */
const compassFault = (target: "director" | "connector") => () =>
  scenario.admin.call("POST", "/admin/faults", { target, status: 503, times: 100_000 });
const noCompassFaults = () => scenario.admin.call("DELETE", "/admin/faults");

beforeAll(async () => {
  // Built on first use (a cold build takes several minutes), then cached.
  const bins = await ensurePrometheus();
  // Certificates valid for 6 days: less than the 7 days CompassRuntimeAgentCertificateNotRenewed allows.
  scenario = await Scenario.start(inject("adminKubeconfig"), { certValidity: 6 * DAY });
  proxy = await startFaultProxy({ kubeconfig: inject("agentKubeconfig") });
  await scenario.addApplication({ name: "erp" });
  agent = await startAgentProcess({
    kubeconfig: await proxy.kubeconfigFor(inject("agentKubeconfig")),
    env: scenario.agentEnv({ APP_CONTROLLER_SYNC_PERIOD: "3s" }),
  });
  prometheus = await startPrometheus({
    binary: bins.prometheus,
    job: JOB,
    targets: [`127.0.0.1:${agent.metricsPort}`],
    // What a ServiceMonitor adds to the agent's series.
    targetLabels: { namespace: NAMESPACE, service: JOB, pod: "compass-runtime-agent-e2e" },
    ruleGroups: testCopy(await readRuleGroups()),
  });
  journal.push(`prometheus ${bins.origin === "cache" ? "from the cache" : bins.origin} (${bins.prometheus})`);
}, 90 * 60_000);

afterAll(async () => {
  process.stdout.write(
    `\nmonitoring e2e, what Prometheus saw:\n${journal.map((l) => `  ${l}`).join("\n")}\n`,
  );
  await prometheus?.stop();
  await killAllAgents();
  await proxy?.close();
  await scenario?.close();
});

describe("a real Prometheus scraping the agent", () => {
  test(
    "scrapes it: the target is up and the agent's series carry the target's labels",
    async () => {
      await scenario.waitForState("Synchronized", GUARD);
      const up = await waitFor(
        "the target up",
        async () => ((await prometheus.query(`up{job="${JOB}"} == 1`)).length === 1 ? true : undefined),
        GUARD,
        500,
      );
      expect(up).toBe(true);
      const state = await waitFor(
        "cra_connection_state scraped",
        async () => {
          const r = await prometheus.query(`cra_connection_state{namespace="${NAMESPACE}"} == 1`);
          return r[0]?.metric["state"] === "Synchronized" ? r : undefined;
        },
        GUARD,
        500,
      );
      expect(state[0]?.metric["state"]).toBe("Synchronized");
    },
    TEST_TIMEOUT,
  );

  test(
    "a certificate expiring in 6 days fires CompassRuntimeAgentCertificateNotRenewed; renewed for 8 days, it stops",
    async () => {
      const alert = await waitForFiring(
        "CompassRuntimeAgentCertificateNotRenewed",
        "certificate valid for 6 days",
      );
      expect(Number(alert.value)).toBeGreaterThan(5 * DAY);
      expect(Number(alert.value)).toBeLessThan(6 * DAY + 60);
      expect(alert.labels).toMatchObject({ namespace: NAMESPACE, severity: "critical" });
      expect(alert.annotations["description"]).toMatch(
        /in namespace kyma-system expires in 5d 23h|in namespace kyma-system expires in 6d 0h/,
      );
      expect(alert.annotations["runbook_url"]).toMatch(
        /docs\/troubleshooting\.md#compassruntimeagentcertificatenotrenewed$/,
      );

      // Compass's clock two days on: a renewal now gives a certificate valid until 8 days from now.
      await scenario.admin.advanceClock(2 * DAY);
      await scenario.patchSpec({ refreshCredentialsNow: true });
      await waitFor(
        "the renewal",
        async () => ((await scenario.connection())?.status?.connectionStatus?.renewed ? true : undefined),
        GUARD,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; agent:\n${agent.tail(30)}`, { cause: error });
      });
      await waitForQuiet("certificate renewed for 8 days");
      const remaining = Number(
        (
          await prometheus.query(
            `max(cra_certificate_not_after_timestamp_seconds{namespace="${NAMESPACE}"}) - time()`,
          )
        )[0]?.value[1],
      );
      expect(remaining).toBeGreaterThan(7 * DAY);
      journal.push(`certificate renewed for 8 days: remaining validity ${remaining.toFixed(0)} s`);
    },
    TEST_TIMEOUT,
  );

  test(
    "healthy: no alert fires, and every query of the Grafana dashboard returns data",
    async () => {
      // Quiet once the agent is synchronized (a cycle slowed down by a loaded machine can make the 9 s staleness
      // threshold of this test's 3 s period true for a moment; production's `for` rides that out).
      await waitForQuiet("healthy");
      const dashboard = await readDashboard();
      const namespaces = await prometheus.api<string[]>("label/namespace/values", {
        "match[]": "cra_connection_state",
      });
      expect(namespaces).toEqual([NAMESPACE]);
      const queries = dashboardQueries(dashboard).map((q) => ({
        ...q,
        expr: q.expr.replaceAll("$namespace", NAMESPACE).replaceAll("$__rate_interval", RATE_INTERVAL),
      }));
      let empty: string[] = [];
      await waitFor(
        "every dashboard query to return data",
        async () => {
          const results = await Promise.all(
            queries.map(async (q) => ({ q, r: await prometheus.query(q.expr) })),
          );
          empty = results.filter(({ r }) => r.length === 0).map(({ q }) => `${q.panel}: ${q.expr}`);
          return empty.length === 0 ? true : undefined;
        },
        GUARD,
        1000,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; no data for:\n${empty.join("\n")}`, { cause: error });
      });
      journal.push(`healthy: all ${queries.length} dashboard queries returned data`);
    },
    TEST_TIMEOUT,
  );

  test(
    "Director faults fire CompassRuntimeAgentSynchronizationStale (3 periods of 3 s); without them it stops",
    async () => {
      await fireAndClear({
        induce: compassFault("director"),
        failedState: "SynchronizationFailed",
        alert: "CompassRuntimeAgentSynchronizationStale",
        stage: "Director answering 503",
        check: (alert) => expect(Number(alert.value)).toBeGreaterThan(9),
        undo: noCompassFaults,
        recovered: "Director back",
      });
    },
    TEST_TIMEOUT,
  );

  test(
    "Connector faults fire CompassRuntimeAgentConnectionFailed (ConnectionMaintenanceFailed); without them it stops",
    async () => {
      await fireAndClear({
        induce: compassFault("connector"),
        failedState: "ConnectionMaintenanceFailed",
        alert: "CompassRuntimeAgentConnectionFailed",
        stage: "Connector answering 503",
        check: (alert) => expect(Number(alert.value)).toBe(1),
        undo: noCompassFaults,
        recovered: "Connector back",
      });
    },
    TEST_TIMEOUT,
  );

  test(
    "a foreign Application in the way fires CompassRuntimeAgentApplicationFailures; removed, it stops",
    async () => {
      await fireAndClear({
        induce: async () => {
          await scenario.kube.ok("POST", APPLICATIONS, {
            apiVersion: "applicationconnector.kyma-project.io/v1alpha1",
            kind: "Application",
            metadata: { name: "mp-hr", labels: { owner: "somebody-else" } },
            spec: { description: "not the agent's", services: [] },
          });
          await scenario.addApplication({ name: "hr" });
        },
        failedState: "ResourceApplicationFailed",
        alert: "CompassRuntimeAgentApplicationFailures",
        stage: "foreign Application mp-hr",
        check: (alert) => expect(Number(alert.value)).toBe(1),
        undo: () => scenario.kube.ok("DELETE", `${APPLICATIONS}/mp-hr`),
        recovered: "foreign Application removed",
      });
    },
    TEST_TIMEOUT,
  );

  test(
    "the API server refusing the agent's writes (403) fires CompassRuntimeAgentRBACRefusals",
    async () => {
      const rule = proxy.arm({
        method: "POST",
        path: APPLICATIONS,
        every: true,
        fault: { kind: "status", status: 403 },
      });
      await scenario.addApplication({ name: "payroll" });
      const alert = await waitForFiring(
        "CompassRuntimeAgentRBACRefusals",
        "creates of Applications refused with 403",
      );
      expect(Number(alert.value)).toBeGreaterThan(0);
      expect(alert.annotations["description"]).toContain("K8S_FORBIDDEN");
      expect(rule.hits.length).toBeGreaterThan(1);
      // Allowed again: the application is created and its failure alert stops. The RBAC alert's expression counts
      // refusals of the last 5 minutes, so it stops 5 minutes after the last one (promtool's unit tests show it).
      proxy.disarm();
      await scenario.waitForState("Synchronized", GUARD);
      await waitForQuiet("writes allowed again", [
        "CompassRuntimeAgentApplicationFailures",
        "CompassRuntimeAgentSynchronizationStale",
      ]);
      const rbac = names(await firing()).includes("CompassRuntimeAgentRBACRefusals");
      journal.push(
        `writes allowed again: CompassRuntimeAgentRBACRefusals ${rbac ? "still firing (refusals of the last 5 minutes)" : "quiet"}`,
      );
    },
    TEST_TIMEOUT,
  );
});
