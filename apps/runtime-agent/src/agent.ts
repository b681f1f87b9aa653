import { readFile } from "node:fs/promises";
import { createK8sStore, DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import type { K8sStore, LeaderElector } from "@runtime-agent/k8s-store";
import type { ProxyConfig, TlsTrust } from "@runtime-agent/connector-client";
import type { AgentConfig } from "./config/schema.js";
import { describeConfig } from "./config/load.js";
import { describeCompassProxy } from "./config/proxy.js";
import { CompassSession } from "./controller/compass-session.js";
import { describe } from "./controller/describe-error.js";
import { ClusterChanges } from "./controller/cluster-changes.js";
import { ReconcileLoop } from "./controller/loop.js";
import { Reconciler } from "./controller/reconciler.js";
import { startProbeServers } from "./observability/http-server.js";
import type { ProbeServers, Readiness } from "./observability/http-server.js";
import { createLogger } from "./observability/logger.js";
import type { Logger } from "./observability/logger.js";
import { AgentMetrics } from "./observability/metrics.js";

export interface AgentOptions {
  config: AgentConfig;
  /** Explicit kubeconfig; otherwise in-cluster, KUBECONFIG or ~/.kube/config. */
  kubeconfigPath?: string | undefined;
  log?: Logger;
  /** RSA key size of new keys; default: the size the Connector's keyAlgorithm names (Compass: rsa2048). */
  keySize?: number;
  /**
   * Called when this replica lost leadership, once its controllers are stopped; the CLI exits so Kubernetes
   * restarts it as a candidate. Not called when stop() has begun meanwhile (the agent is ending anyway). Its
   * failure is logged.
   */
  onLostLeadership?: () => void;
  /** The proxy for Compass calls (the CLI reads HTTPS_PROXY / NO_PROXY: config/proxy.ts); direct when absent. */
  proxy?: ProxyConfig | undefined;
  /** Probe servers listen here (default 0.0.0.0). */
  host?: string;
}

export interface RunningAgent {
  readonly healthPort: number;
  readonly metricsPort: number;
  readonly metrics: AgentMetrics;
  readonly store: K8sStore;
  readiness(): Readiness;
  /**
   * Fences the store's writes at once (no Kubernetes write starts after this call), aborts the cycle under way and
   * waits for it at most stopGraceMs, releases the lease, closes connections. Idempotent: every call gets the
   * same promise.
   */
  stop(): Promise<void>;
}

/**
 * How long stopping waits for the aborted cycle. With leader election, this replica steps down renewDeadline after
 * its last renewal, and another may take the Lease over leaseDuration after it last saw it change, so at the
 * earliest leaseDuration - renewDeadline later: the stop of a replica that lost its Lease (after which the CLI
 * exits, cutting what is still in flight) has to be over well before that, so half of it. At most 5 s, which also
 * keeps a SIGTERM inside the CLI's 10 s shutdown deadline. Writes are fenced before the wait; it bounds only how
 * long the old leader's process lingers.
 */
export function stopGraceMs(config: Pick<AgentConfig, "leaseDuration" | "renewDeadline">): number {
  return Math.min(5_000, (config.leaseDuration - config.renewDeadline) / 2);
}

/** Composes store, Compass session, reconciler, informers, leader election and probes into the running agent. */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { config } = options;
  const log = options.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  log.info({ config: { ...describeConfig(config), ...describeCompassProxy(options.proxy) } }, "starting runtime-agent");
  if (config.skipCompassTlsVerify) log.warn("APP_SKIP_COMPASS_TLS_VERIFY=true: Compass's server certificates are NOT verified");
  if (config.skipAppsTlsVerify) log.warn("APP_SKIP_APPS_TLS_VERIFY=true: Applications are written with spec.skipVerify=true");

  const tls: TlsTrust = { insecureSkipTlsVerify: config.skipCompassTlsVerify };
  if (config.compassCaFile) tls.caPem = await readFile(config.compassCaFile, "utf8");

  const metrics = new AgentMetrics();
  metrics.syncPeriod.set(config.controllerSyncPeriod / 1000);
  const store = createK8sStore({
    ...(options.kubeconfigPath ? { kubeconfigPath: options.kubeconfigPath } : {}),
    integrationNamespace: config.integrationNamespace,
  });
  store.counter.subscribe((request) =>
    metrics.kubernetesRequests.inc({ verb: request.verb, resource: request.resource, outcome: request.errorCode ?? "ok" }),
  );
  if (config.queryLogging) {
    // APP_QUERY_LOGGING: one line per Compass call (operation, duration, outcome). Every Compass call goes through
    // timeCompass; request and response bodies (tokens, keys, credentials) are never logged.
    const time = metrics.timeCompass.bind(metrics);
    metrics.timeCompass = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const line = (outcome: string) => log.info({ operation, ms: Math.round(performance.now() - started), outcome }, "Compass call");
      try {
        const result = await time(operation, call);
        line("ok");
        return result;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        line(typeof code === "string" ? code : "error");
        throw error;
      }
    };
  }
  const session = new CompassSession({ tls, proxy: options.proxy, metrics, keySize: options.keySize, now: () => new Date(), requestTimeoutMs: config.compassRequestTimeout });
  // Whether the synchronized objects changed since the last listing, from watches: a quiet cycle then lists nothing.
  // Not part of readiness: without it (no permission to watch, a watch ended) cycles list as before.
  const changes = new ClusterChanges(store, config.integrationNamespace, (error) =>
    log.warn({ reason: describe(error) }, "watch of the synchronized objects ended; the next cycle lists them"),
  );
  const reconciler = new Reconciler({ config, store, session, log, metrics, changes, collectGarbage: globalThis.gc });
  const loop = new ReconcileLoop(
    (signal) => reconciler.reconcile(signal),
    (error) => {
      // A cycle cut short by the fence (shutdown, lost leadership) has failed by design: its writes were refused
      // with K8S_FENCED or its calls aborted. Not a failure to alert on, and no cycle follows.
      if (store.fenceReason !== undefined) {
        log.info({ reason: describe(error) }, `reconcile cut short: ${store.fenceReason}`);
        return 0;
      }
      log.error({ reason: describe(error) }, "reconcile failed; retrying");
      return Math.min(config.controllerSyncPeriod, 10_000);
    },
  );

  // Watches: the CR (spec.resyncNow etc. take effect at once), the config Secret (a new TOKEN is used at once)
  // and the credential Secrets (deleted or edited by hand → repaired on the next cycle, now).
  const informers: { start(): unknown; stop(): Promise<void>; isSynced(): boolean }[] = [];
  const ccInformer = store.compassConnections.informer();
  const warned = new Set<string>();
  const onCc = (cc: { metadata: { name: string } }) => {
    if (cc.metadata.name === DEFAULT_COMPASS_CONNECTION_NAME) loop.trigger();
    else if (!warned.has(cc.metadata.name)) {
      warned.add(cc.metadata.name);
      log.warn({ name: cc.metadata.name }, `ignoring CompassConnection ${cc.metadata.name}: only ${DEFAULT_COMPASS_CONNECTION_NAME} is reconciled`);
    }
  };
  ccInformer.on("add", onCc);
  // Only spec changes (resyncNow, refreshCredentialsNow, managementInfo) ask for a cycle. The agent writes the
  // status every cycle; reacting to that write would start the next cycle right away, so Compass would be called
  // every APP_MINIMAL_COMPASS_SYNC_TIME instead of every APP_CONTROLLER_SYNC_PERIOD.
  // Nor the agent's own reset of resyncNow / refreshCredentialsNow to false: that would start a second full cycle
  // right after the one asked for (timestamps have whole seconds, so the minimal sync time does not hold it back).
  ccInformer.on("update", (cc, old) => {
    const asked =
      (cc.spec.resyncNow === true && old.spec.resyncNow !== true) || (cc.spec.refreshCredentialsNow === true && old.spec.refreshCredentialsNow !== true);
    const urls =
      cc.spec.managementInfo?.connectorUrl !== old.spec.managementInfo?.connectorUrl || cc.spec.managementInfo?.directorUrl !== old.spec.managementInfo?.directorUrl;
    if (asked || urls) onCc(cc);
  });
  ccInformer.on("delete", onCc);
  ccInformer.on("error", (error) => log.warn({ reason: describe(error) }, "watch failed; restarting"));
  informers.push(ccInformer);
  // Any change of the configuration and credential Secrets (or of the ConfigMap configuration of earlier Kyma
  // releases, read when the config Secret does not exist) asks for a cycle.
  const byName = (ref: { name: string }) => ({ fieldSelector: `metadata.name=${ref.name}` });
  const inputs = [
    ...[config.agentConfigurationSecret, config.clusterCertificatesSecret, config.caCertificatesSecret].map((ref) => store.secrets.informer(ref.namespace, byName(ref))),
    store.configMaps.informer(config.agentConfigurationSecret.namespace, byName(config.agentConfigurationSecret)),
  ];
  for (const informer of inputs) {
    for (const event of ["add", "update", "delete"] as const) informer.on(event, () => loop.trigger());
    informer.on("error", (error) => log.warn({ reason: describe(error) }, "watch failed; restarting"));
    informers.push(informer);
  }

  let leading = !config.leaderElection;
  let stopping = false;
  // Once leadership is lost the process ends (the CLI exits and Kubernetes restarts it as a candidate); the
  // elector must not start the controllers again meanwhile, nor during a shutdown.
  let lostLeadership = false;
  const startControllers = () => {
    for (const informer of informers) informer.start();
    loop.start();
  };
  const graceMs = stopGraceMs(config);
  const stopControllers = async () => {
    await loop.stop(graceMs);
    changes.stop();
    await Promise.all(informers.map((i) => i.stop()));
  };

  let elector: LeaderElector | undefined;
  if (config.leaderElection) {
    elector = store.leaderElector({
      namespace: config.leaderElectionLease.namespace,
      name: config.leaderElectionLease.name,
      leaseDurationMs: config.leaseDuration,
      renewDeadlineMs: config.renewDeadline,
      retryPeriodMs: config.retryPeriod,
      onStartedLeading: () => {
        if (stopping || lostLeadership) return;
        leading = true;
        log.info("became the leader; starting the controller");
        startControllers();
      },
      onStoppedLeading: () => {
        leading = false;
        if (stopping || lostLeadership) return;
        lostLeadership = true;
        // First, before anything can await: another replica may lead from now on, so no write may start.
        store.fence("this replica lost leadership");
        log.error("lost leadership; stopping the controller");
        // The elector calls this synchronously and cannot wait: every failure is caught and logged here.
        // The callback runs also after a failed stop: the process must still end to be restarted as a candidate.
        stopControllers()
          .catch((error: unknown) => log.error({ reason: describe(error) }, "stopping the controller after the lost leadership failed"))
          .then(() => {
            // A stop() under way ends the process anyway; the CLI's callback would signal it a second time.
            if (!stopping) options.onLostLeadership?.();
          })
          .catch((error: unknown) => log.error({ reason: describe(error) }, "onLostLeadership failed"));
      },
      onNewLeader: (identity) => {
        if (identity && identity !== elector?.identity) log.info({ leader: identity }, "another replica is the leader; this one is not leading and stands by");
      },
      onError: (error) => log.warn({ reason: describe(error) }, "leader election attempt failed"),
    });
    log.info({ identity: elector.identity, lease: `${config.leaderElectionLease.namespace}/${config.leaderElectionLease.name}` }, "leader election enabled; waiting for the lease");
    elector.start();
  } else {
    startControllers();
  }

  // Ready = the controller is up: the watches have listed once and the first cycle has started. Not the connection
  // state: an agent in ConnectionFailed (waiting for a token) is ready (docs/operations.md, "Logs and probes").
  const readiness = (): Readiness => {
    if (config.leaderElection && !leading) return { ready: true, reasons: [] }; // a standby is ready to take over
    const reasons: string[] = [];
    const unsynced = informers.filter((i) => !i.isSynced());
    if (unsynced.length > 0) reasons.push(`${unsynced.length} watches not synced`);
    if (!session.credentials && !loop.running && reconciler.lastState === undefined) reasons.push("no client certificate loaded yet");
    return { ready: reasons.length === 0, reasons };
  };
  let probes: ProbeServers;
  try {
    probes = await startProbeServers({
      ...(options.host ? { host: options.host } : {}),
      healthPort: config.healthPort,
      metricsPort: config.metricsPort,
      readiness,
      registry: metrics.registry,
    });
  } catch (error) {
    // Nothing may write while this failed start-up winds down (the elector may already have started a cycle).
    store.fence("the agent failed to start");
    await stopControllers();
    await elector?.stop();
    await store.close();
    throw error;
  }

  const summary = setInterval(() => {
    metrics.registry.getMetricsAsJSON().then(
      (all) => {
        const pick = (name: string) => all.find((m) => m.name === name)?.values;
        log.info({ reconciles: pick("cra_reconcile_total"), applications: pick("cra_applications_managed"), state: reconciler.lastState }, "agent metrics");
      },
      (error: unknown) => log.warn({ reason: describe(error) }, "cannot collect the metrics summary"),
    );
  }, config.metricsLoggingTimeInterval);
  summary.unref();
  let stopped: Promise<void> | undefined;

  return {
    healthPort: probes.healthPort,
    metricsPort: probes.metricsPort,
    metrics,
    store,
    readiness,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        // Synchronously, in the call itself: no write starts once stop() was called (the elector's release of the
        // Lease is exempt).
        store.fence("the agent is shutting down");
        clearInterval(summary);
        log.info("stopping runtime-agent");
        await stopControllers();
        await elector?.stop();
        await probes.close();
        await session.close();
        await store.close();
        log.info("runtime-agent stopped");
      })();
      return stopped;
    },
  };
}
