import { ApplicationStore, type ApplicationStoreOptions } from "./applications.js";
import { K8sClient, type K8sClientOptions } from "./client.js";
import { CompassConnectionStore } from "./compass-connection.js";
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
  readonly applications: ApplicationStore;
  readonly events: EventRecorder;
  /** Requests sent so far, by verb. */
  readonly counter: RequestCounter;
  /** Where the configuration came from and which API server it points at. */
  readonly source: KubeConfigSource | "object";
  readonly server: string;
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
    applications: new ApplicationStore(client, secrets, options),
    events: new EventRecorder(client, options.events),
    counter: client.counter,
    source: client.source,
    server: client.server,
    leaderElector: (o) => new LeaderElector(client, o),
    close: () => client.close(),
  };
}
