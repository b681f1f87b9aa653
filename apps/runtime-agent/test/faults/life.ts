import type { FaultProxy, ProxiedRequest } from "@runtime-agent/kube-testenv";
import { startAgentProcess, startedAgents, waitFor } from "../support/agent-process.js";
import type { AgentProcess } from "../support/agent-process.js";
import { Scenario } from "../support/scenario.js";
import { ClusterWatch } from "./cluster-watch.js";
import type { ClusterEvent } from "./cluster-watch.js";
import { CompassObserver } from "./compass-observer.js";
import type { CompassRequest } from "./compass-observer.js";
import { appInput, CHANGED, clusterDiff, FOREIGN_APP, FOREIGN_SECRET, initialModel, REMOVED } from "./model.js";
import type { ModelApp } from "./model.js";
import { PHASES } from "./points.js";
import type { Phase } from "./points.js";

export const SYNC_PERIOD_MS = 2_000;
/** How long a phase may take before the run fails rather than hangs (a timeout fault alone holds a request 30 s). */
const PHASE_CAP_MS = 120_000;
/** How long to wait for the armed request to come, after the phase's trigger. */
const HIT_CAP_MS = 45_000;
const APPLICATIONS_API = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications";

/** What one sweep worker owns: a cluster (admin and agent identities) and a fault proxy in front of it. */
export interface Worker {
  name: string;
  adminKubeconfig: string;
  /** The agent's kubeconfig through the proxy. */
  agentKubeconfig: string;
  proxy: FaultProxy;
}

/** What a fault does to the life, once it happened. */
export interface FaultEffect {
  /** When the faulted request was answered (or cut, or held), epoch ms. */
  at: number;
  /** For a kill: the agent started after it. */
  restarted?: AgentProcess;
}

/** A fault armed for one phase; `happened` resolves once it took effect (a kill: once the new agent was started). */
export interface Armed {
  happened: Promise<FaultEffect>;
  cancel(): void;
}

export interface Injection {
  phase: Phase;
  /** Arms the fault at the phase's start, before its trigger. */
  arm(life: Life): Armed;
}

export interface PhaseRecord {
  phase: Phase;
  /** The agent's Kubernetes requests (through the proxy) and the Compass calls from the trigger to convergence. */
  kube: ProxiedRequest[];
  compass: CompassRequest[];
  ms: number;
}

