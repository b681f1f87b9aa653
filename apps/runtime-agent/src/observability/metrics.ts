// Module by module, not the index (see prom-client-modules.d.ts).
import Counter from "prom-client/lib/counter.js";
import collectDefaultMetrics from "prom-client/lib/defaultMetrics.js";
import Gauge from "prom-client/lib/gauge.js";
import Histogram from "prom-client/lib/histogram.js";
import Registry from "prom-client/lib/registry.js";

/** The agent's Prometheus metrics, on a registry of its own (so tests and several agents never collide). */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: "cra_reconcile_total",
    help: "Reconciles of the CompassConnection, by result.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "cra_reconcile_duration_seconds",
    help: "Duration of one reconcile, by result.",
    labelNames: ["result"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly compassRequestDuration = new Histogram({
    name: "cra_compass_request_duration_seconds",
    help: "Duration of calls to Compass, by operation and outcome (ok or an error code).",
    labelNames: ["operation", "outcome"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly applicationsManaged = new Gauge({
    name: "cra_applications_managed",
    help: "Applications the agent manages after the last synchronization.",
    registers: [this.registry],
  });
  readonly applicationFailures = new Gauge({
    name: "cra_application_failures",
    help: "Applications that could not be applied in the last synchronization (conflicts and rejected objects).",
    registers: [this.registry],
  });
  readonly lastSuccessfulSync = new Gauge({
    name: "cra_last_successful_sync_timestamp_seconds",
    help: "Unix time of the last synchronization that applied every application.",
    registers: [this.registry],
  });
  readonly syncPeriod = new Gauge({
    name: "cra_sync_period_seconds",
    help: "APP_CONTROLLER_SYNC_PERIOD in seconds: how often the leader synchronizes (alerts count staleness in periods).",
    registers: [this.registry],
  });
  readonly certificateNotAfter = new Gauge({
    name: "cra_certificate_not_after_timestamp_seconds",
    help: "Unix time at which the client certificate expires.",
    registers: [this.registry],
  });
  readonly kubernetesWrites = new Counter({
    name: "cra_kubernetes_writes_total",
    help: "Writes to the Kubernetes API, by kind and verb.",
    labelNames: ["kind", "verb"] as const,
    registers: [this.registry],
  });
  readonly kubernetesRequests = new Counter({
    name: "cra_kubernetes_requests_total",
    help: "Requests to the Kubernetes API, by verb, resource and outcome (ok or a K8S_* code).",
    labelNames: ["verb", "resource", "outcome"] as const,
    registers: [this.registry],
  });
  readonly connectionState = new Gauge({
    name: "cra_connection_state",
    help: "1 for the current connectionState of the CompassConnection, 0 for the others.",
    labelNames: ["state"] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "cra_" });
  }

  setConnectionState(state: string, all: readonly string[]): void {
    for (const s of all) this.connectionState.set({ state: s }, s === state ? 1 : 0);
  }

  /** Times a Compass call and records its outcome (the error's code when it has one). */
  async timeCompass<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const stop = this.compassRequestDuration.startTimer({ operation });
    try {
      const result = await call();
      stop({ outcome: "ok" });
      return result;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      stop({ outcome: typeof code === "string" ? code : "error" });
      throw error;
    }
  }
}
