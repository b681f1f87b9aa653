import { ApplicationStore, type ApplicationStoreOptions } from "./applications.js";
import { K8sClient, type K8sClientOptions } from "./client.js";
import { CompassConnectionStore } from "./compass-connection.js";
import { ConfigMapStore } from "./config-maps.js";
import type { RequestCounter } from "./counter.js";
import { EventRecorder, type EventRecorderOptions } from "./events.js";
import type { KubeConfigSource } from "./kubeconfig.js";
import { LeaderElector, type LeaderElectionOptions } from "./leader-election.js";
import type { ConflictRetryOptions } from "./retry.js";
import { SecretStore } from "./secrets.js";

export interface K8sStoreOptions extends K8sClientOptions, ApplicationStoreOptions {
  /** Conflict retries of read-modify-write operations, default 5 attempts. */
  conflictRetry?: ConflictRetryOptions;
  events?: EventRecorderOptions;
}

/**
 * The agent's only door to the Kubernetes API: CompassConnection CRs, Secrets, Applications, Events, Leases
 * and informers over one pooled connection, with every request counted in `counter`.
 */
export interface K8sStore {
  readonly compassConnections: CompassConnectionStore;
  readonly secrets: SecretStore;
  /** Read-only: the ConfigMap configuration of earlier Kyma releases. */
  readonly configMaps: ConfigMapStore;
  readonly applications: ApplicationStore;
  readonly events: EventRecorder;
  /** Requests sent so far, by verb. */
  readonly counter: RequestCounter;
  /** Where the configuration came from and which API server it points at. */
  readonly source: KubeConfigSource | "object";
  readonly server: string;
  /**
   * Fences the store: from now on every write (create, update, patch, delete; Events too) fails at once with
   * K8S_FENCED and is never sent, while reads, lists and watches go on. For a leader that lost its Lease or is
   * shutting down, so that no write starts after that moment (one already sent cannot be called back). Only the
   * leader elector's Lease writes are still sent: stop() hands the Lease back. One-way; the first reason is kept
   * and ends up in the K8S_FENCED messages.
   */
  fence(reason: string): void;
  /** The reason given to fence(), or undefined while writes are sent. */
  readonly fenceReason: string | undefined;
  /** A Lease-based leader elector (not started). */
  leaderElector(options: LeaderElectionOptions): LeaderElector;
  /** Closes pooled connections (stop informers and electors first). */
  close(): Promise<void>;
}

/**
 * Creates a store. The configuration comes from `kubeconfigPath`, in-cluster, `KUBECONFIG`, or ~/.kube/config
 * (see loadKubeConfig). Throws K8sStoreError K8S_CONFIG when there is none; no request is sent yet.
 */
export function createK8sStore(options: K8sStoreOptions = {}): K8sStore {
  return buildStore(new K8sClient(options), options);
}

function buildStore(client: K8sClient, options: K8sStoreOptions): K8sStore {
  const conflictRetry = options.conflictRetry ?? {};
  const secrets = new SecretStore(client, { conflictRetry });
  return {
    compassConnections: new CompassConnectionStore(client, { conflictRetry }),
    secrets,
    configMaps: new ConfigMapStore(client),
    applications: new ApplicationStore(client, secrets, options),
    events: new EventRecorder(client, options.events),
    counter: client.counter,
    source: client.source,
    server: client.server,
    fence: (reason) => client.fence(reason),
    get fenceReason() {
      return client.fenceReason;
    },
    leaderElector: (o) => new LeaderElector(client, o),
    close: () => client.close(),
  };
}