export interface LifeRecord {
  phases: PhaseRecord[];
  /** Problems found while driving the life (no convergence, two agents, ...), already worded as violations. */
  violations: string[];
  /** Tokens the sweep had to write because the agent could not pair with the one it had. */
  tokenCosts: { phase: Phase; at: number; why: string }[];
  fault: { reached: boolean; at?: number; kill: boolean; reference?: number; convergedStart?: number; lateByMs?: number };
  events: ClusterEvent[];
  watchProblems: string[];
  foreignBefore: { app: string; secret: string };
  foreignAfter: { app: string | undefined; secret: string | undefined };
  model: ModelApp[];
  tokensIssued: number;
  observer: CompassObserver;
  agents: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One full life of the agent, from a clean cluster and a fresh Compass (simulator): pairing and first
 * synchronization of 20 applications with credentials, a forced renewal, one application changed and one removed
 * in Compass. Each phase is driven by observable state (the CR's status, the cluster, the simulator), never by
 * sleeps, and ends once the agent has converged. An `Injection` arms one fault at the start of its phase.
 */
export class Life {
  readonly violations: string[] = [];
  readonly tokenCosts: LifeRecord["tokenCosts"] = [];
  readonly agents: AgentProcess[] = [];
  #agent: AgentProcess | undefined;
  #tokensIssued = 1;
  /** Token presentations already judged (a refused token is answered with a new one once). */
  #tokensSeen = 0;

  private constructor(
    readonly worker: Worker,
    readonly scenario: Scenario,
    readonly observer: CompassObserver,
    readonly model: ModelApp[],
  ) {}

  get agent(): AgentProcess {
    if (!this.#agent) throw new Error("no agent started");
    return this.#agent;
  }

  static async run(worker: Worker, injection?: Injection): Promise<LifeRecord> {
    worker.proxy.disarm();
    // Scenario.start: an empty cluster, a fresh simulator, runtime in the formation, a config Secret with a token.
    const scenario = await Scenario.start(worker.adminKubeconfig);
    const model = initialModel();
    const life = new Life(worker, scenario, new CompassObserver(scenario.sim), model);
    let watch: ClusterWatch | undefined;
    const phases: PhaseRecord[] = [];
    const fault: LifeRecord["fault"] = { reached: false, kill: false };
    try {
      scenario.addApplicationsInProcess(model.map(appInput));
      const foreignBefore = await life.#createForeign();
      watch = await ClusterWatch.start(worker.adminKubeconfig);
      for (const phase of PHASES) {
        const record = await life.#phase(phase, injection?.phase === phase ? injection : undefined, fault);
        phases.push(record);
        if (life.violations.length > 0 && record.ms >= PHASE_CAP_MS) break; // stuck: the rest of the life means nothing
      }
      if (phases.length === PHASES.length && life.violations.length === 0) await life.#finalCheck();
      const foreignAfter = await life.#foreignVersions();
      // The watch's events array fills until stop() (in finally), which waits for what is still streaming.
      return {
        phases,
        violations: life.violations,
        tokenCosts: life.tokenCosts,
        fault,
        events: watch.events,
        watchProblems: watch.problems,
        foreignBefore,
        foreignAfter,
        model,
        tokensIssued: life.#tokensIssued,
        observer: life.observer,
        agents: life.agents.length,
      };
    } finally {
      for (const agent of life.agents) await agent.stop().catch(() => undefined);
      startedAgents.length = 0; // the support module keeps every agent of a file; a sweep starts hundreds
      worker.proxy.disarm();
      await watch?.stop();
      await scenario.kube.request("DELETE", `${APPLICATIONS_API}/${FOREIGN_APP}`).catch(() => undefined);
      await scenario.close();
    }
  }

  async startAgent(): Promise<AgentProcess> {
    const agent = await startAgentProcess({ kubeconfig: this.worker.agentKubeconfig, env: this.scenario.agentEnv({ APP_LOG_LEVEL: "info" }) });
    this.agents.push(agent);
    this.#agent = agent;
    return agent;
  }

  /**
   * SIGKILL, then a new process — only once the old one is gone (never two agents writing at once; asserted, since
   * a survivor would make every later observation meaningless).
   */
  async killAndRestart(): Promise<AgentProcess> {
    const old = this.agent;
    await old.kill();
    let alive = true;
    try {
      process.kill(old.child.pid as number, 0);
    } catch {
      alive = false;
    }
    if (old.exitStatus() !== "SIGKILL" || alive) this.violations.push(`two agent processes: the killed agent (pid ${old.child.pid}) still ran when the next one was to start (exit status ${String(old.exitStatus())})`);
    return this.startAgent();
  }

  async #phase(phase: Phase, injection: Injection | undefined, fault: LifeRecord["fault"]): Promise<PhaseRecord> {
    const kubeMark = this.worker.proxy.requests.length;
    const compassMark = this.observer.log.length;
    const started = Date.now();
    const armed = injection?.arm(this);
    let effect: FaultEffect | undefined;
    const happened = armed?.happened.then((e) => (effect = e));
    happened?.catch(() => undefined);

    const fingerprintBefore = phase === "renew" ? await this.scenario.clientCertificateFingerprint() : undefined;
    // The cycle shown before the trigger cannot be the one that converges (stamps have whole seconds: a cycle that
    // started in the same second before the trigger would otherwise pass for a later one).
    const before = (await this.scenario.connection())?.status?.synchronizationStatus?.lastAttempt ?? "";
    const triggeredAt = Date.now();
    await this.#trigger(phase);

    if (armed) {
      // The fault comes with the phase's requests; a point recorded in a later cycle may need a cycle more.
      const timer = sleep(HIT_CAP_MS).then(() => undefined);
      await Promise.race([happened, timer]);
      if (!effect) armed.cancel();
    }
    if (effect) {
      fault.reached = true;
      fault.at = effect.at;
      fault.kill = effect.restarted !== undefined;
    }
    const since = Math.floor(Math.max(triggeredAt, effect?.at ?? 0) / 1000) * 1000;
    const converged = await this.#converge(phase, since, before, fingerprintBefore);
    if (converged === undefined) {
      const cc = await this.scenario.connection();
      const diff = await clusterDiff(this.scenario, this.model);
      this.violations.push(
        `no convergence in phase ${phase} within ${PHASE_CAP_MS / 1000} s: state ${cc?.status?.connectionState} (${cc?.status?.connectionStatus?.error ?? cc?.status?.synchronizationStatus?.error ?? "no error"}); cluster: ${diff.slice(0, 3).join("; ") || "as Compass"}${effect?.restarted ? `\n        the restarted agent's last lines:\n${effect.restarted.tail(12)}` : ""}`,
      );
    } else if (effect) {
      // Converged within two sync periods after the fault: from the end of the faulted cycle (or the restart, or the
      // new token the sweep had to write), to the start of the converged cycle, both in the agent's timestamps.
      const reference = Math.max(this.#faultReference(effect), ...this.tokenCosts.filter((c) => c.phase === phase).map((c) => c.at));
      fault.reference = reference;
      fault.convergedStart = converged;
      const late = converged - reference - (2 * SYNC_PERIOD_MS + 1_000); // + 1 s: status stamps have whole seconds
      if (late > 0) {
        fault.lateByMs = late;
        this.violations.push(`phase ${phase}: converged ${((converged - reference) / 1000).toFixed(1)} s after the fault ${effect.restarted ? "(restart)" : "(end of the faulted cycle)"}, more than two sync periods`);
      }
    }
    return {
      phase,
      kube: this.worker.proxy.requests.slice(kubeMark),
      compass: this.observer.log.slice(compassMark),
      ms: Date.now() - started,
    };
  }

  async #trigger(phase: Phase): Promise<void> {
    switch (phase) {
      case "pair":
        await this.startAgent();
        return;
      case "renew":
        await this.scenario.patchSpec({ refreshCredentialsNow: true });
        return;
      case "change": {
        const app = this.model[CHANGED] as ModelApp;
        app.description = `${app.description} (changed)`;
        app.secret = app.secret.replace(/-g1$/, "-g2");
        const { description, bundles } = appInput(app);
        await this.scenario.admin.call("PATCH", `/admin/applications/${app.id}`, { description, bundles });
        return;
      }
      case "remove": {
        const app = this.model[REMOVED] as ModelApp;
        // Compass stops listing it with the unassignment: a deletion before this moment is a violation.
        app.removedAt = Date.now();
        await this.scenario.admin.removeApplication(app.id);
        return;
      }
    }
  }

  /**
   * Waits until a cycle that started at or after `since` (and is not the one shown `before` the trigger) reported Synchronized and the cluster equals Compass (and,
   * for the renewal, the certificate changed and the request was reset). Returns that cycle's start (status stamp),
   * or undefined after the cap. A one-time token Compass refused is replaced, as an operator would.
   */
  async #converge(phase: Phase, since: number, before: string, fingerprintBefore: string | undefined): Promise<number | undefined> {
    try {
      return await waitFor(
        `phase ${phase} converged`,
        async () => {
          await this.#replaceRefusedToken(phase);
          const cc = await this.scenario.connection();
          const status = cc?.status;
          const attempt = status?.synchronizationStatus?.lastAttempt ?? "";
          const start = Date.parse(attempt);
          if (status?.connectionState !== "Synchronized" || !(start >= since) || attempt === before) return undefined;
          if (phase === "renew") {
            if (cc?.spec.refreshCredentialsNow === true) return undefined;
            if ((await this.scenario.clientCertificateFingerprint()) === fingerprintBefore) return undefined;
          }
          if ((await clusterDiff(this.scenario, this.model)).length > 0) return undefined;
          return start;
        },
        PHASE_CAP_MS,
        150,
      );
    } catch {
      return undefined;
    }
  }

  /** The agent cannot pair with a token Compass refused (spent before): it needs a new one. Counted as a cost. */
  async #replaceRefusedToken(phase: Phase): Promise<void> {
    const fresh = this.observer.tokens.slice(this.#tokensSeen);
    this.#tokensSeen = this.observer.tokens.length;
    const refused = fresh.find((p) => p.result !== "ok");
    if (!refused) return;
    this.tokenCosts.push({ phase, at: Date.now(), why: `token ${refused.token} presented again (${refused.result})` });
    this.#tokensIssued++;
    await this.scenario.writeConfigSecret();
    this.tokenCosts[this.tokenCosts.length - 1]!.at = Date.now();
  }

  /** For a kill, the restarted agent's first log line; else the end of the cycle the fault was in. */
  #faultReference(effect: FaultEffect): number {
    if (effect.restarted) {
      const first = effect.restarted.logs().find((l) => l.msg === "starting runtime-agent");
      return first?.time ? Date.parse(first.time) : effect.at;
    }
    const ends = /^(synchronization done|synchronization failed|connection to Compass failed|connection maintenance failed|reconcile failed; retrying)$/;
    const end = this.agent
      .logs()
      .filter((l) => l.time !== undefined && ends.test(l.msg ?? ""))
      .map((l) => logTime(l.time))
      .find((t) => t >= effect.at);
    return end ?? effect.at;
  }

