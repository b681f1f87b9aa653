import { randomUUID } from "node:crypto";
import { agentConfigurationFromData, DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import type { AgentConfiguration, CompassConnection, CompassConnectionSpec, CompassConnectionStatus, CredentialRecord, K8sStore } from "@runtime-agent/k8s-store";
import type { AgentConfig } from "../config/schema.js";
import type { Logger } from "../observability/logger.js";
import type { AgentMetrics } from "../observability/metrics.js";
import { backoffMs } from "./backoff.js";
import type { CompassSession } from "./compass-session.js";
import type { ConnectorConfiguration } from "@runtime-agent/connector-client";
import { decideConnection, nextRefusal } from "./connection-decision.js";
import type { ConnectionDecision, Refusal } from "./connection-decision.js";
import { configSecretName, credentialLocations, loadCredentials, maintain, managementInfoOf, pair, pairingConfigProblem, storeCredentials, tokenDigest } from "./connection.js";
import type { ConnectionContext, ConnectionOutcome } from "./connection.js";
import type { AgentCredentials } from "./credentials.js";
import { describe } from "./describe-error.js";
import type { ReconcileOutcome } from "./loop.js";
import { ALL_STATES, isFailure, STATE, timestamp, withConditions } from "./status.js";
import type { ClusterChanges } from "./cluster-changes.js";
import { synchronize } from "./synchronization.js";
import type { SyncOutcome } from "./synchronization.js";

export interface ReconcilerOptions {
  config: AgentConfig;
  store: K8sStore;
  session: CompassSession;
  log: Logger;
  metrics: AgentMetrics;
  now?: () => Date;
  random?: () => number;
  /** Changes of the synchronized objects since the last listing (see ClusterChanges); without it every cycle lists. */
  changes?: ClusterChanges | undefined;
  /** A full garbage collection (see SyncContext.collectGarbage): the agent passes `globalThis.gc`. */
  collectGarbage?: (() => void) | undefined;
}

/** Without a credential to try, the agent waits for a new token; the config Secret is watched, so this is only a fallback. */
const WAIT_FOR_TOKEN_MS = 5 * 60_000;
/** A refused token or certificate is tried again after 2, 4, 8, ... sync periods, at most this long apart. */
const MAX_REFUSAL_BACKOFF_MS = 15 * 60_000;
/** The keys of the agent configuration Secret (as in Kyma). */
const CONFIG_KEYS = new Set(["CONNECTOR_URL", "TOKEN", "RUNTIME_ID", "TENANT"]);
/** A Retry-After longer than this is shortened to it (a broken or hostile gateway must not park the agent for days). */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** What an operator edits to ask for a cycle: the agent configuration and spec.managementInfo (a digest: the token is in it). */
const inputsKey = (config: AgentConfiguration | undefined, urls: CompassConnectionSpec["managementInfo"] | undefined): string =>
  tokenDigest(JSON.stringify([config ?? null, urls?.connectorUrl ?? "", urls?.directorUrl ?? ""]));

interface PendingPairing {
  credentials: AgentCredentials;
  configuration: ConnectorConfiguration;
  /** Digest of the token spent for it. */
  token: string;
  /** In the Secrets already (only the CompassConnection is missing). */
  stored: boolean;
}

/**
 * Reconciles the CompassConnection `compass-connection`: connection (pairing, checks, renewal), then
 * synchronization, then the status of both in one write, every cycle. Level-triggered and idempotent: it
 * reads everything it decides on again each time.
 */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #now: () => Date;
  /** Digest of the token this agent paired with last: spent, never sent again. */
  #spentToken: string | undefined;
  /** The token Compass refused last, tried again after a backoff (Compass's authentication may have been failing). */
  #tokenRefusal: Refusal | undefined;
  /** The certificate Compass refused last, tried again after a backoff, like a refused token. */
  #certificateRefusal: Refusal | undefined;
  /**
   * A certificate Compass issued that is not yet stored in the Secrets and the CompassConnection: the token is
   * spent, so it is kept in memory and storing it is retried until it succeeds.
   */
  #pendingPairing: PendingPairing | undefined;
  /** Whether the record stored with the client certificate was read since the process started. */
  #recordChecked = false;
  #connectionFailures = 0;
  #lastState: string | undefined;
  /** inputsKey of the last full cycle: an operator's edit is taken up as soon as the minimal sync time allows. */
  #inputsSeen: string | undefined;
  #unknownConfigKeys = "";
  /** The resourceVersion of the configuration ConfigMap last warned about (see #configMapNotice). */
  #configMapWarned: string | undefined;
  /** No call to Compass before this time (epoch ms): Compass answered with a Retry-After. */
  #retryNotBefore = 0;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** The state written last (for /readyz and `status`). */
  get lastState(): string | undefined {
    return this.#lastState;
  }

  async reconcile(signal: AbortSignal): Promise<ReconcileOutcome> {
    const { config, store, metrics } = this.#o;
    const started = process.hrtime.bigint();
    const { config: agentConfig, unreadable, fromConfigMap } = await this.#readAgentConfiguration();
    const requestId = `${agentConfig?.runtimeId || "runtime"}_${randomUUID()}`;
    const log = this.#o.log.child({ reconcileId: requestId });
    const now = this.#now();
    const existing = await store.compassConnections.find(DEFAULT_COMPASS_CONNECTION_NAME);
    const ctx = { config, store, session: this.#o.session, log, now, requestId, signal, metrics, changes: this.#o.changes, collectGarbage: this.#o.collectGarbage };

    let spec: CompassConnectionSpec = structuredClone(existing?.spec ?? { managementInfo: { connectorUrl: "", directorUrl: "" } });
    let status: CompassConnectionStatus = structuredClone(
      existing?.status ?? { connectionState: STATE.ConnectionFailed, connectionStatus: null, synchronizationStatus: null },
    );
    const previousState = existing?.status?.connectionState;
    // Compass asked to wait (429/503 with Retry-After): nothing is sent before then, whatever triggered this cycle
    // (also spec.resyncNow, which stays set until a cycle succeeds and is served after the wait).
    const retryInMs = this.#retryNotBefore - now.getTime();
    if (retryInMs > 0) {
      return this.#finish(started, "Skipped", { requeueAfterMs: retryInMs });
    }
    const resetResync = spec.resyncNow === true;
    const resetRefresh = spec.refreshCredentialsNow === true;

    // ---- connection ----
    const inputsChanged = this.#inputsSeen !== undefined && this.#inputsSeen !== inputsKey(agentConfig, existing?.spec.managementInfo);
    const connected = await this.#connect(ctx, existing, agentConfig, unreadable, inputsChanged);
    if (connected.kind === "skip") return this.#finish(started, "Skipped", { requeueAfterMs: connected.requeueAfterMs });
    const connection = connected.connection;
    if (this.#aborted(signal, log)) return this.#finish(started, "Aborted", { requeueAfterMs: 0 });

    const connectionStatus = status.connectionStatus ?? {
      established: null,
      renewed: null,
      lastSync: null,
      lastSuccess: null,
      certificateStatus: { acquired: null, notBefore: null, notAfter: null },
    };
    status.connectionStatus = connectionStatus;
    const stamp = timestamp(now);
    let message = "";
    let requeueAfterMs = config.controllerSyncPeriod;
    let sync: SyncOutcome | undefined;

    switch (connection.kind) {
      case "paired": {
        this.#connectionFailures = 0;
        spec = { ...spec, managementInfo: managementInfoOf(connection.configuration) };
        status = { ...status, connectionState: STATE.Connected };
        Object.assign(connectionStatus, { established: stamp, lastSync: stamp, lastSuccess: stamp });
        delete connectionStatus.error;
        setCertificateStatus(status, connection.credentials, stamp);
        log.info({ subject: connection.credentials.subject, notAfter: connection.credentials.notAfter.toISOString() }, "connected to Compass");
        this.#o.metrics.certificateNotAfter.set(connection.credentials.notAfter.getTime() / 1000);
        break;
      }
      case "maintained": {
        this.#connectionFailures = 0;
        const urls = managementInfoOf(connection.configuration);
        if (urls.connectorUrl !== spec.managementInfo.connectorUrl || urls.directorUrl !== spec.managementInfo.directorUrl) {
          log.info({ ...urls }, "Compass returned new management-plane URLs");
          spec = { ...spec, managementInfo: urls };
        }
        Object.assign(connectionStatus, { lastSync: stamp, lastSuccess: stamp });
        // (A CompassConnection recreated from the URLs stored with the certificate: connected again from now on.)
        connectionStatus.established ??= stamp;
        delete connectionStatus.error;
        if (connection.renewed) {
          connectionStatus.renewed = stamp;
          setCertificateStatus(status, connection.renewed, stamp);
          log.info({ notAfter: connection.renewed.notAfter.toISOString() }, "client certificate renewed");
        }
        const held = this.#o.session.credentials;
        if (held) {
          this.#o.metrics.certificateNotAfter.set(held.notAfter.getTime() / 1000);
          // The status shows the certificate in use, also when the write after its renewal (or pairing) was lost.
          const shown = status.connectionStatus?.certificateStatus;
          if (shown?.notAfter !== timestamp(held.notAfter) || shown.notBefore !== timestamp(held.notBefore)) setCertificateStatus(status, held, stamp);
        }
        break;
      }
      case "connection-failed": {
        this.#connectionFailures++;
        status = { ...status, connectionState: STATE.ConnectionFailed };
        connectionStatus.lastSync = stamp;
        connectionStatus.error = connection.message;
        message = connection.message;
        requeueAfterMs = connection.requeueAfterMs ?? backoffMs(this.#connectionFailures, 1_000, Math.max(config.controllerSyncPeriod, 60_000), this.#o.random);
        log.error({ reason: connection.message }, "connection to Compass failed");
        break;
      }
      case "maintenance-failed": {
        status = { ...status, connectionState: STATE.ConnectionMaintenanceFailed };
        connectionStatus.lastSync = stamp;
        connectionStatus.error = connection.message;
        message = connection.message;
        log.error({ reason: connection.message }, "connection maintenance failed");
        break;
      }
    }

    // A pairing is persisted at once: the certificate is in the Secrets and the token is spent. If the process dies
    // during the (possibly long) first synchronization, the next start must find a Connected CR and use the
    // certificate, not the spent token.
    let current = existing;
    if (connection.kind === "paired") {
      current = await this.#persist(existing, spec, withConditions(structuredClone(status), "", now), { resetResync: false, resetRefresh: false });
      this.#pendingPairing = undefined;
    }

    // ---- synchronization, in the same pass as the connection (also right after pairing) ----
    if ((connection.kind === "paired" || connection.kind === "maintained") && agentConfig) {
      const ccForSync: CompassConnection = { ...(current ?? placeholder()), spec };
      sync = await synchronize(ctx, ccForSync, agentConfig);
      if (this.#aborted(signal, log)) return this.#finish(started, "Aborted", { requeueAfterMs: 0 });
      const syncStatus = status.synchronizationStatus ?? { lastAttempt: null, lastSuccessfulFetch: null, lastSuccessfulApplication: null };
      status.synchronizationStatus = syncStatus;
      syncStatus.lastAttempt = stamp;
      delete syncStatus.error;
      if (sync.kind === "fetch-failed") {
        status.connectionState = STATE.SynchronizationFailed;
        syncStatus.error = message = sync.message;
        if (sync.certificateRefused && this.#o.session.credentials) {
          // As a refusal by the Connector: the next cycle (soon) sets this certificate aside and uses the token.
          const { fingerprint } = this.#o.session.credentials;
          this.#certificateRefusal = nextRefusal(this.#certificateRefusal, fingerprint, sync.message, now.getTime(), (n) => this.#refusalBackoff(n));
          requeueAfterMs = backoffMs(1, 1_000, 1_000, this.#o.random);
        }
        // Like the connection failures, a failed fetch is in the log too, not only in the status and an Event.
        log.error({ reason: sync.message }, "synchronization failed");
      } else {
        syncStatus.lastSuccessfulFetch = stamp;
        metrics.applicationsManaged.set(sync.managed);
        metrics.applicationFailures.set(sync.failures.length);
        if (sync.failures.length > 0) {
          status.connectionState = STATE.ResourceApplicationFailed;
          syncStatus.lastSuccessfulApplication = null;
          const failedApplications = new Set(sync.failures.map((f) => f.applicationId ?? f.name)).size;
          syncStatus.error = message = `Failed to apply configuration: ${failedApplications} of ${sync.fetched} applications failed: ${sync.failures
            .slice(0, 10)
            .map((f) => `${f.name}: ${f.reason}`)
            .join("; ")}${sync.failures.length > 10 ? "; ..." : ""}`;
        } else if (sync.labelsError) {
          status.connectionState = STATE.MetadataUpdateFailed;
          syncStatus.error = message = sync.labelsError;
        } else {
          status.connectionState = STATE.Synchronized;
          syncStatus.lastSuccessfulApplication = stamp;
          metrics.lastSuccessfulSync.set(now.getTime() / 1000);
        }
        log.info(
          { applications: sync.fetched, converted: sync.converted, writes: sync.writes, failures: sync.failures.length, state: status.connectionState },
          "synchronization done",
        );
      }
    } else if (!agentConfig && connection.kind !== "connection-failed") {
      status.connectionState = STATE.SynchronizationFailed;
      const secret = `${config.agentConfigurationSecret.namespace}/${config.agentConfigurationSecret.name}`;
      message = `Failed to read Runtime config: the configuration Secret ${secret} ${unreadable ? `cannot be read now: ${unreadable}` : "does not exist (nor a ConfigMap of that name)"}`;
      // In synchronizationStatus too, where every other synchronization failure is reported.
      const syncStatus = status.synchronizationStatus ?? { lastAttempt: null, lastSuccessfulFetch: null, lastSuccessfulApplication: null };
      status.synchronizationStatus = { ...syncStatus, lastAttempt: stamp, error: message };
    }

    const retryAfterMs = Math.min(
      MAX_RETRY_AFTER_MS,
      Math.max(
        connection.kind === "connection-failed" || connection.kind === "maintenance-failed" ? (connection.retryAfterMs ?? 0) : 0,
        sync?.kind === "fetch-failed" ? (sync.retryAfterMs ?? 0) : 0,
      ),
    );
    if (retryAfterMs > 0) {
      this.#retryNotBefore = now.getTime() + retryAfterMs;
      requeueAfterMs = Math.max(requeueAfterMs, retryAfterMs);
      log.warn({ retryAfterMs }, "Compass asked to wait (Retry-After); no call to Compass before then");
    }

    status = withConditions(status, message, now);
    this.#inputsSeen = inputsKey(agentConfig, spec.managementInfo);
    await this.#persist(current, spec, status, {
      resetResync: resetResync && status.connectionState === STATE.Synchronized,
      resetRefresh: resetRefresh && connection.kind === "maintained" && connection.renewed !== undefined,
    });
    await this.#events(current, previousState, status.connectionState, message, sync, this.#configMapNotice(fromConfigMap, log));
    this.#lastState = status.connectionState;
    metrics.setConnectionState(status.connectionState, ALL_STATES);
    return this.#finish(started, status.connectionState, { requeueAfterMs });
  }

  /**
   * The connection phase: which credential to use (decideConnection), then using it. A refused certificate falls
   * back to the token in the same cycle; a refused credential is tried again after a backoff.
   */
  async #connect(
    ctx: ConnectionContext,
    existing: CompassConnection | undefined,
    agentConfig: AgentConfiguration | undefined,
    /** Why the config Secret could not be read this time (it may exist): retried with backoff, not waited for. */
    unreadable: string | undefined,
    /** The configuration or spec.managementInfo changed since the last full cycle. */
    inputsChanged: boolean,
  ): Promise<{ kind: "skip"; requeueAfterMs: number } | { kind: "connect"; connection: ConnectionOutcome; repair: string | undefined }> {
    const configProblem = unreadable
      ? `Cannot read the configuration Secret ${configSecretName(ctx.config)} now: ${unreadable}; retrying`
      : pairingConfigProblem(ctx.config, agentConfig);
    const token = configProblem === undefined && agentConfig ? tokenDigest(agentConfig.token.trim()) : undefined;
    let repair: string | undefined;
    if (this.#pendingPairing === undefined) {
      const loaded = await loadCredentials(ctx);
      repair = loaded.repair;
      if (!loaded.usable && repair !== undefined && existing) ctx.log.warn({ reason: repair }, "no usable client certificate");
    }
    // The certificate as observed now: a refusal below makes the session forget it, but it is still the one the
    // Secrets hold, and its refusal decides when it is tried again.
    const held = ctx.session.credentials;
    // Where to use it: the CompassConnection's spec, or — when there is none (the agent was stopped after storing a
    // certificate but before creating it, or the CompassConnection was deleted) — the URLs stored with the
    // certificate. Deleting the CompassConnection and writing a new TOKEN asks for a new pairing: then the token wins.
    const known = existing?.spec.managementInfo?.connectorUrl ? existing : undefined;
    // Read when it is needed, and once per process: the spent token's digest survives a restart.
    const record = held && (!known || !this.#recordChecked) ? await this.#credentialRecord(ctx) : {};
    const recorded = record.managementInfo && (token === undefined || token === record.pairedTokenSha256) ? record.managementInfo : undefined;
    const connectionRecord = known ?? (recorded ? { ...placeholder(), spec: { managementInfo: recorded } } : undefined);
    const decide = (): ConnectionDecision =>
      decideConnection({
        now: ctx.now.getTime(),
        pendingPairing: this.#pendingPairing !== undefined,
        certificate: held ? { fingerprint: held.fingerprint, notAfter: held.notAfter.getTime() } : undefined,
        knowsConnectorUrl: connectionRecord !== undefined,
        certificateRefusal: this.#certificateRefusal,
        token,
        spentToken: this.#spentToken,
        tokenRefusal: this.#tokenRefusal,
      });

    let decision = decide();
    let certificateRefused: string | undefined;
    if (decision.kind === "maintain" && connectionRecord) {
      if (existing && existing.status?.connectionState !== STATE.ConnectionFailed && this.#rateLimited(existing, repair)) {
        // A trigger within the minimal sync time (e.g. the watch seeing a Secret this agent just wrote): the
        // next cycle stays where the last one put it, a sync period after it.
        // A changed config Secret (RUNTIME_ID, TENANT, ...) or an edit of spec.managementInfo is taken up as soon as
        // the minimal sync time allows.
        return { kind: "skip", requeueAfterMs: inputsChanged ? this.#untilNextSync(existing) : this.#untilScheduled(existing) };
      }
      const fingerprint = held?.fingerprint ?? "";
      const maintained = await maintain(ctx, connectionRecord, repair);
      if (maintained.kind !== "certificate-refused") {
        if (maintained.kind === "maintained") this.#certificateRefusal = undefined;
        return { kind: "connect", connection: maintained, repair };
      }
      certificateRefused = maintained.message;
      this.#certificateRefusal = nextRefusal(this.#certificateRefusal, fingerprint, maintained.message, ctx.now.getTime(), (n) => this.#refusalBackoff(n));
      ctx.log.warn({ reason: maintained.message }, "Compass did not accept the client certificate; falling back to the one-time token");
      decision = decide();
    }
    const connection = await this.#useDecision(ctx, decision, agentConfig, configProblem, unreadable !== undefined, certificateRefused);
    return { kind: "connect", connection, repair };
  }

  async #useDecision(
    ctx: ConnectionContext,
    decision: ConnectionDecision,
    agentConfig: AgentConfiguration | undefined,
    configProblem: string | undefined,
    configUnreadable: boolean,
    certificateRefused: string | undefined,
  ): Promise<ConnectionOutcome> {
    const secret = configSecretName(ctx.config);
    const prefix = certificateRefused ? `${certificateRefused}. ` : "";
    const now = ctx.now.getTime();
    if (decision.kind === "store-pairing" && this.#pendingPairing) return this.#storePairing(ctx, this.#pendingPairing);
    if (decision.kind === "pair" && agentConfig) {
      const result = await pair(ctx, agentConfig);
      const digest = tokenDigest(agentConfig.token.trim());
      if (result.kind === "paired") {
        // From here on the token is spent: the certificate is kept in memory until it is stored.
        this.#spentToken = digest;
        this.#tokenRefusal = undefined;
        this.#certificateRefusal = undefined;
        ctx.session.use(result.credentials);
        this.#pendingPairing = { credentials: result.credentials, configuration: result.configuration, token: digest, stored: false };
        return this.#storePairing(ctx, this.#pendingPairing);
      }
      if (result.kind === "failed") return { kind: "connection-failed", message: prefix + result.message, retryAfterMs: result.retryAfterMs };
      this.#tokenRefusal = nextRefusal(this.#tokenRefusal, digest, result.message, now, (n) => this.#refusalBackoff(n));
      return { kind: "connection-failed", message: prefix + tokenRefused(this.#tokenRefusal, secret), requeueAfterMs: this.#tokenRefusal.notBefore - now };
    }
    if (decision.kind !== "wait") throw new Error(`connection decision ${decision.kind} without what it needs`);
    const retry = decision.retryAt === undefined ? "" : `; tried again at ${new Date(decision.retryAt).toISOString()}`;
    // An unreadable Secret is retried with the usual backoff; a missing or spent token is waited for (watched).
    const requeueAfterMs = configUnreadable ? undefined : decision.retryAt === undefined ? WAIT_FOR_TOKEN_MS : Math.max(0, decision.retryAt - now);
    let why: string;
    switch (decision.why) {
      case "no-token":
        why = (configProblem ?? `No one-time token in Secret ${secret}: write a TOKEN into the Secret`) + retry;
        break;
      case "token-spent":
        why = `The one-time token in Secret ${secret} was used by this agent to pair and cannot be used again: write a new TOKEN into the Secret (it is used at once)${retry}`;
        break;
      case "token-refused":
        // (the decision waits for this refusal, so it is set)
        why = this.#tokenRefusal ? tokenRefused(this.#tokenRefusal, secret) : `Compass did not accept the one-time token in Secret ${secret}${retry}`;
        break;
      case "certificate-refused":
        why = `${this.#certificateRefusal?.reason ?? "Compass did not accept the client certificate"}. ${configProblem ?? `No unused one-time token in Secret ${secret}`}: write a new TOKEN into the Secret (it is used at once)${retry}`;
        break;
    }
    return { kind: "connection-failed", message: prefix + why, requeueAfterMs };
  }

  /**
   * What was stored with the client certificate: the Compass URLs it is for, and the digest of the token it was
   * paired with — spent, so this process never sends it. (Nothing when it cannot be read now.)
   */
  async #credentialRecord(ctx: ConnectionContext): Promise<CredentialRecord> {
    try {
      const record = await ctx.store.secrets.readCredentialRecord(credentialLocations(ctx.config).clientCertificate);
      this.#recordChecked = true;
      this.#spentToken ??= record.pairedTokenSha256;
      return record;
    } catch (error) {
      ctx.log.warn({ reason: describe(error) }, "cannot read what was stored with the client certificate");
      return {};
    }
  }

  /** Stores a pairing's certificate; a failure keeps it in memory and is retried (the token is spent). */
  async #storePairing(ctx: ConnectionContext, pending: PendingPairing): Promise<ConnectionOutcome> {
    if (!pending.stored) {
      try {
        await storeCredentials(ctx, pending.credentials, pending.configuration, pending.token);
        pending.stored = true;
      } catch (error) {
        return {
          kind: "connection-failed",
          message: `Paired with Compass, but storing the client certificate in the Secrets failed: ${describe(error)}. The certificate is kept in memory and stored on the next attempt; no new token is needed`,
        };
      }
    }
    return { kind: "paired", credentials: pending.credentials, configuration: pending.configuration };
  }

  /** 2, 4, 8, ... sync periods (at least 10 s), with jitter, at most MAX_REFUSAL_BACKOFF_MS. */
  #refusalBackoff(attempts: number): number {
    const base = Math.max(2 * this.#o.config.controllerSyncPeriod, 10_000);
    return backoffMs(attempts, base, Math.max(base, MAX_REFUSAL_BACKOFF_MS), this.#o.random);
  }

  /**
   * The agent configuration: the config Secret's content, or — when that Secret does not exist — a ConfigMap of the
   * same namespace and name (how earlier Kyma releases configured the agent; `fromConfigMap` is then its
   * resourceVersion); or why it cannot be read now (`unreadable`); or neither when both are missing.
   */
  async #readAgentConfiguration(): Promise<{ config: AgentConfiguration | undefined; unreadable: string | undefined; fromConfigMap?: string }> {
    const { namespace, name } = this.#o.config.agentConfigurationSecret;
    try {
      const secret = await this.#o.store.secrets.find(namespace, name);
      if (secret !== undefined) return { config: this.#configurationFrom(secret.data, "Secret"), unreadable: undefined };
      const configMap = await this.#o.store.configMaps.find(namespace, name);
      if (configMap === undefined) return { config: undefined, unreadable: undefined };
      return { config: this.#configurationFrom(configMap.data, "ConfigMap"), unreadable: undefined, fromConfigMap: configMap.metadata.resourceVersion ?? "" };
    } catch (error) {
      // Not "missing": the API server did not answer, or refused (RBAC). The Secret may well be there.
      this.#o.log.warn({ reason: describe(error) }, "cannot read the agent configuration Secret");
      return { config: undefined, unreadable: describe(error) };
    }
  }

  #configurationFrom(data: Readonly<Record<string, string>>, kind: "Secret" | "ConfigMap"): AgentConfiguration {
    // Keys the agent does not know are ignored; a typo (TOKENN) would otherwise look like a missing key. Said once
    // per set of keys, by name only (values may be secret).
    const unknown = Object.keys(data).filter((key) => !CONFIG_KEYS.has(key)).sort();
    const signature = unknown.join(",");
    if (signature !== this.#unknownConfigKeys) {
      this.#unknownConfigKeys = signature;
      if (unknown.length > 0) {
        this.#o.log.warn({ keys: unknown, known: [...CONFIG_KEYS] }, `the agent configuration ${kind} has keys the agent does not use; they are ignored`);
      }
    }
    return agentConfigurationFromData(data);
  }

  /**
   * The configuration came from a ConfigMap: said in the log and a Warning Event once per version of the ConfigMap,
   * because a token there is readable by anyone who may read ConfigMaps in its namespace.
   */
  #configMapNotice(resourceVersion: string | undefined, log: Logger): { reason: string; text: string } | undefined {
    if (resourceVersion === undefined || resourceVersion === this.#configMapWarned) return undefined;
    this.#configMapWarned = resourceVersion;
    const { namespace, name } = this.#o.config.agentConfigurationSecret;
    const text =
      `the agent configuration is read from ConfigMap ${namespace}/${name} because Secret ${namespace}/${name} does not exist; ` +
      `a TOKEN in a ConfigMap is readable by anyone who can read ConfigMaps in ${namespace}: move the configuration to Secret ${namespace}/${name} (the Secret wins when both exist) and delete the ConfigMap`;
    log.warn({ configMap: `${namespace}/${name}` }, text);
    return { reason: "ConfigurationInConfigMap", text };
  }

  /** Compass is called at most once per APP_MINIMAL_COMPASS_SYNC_TIME unless asked (resyncNow, refresh) or repairing. */
  #rateLimited(cc: CompassConnection, repair: string | undefined): boolean {
    if (cc.spec.resyncNow || cc.spec.refreshCredentialsNow || repair !== undefined) return false;
    return this.#untilNextSync(cc) > 0;
  }

  #untilNextSync(cc: CompassConnection): number {
    const lastSync = cc.status?.connectionStatus?.lastSync;
    if (!lastSync) return 0;
    const elapsed = this.#now().getTime() - Date.parse(lastSync);
    return Math.max(0, this.#o.config.minimalCompassSyncTime - elapsed);
  }

  /** Time until the regular cycle: a sync period after the last one, but not before the minimal sync time. */
  #untilScheduled(cc: CompassConnection): number {
    const lastSync = cc.status?.connectionStatus?.lastSync;
    if (!lastSync) return this.#untilNextSync(cc);
    const due = Date.parse(lastSync) + this.#o.config.controllerSyncPeriod - this.#now().getTime();
    return Math.max(this.#untilNextSync(cc), due);
  }

  /** Writes spec changes and the whole status in this cycle; conflicts re-read and re-apply the change. */
  async #persist(
    existing: CompassConnection | undefined,
    spec: CompassConnectionSpec,
    status: CompassConnectionStatus,
    reset: { resetResync: boolean; resetRefresh: boolean },
  ): Promise<CompassConnection> {
    const { store } = this.#o;
    if (!existing) {
      const { resyncNow: _r, refreshCredentialsNow: _f, ...rest } = spec;
      return store.compassConnections.create({ metadata: { name: DEFAULT_COMPASS_CONNECTION_NAME }, spec: rest, status });
    }
    // Only what this cycle changed: an operator's edit of the spec made while the cycle ran must survive.
    const before = existing.spec.managementInfo;
    const newUrls = spec.managementInfo.connectorUrl !== before?.connectorUrl || spec.managementInfo.directorUrl !== before?.directorUrl;
    const result = await store.compassConnections.mutate(DEFAULT_COMPASS_CONNECTION_NAME, (draft) => {
      if (newUrls) draft.spec.managementInfo = spec.managementInfo;
      if (reset.resetResync) draft.spec.resyncNow = false;
      if (reset.resetRefresh) draft.spec.refreshCredentialsNow = false;
      draft.status = status;
    });
    return result.object;
  }

  async #events(
    existing: CompassConnection | undefined,
    previous: string | undefined,
    state: string,
    message: string,
    sync: SyncOutcome | undefined,
    notice: { reason: string; text: string } | undefined,
  ): Promise<void> {
    const { store, log } = this.#o;
    const involved = {
      apiVersion: "compass.kyma-project.io/v1alpha1",
      kind: "CompassConnection",
      name: DEFAULT_COMPASS_CONNECTION_NAME,
      ...(existing?.metadata.uid ? { uid: existing.metadata.uid } : {}),
    };
    const record = async (type: "Normal" | "Warning", reason: string, text: string) => {
      try {
        await store.events.recordEvent(involved, type, reason, text);
      } catch (error) {
        log.warn({ reason: describe(error) }, "cannot record an Event");
      }
    };
    if (notice) await record("Warning", notice.reason, notice.text);
    if (previous !== state) {
      await record(isFailure(state) ? "Warning" : "Normal", state, message || `connection state is now ${state}`);
    }
    if (sync?.kind === "applied") {
      for (const failure of sync.failures.slice(0, 20)) await record("Warning", "ApplicationSyncFailed", `${failure.name}: ${failure.reason}`);
    }
  }

  /**
   * Shutdown or lost leadership (the store is fenced, the signal aborted): what the cycle saw is not a failure of
   * Compass or of the cluster, so nothing is recorded — no failure state, no Warning Event, no backoff.
   */
  #aborted(signal: AbortSignal, log: Logger): boolean {
    const fenced = this.#o.store.fenceReason;
    if (!signal.aborted && fenced === undefined) return false;
    log.info({ reason: fenced ?? String(signal.reason ?? "aborted") }, "cycle aborted (shutdown or lost leadership); nothing recorded");
    return true;
  }

  #finish(started: bigint, result: string, outcome: ReconcileOutcome): ReconcileOutcome {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.#o.metrics.reconcileTotal.inc({ result });
    this.#o.metrics.reconcileDuration.observe({ result }, seconds);
    return outcome;
  }
}

/** What to do about a refused token, the same in the cycle that saw the refusal and in the cycles waiting after it. */
function tokenRefused(refusal: Refusal, secret: string): string {
  return `${refusal.reason}. Compass did not accept the one-time token in Secret ${secret}: write a new TOKEN into the Secret (it is used at once); in case Compass's authentication was failing, this token is tried again at ${new Date(refusal.notBefore).toISOString()}`;
}

function setCertificateStatus(status: CompassConnectionStatus, credentials: AgentCredentials, acquired: string): void {
  if (!status.connectionStatus) return;
  status.connectionStatus.certificateStatus = {
    acquired,
    notBefore: timestamp(credentials.notBefore),
    notAfter: timestamp(credentials.notAfter),
  };
}

function placeholder(): CompassConnection {
  return {
    apiVersion: "compass.kyma-project.io/v1alpha1",
    kind: "CompassConnection",
    metadata: { name: DEFAULT_COMPASS_CONNECTION_NAME },
    spec: { managementInfo: { connectorUrl: "", directorUrl: "" } },
  };
}
