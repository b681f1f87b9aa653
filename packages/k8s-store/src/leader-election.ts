import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { K8sClient } from "./client.js";
import { isK8sStoreError, K8sStoreError } from "./errors.js";
import { FIELD_MANAGER } from "./meta.js";
import { sleep } from "./util.js";

/** coordination.k8s.io/v1 LeaseSpec as JSON (times are MicroTime strings). */
interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [field: string]: unknown;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown>;
  spec?: LeaseSpec;
}

/** A metav1.MicroTime: RFC 3339 with exactly six fractional digits, as the API server requires. */
export function microTime(date: Date): string {
  return `${date.toISOString().slice(0, -1)}000Z`;
}

/** The three durations of leader election, in milliseconds. */
export interface LeaderElectionTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** Retries while acquiring wait up to this factor of the retry period (client-go's JitterFactor). */
const RETRY_JITTER = 1.2;

/**
 * The one rule for leader-election timings, client-go's: 0 < retryPeriod × 1.2 < renewDeadline < leaseDuration.
 * The leader must give up (renew deadline) before other candidates may take the Lease (lease duration), and must
 * get a (jittered) renewal attempt in before it gives up. The elector refuses other timings; the agent's
 * configuration check calls this with its variable names (`names`), so both always agree. Returns one sentence per
 * broken condition, empty when the timing is valid.
 */
export function leaderElectionTimingProblems(
  timing: LeaderElectionTiming,
  names: Readonly<Record<keyof LeaderElectionTiming, string>> = { leaseDurationMs: "leaseDurationMs", renewDeadlineMs: "renewDeadlineMs", retryPeriodMs: "retryPeriodMs" },
): string[] {
  const fields = ["leaseDurationMs", "renewDeadlineMs", "retryPeriodMs"] as const;
  const notPositive = fields.filter((f) => !(timing[f] > 0));
  if (notPositive.length > 0) return notPositive.map((f) => `${names[f]} must be positive`);
  const problems: string[] = [];
  if (timing.renewDeadlineMs >= timing.leaseDurationMs) {
    problems.push(`${names.renewDeadlineMs} must be shorter than ${names.leaseDurationMs}: the leader must give up before another candidate may take the Lease over`);
  }
  if (timing.retryPeriodMs * RETRY_JITTER >= timing.renewDeadlineMs) {
    problems.push(`${names.retryPeriodMs} × ${RETRY_JITTER} (jitter) must be shorter than ${names.renewDeadlineMs}: the leader must get a renewal attempt in before it gives up`);
  }
  return problems;
}

export interface LeaderElectionOptions {
  /** Namespace of the Lease, e.g. kyma-system. */
  namespace: string;
  /** Name of the Lease, e.g. compass-runtime-agent-leader. */
  name: string;
  /** This candidate's identity, default POD_NAME or `<hostname>_<random>`. */
  identity?: string;
  /** How long a lease is valid without renewal (non-leaders wait this long), default 15 s (whole seconds on the wire). */
  leaseDurationMs?: number;
  /** The leader gives up when it could not renew for this long, default 10 s. See leaderElectionTimingProblems. */
  renewDeadlineMs?: number;
  /** Pause between attempts, default 2 s (jittered by up to +20 % while acquiring). */
  retryPeriodMs?: number;
  /** On stop(), hand the lease back so another candidate takes over at once, default true. */
  releaseOnStop?: boolean;
  onStartedLeading?: () => void;
  /** Called when leadership ends: lost (renew deadline passed) or stopped. */
  onStoppedLeading?: () => void;
  /** Called when the observed holder changes (including to this candidate). */
  onNewLeader?: (identity: string) => void;
  /** Called with every failed attempt (for logs/metrics). Not called for "held by another candidate". */
  onError?: (err: K8sStoreError) => void;
  /**
   * The clock the lease timing is measured with, in milliseconds (monotonic; default `performance.now`): when this
   * candidate last saw the Lease change, when it last renewed. Tests inject one to decide exactly when a lease has
   * lapsed. The pauses between attempts (retry period) are real timers either way.
   */
  now?: () => number;
}

export function defaultIdentity(): string {
  const pod = process.env["POD_NAME"];
  if (pod !== undefined && pod !== "") return pod;
  return `${hostname()}_${randomUUID().slice(0, 8)}`;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: optimistic concurrency on the
 * Lease's resourceVersion; another holder's lease counts as expired `leaseDurationSeconds` after this candidate
 * last SAW it change (local clock, so clock skew between nodes does not matter); the leader renews every
 * retryPeriod and steps down when it could not renew for renewDeadline (so before others may take over); on
 * stop() it releases the lease (empty holder) so a successor need not wait. Its Lease writes are sent also by a
 * fenced store (K8sStore.fence): they decide who may write, and a fenced leader must still release its Lease.
 */
export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private leader = false;
  private observedHolder: string | undefined;
  private observedKey = "";
  private observedAt = 0;
  private lastRenewAt = 0;
  private stopped = false;
  private started = false;
  private readonly stopController = new AbortController();
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: K8sClient,
    private readonly options: LeaderElectionOptions,
  ) {
    this.identity = options.identity ?? defaultIdentity();
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.now = options.now ?? (() => performance.now());
    const problems = leaderElectionTimingProblems({ leaseDurationMs: this.leaseDurationMs, renewDeadlineMs: this.renewDeadlineMs, retryPeriodMs: this.retryPeriodMs });
    if (problems.length > 0) throw new K8sStoreError("K8S_INVALID", `leader election: ${problems.join("; ")}`);
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** The holder this candidate last observed ("" or undefined: nobody). */
  currentLeader(): string | undefined {
    return this.observedHolder;
  }

  /** Starts campaigning in the background. Idempotent. */
  start(): this {
    if (this.started || this.stopped) return this;
    this.started = true;
    this.running = this.run();
    return this;
  }

  /** Stops campaigning; a leader releases the lease (unless releaseOnStop is false) and gets onStoppedLeading. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopController.abort();
    await this.running;
    if (this.leader) {
      if (this.options.releaseOnStop ?? true) {
        try {
          await this.release();
        } catch (err) {
          this.reportError(err);
        }
      }
      this.setLeader(false);
    }
  }

  private setLeader(value: boolean): void {
    if (this.leader === value) return;
    this.leader = value;
    try {
      if (value) this.options.onStartedLeading?.();
      else this.options.onStoppedLeading?.();
    } catch {
      // callbacks must not break the election loop
    }
  }

  private reportError(err: unknown): void {
    const e = err instanceof K8sStoreError ? err : new K8sStoreError("K8S_UNEXPECTED", `leader election: ${String(err)}`, { cause: err });
    try {
      this.options.onError?.(e);
    } catch {
      // ignore
    }
  }

  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    while (!this.stopped) {
      if (!this.leader) {
        if (await this.tryAcquireOrRenew(this.renewDeadlineMs)) {
          this.lastRenewAt = this.now();
          this.setLeader(true);
          continue;
        }
        await sleep(this.retryPeriodMs * (1 + 0.2 * Math.random()), signal);
        continue;
      }
      await sleep(this.retryPeriodMs, signal);
      if (this.stopped) return;
      const remaining = this.renewDeadlineMs - (this.now() - this.lastRenewAt);
      const ok = remaining > 0 && (await this.tryAcquireOrRenew(Math.max(100, remaining)));
      if (ok) {
        this.lastRenewAt = this.now();
      } else if (this.now() - this.lastRenewAt >= this.renewDeadlineMs) {
        this.setLeader(false);
      }
    }
  }

  private leasePath(name?: string): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.options.namespace)}/leases`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  private observe(spec: LeaseSpec | undefined): void {
    const holder = spec?.holderIdentity ?? "";
    const key = JSON.stringify([holder, String(spec?.renewTime), spec?.leaseTransitions ?? 0]);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAt = this.now();
    }
    if (holder !== (this.observedHolder ?? "")) {
      this.observedHolder = holder;
      if (holder !== "") {
        try {
          this.options.onNewLeader?.(holder);
        } catch {
          // ignore
        }
      }
    }
  }

  private leaseSeconds(): number {
    return Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
  }

  /** One attempt; true when this candidate holds the lease afterwards. Never throws. */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const { namespace, name } = this.options;
    const call = { timeoutMs };
    try {
      const now = microTime(new Date());
      let lease: Lease;
      try {
        lease = await this.client.json<Lease>("get", "leases", `get leases ${namespace}/${name}`, { method: "GET", path: this.leasePath(name), ...call });
      } catch (err) {
        if (!isK8sStoreError(err, "K8S_NOT_FOUND")) throw err;
        const body: Lease = {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: this.leaseSeconds(), acquireTime: now, renewTime: now, leaseTransitions: 0 },
        };
        try {
          const created = await this.client.json<Lease>("create", "leases", `create leases ${namespace}/${name}`, {
            method: "POST",
            path: this.leasePath(),
            query: { fieldManager: FIELD_MANAGER },
            unfenced: true,
            body,
            ...call,
          });
          this.observe(created.spec);
          return true;
        } catch (createErr) {
          if (isK8sStoreError(createErr, "K8S_ALREADY_EXISTS")) return false;
          throw createErr;
        }
      }
      this.observe(lease.spec);
      const holder = lease.spec?.holderIdentity ?? "";
      const durationMs = (lease.spec?.leaseDurationSeconds ?? this.leaseSeconds()) * 1000;
      if (holder !== "" && holder !== this.identity && this.observedAt + durationMs > this.now()) return false;
      const mine = holder === this.identity;
      const spec: LeaseSpec = {
        ...lease.spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseSeconds(),
        renewTime: now,
        acquireTime: mine && lease.spec?.acquireTime !== undefined ? lease.spec.acquireTime : now,
        leaseTransitions: mine ? (lease.spec?.leaseTransitions ?? 0) : (lease.spec?.leaseTransitions ?? 0) + 1,
      };
      const updated = await this.client.json<Lease>("update", "leases", `update leases ${namespace}/${name}`, {
        method: "PUT",
        path: this.leasePath(name),
        query: { fieldManager: FIELD_MANAGER },
        unfenced: true,
        body: { ...lease, spec },
        ...call,
      });
      this.observe(updated.spec);
      return true;
    } catch (err) {
      if (!isK8sStoreError(err, "K8S_CONFLICT")) this.reportError(err);
      return false;
    }
  }

  /** Hands the lease back: empty holder, 1 s duration, so the next candidate acquires on its next attempt. */
  private async release(): Promise<void> {
    const { namespace, name } = this.options;
    const lease = await this.client.json<Lease>("get", "leases", `get leases ${namespace}/${name}`, { method: "GET", path: this.leasePath(name), timeoutMs: this.renewDeadlineMs });
    if ((lease.spec?.holderIdentity ?? "") !== this.identity) return;
    const now = microTime(new Date());
    const spec: LeaseSpec = { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
    await this.client.json("update", "leases", `update leases ${namespace}/${name}`, {
      method: "PUT",
      path: this.leasePath(name),
      query: { fieldManager: FIELD_MANAGER },
      unfenced: true,
      body: { ...lease, spec },
      timeoutMs: this.renewDeadlineMs,
    });
  }
}