  /** One more full cycle after the last phase: still Synchronized, the cluster still as Compass. */
  async #finalCheck(): Promise<void> {
    try {
      await this.scenario.waitForNextCycle("Synchronized", 30_000);
      const diff = await clusterDiff(this.scenario, this.model);
      if (diff.length > 0) this.violations.push(`after the life the cluster differs from Compass: ${diff.slice(0, 3).join("; ")}`);
    } catch (error) {
      this.violations.push(`after the life: ${(error as Error).message}`);
    }
  }

  /** An Application and a Secret labelled `app` that are somebody else's: the agent must never change them. */
  async #createForeign(): Promise<{ app: string; secret: string }> {
    await this.scenario.kube.ok("POST", APPLICATIONS_API, {
      apiVersion: "applicationconnector.kyma-project.io/v1alpha1",
      kind: "Application",
      metadata: { name: FOREIGN_APP, labels: { owner: "somebody-else" } },
      spec: { description: "not the agent's", services: [] },
    });
    await this.scenario.kube.ok("POST", "/api/v1/namespaces/kyma-system/secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: FOREIGN_SECRET, labels: { app: FOREIGN_APP } },
      stringData: { password: "not-the-agents" },
    });
    const versions = await this.#foreignVersions();
    return { app: versions.app ?? "", secret: versions.secret ?? "" };
  }

  async #foreignVersions(): Promise<{ app: string | undefined; secret: string | undefined }> {
    const app = await this.scenario.kube.request<{ metadata?: { resourceVersion?: string } }>("GET", `${APPLICATIONS_API}/${FOREIGN_APP}`);
    const secret = await this.scenario.kube.request<{ metadata?: { resourceVersion?: string } }>("GET", `/api/v1/namespaces/kyma-system/secrets/${FOREIGN_SECRET}`);
    return {
      app: app.status === 200 ? app.body.metadata?.resourceVersion : undefined,
      secret: secret.status === 200 ? secret.body.metadata?.resourceVersion : undefined,
    };
  }
}

function logTime(time: unknown): number {
  return typeof time === "string" ? Date.parse(time) : typeof time === "number" ? time : NaN;
}
