import { readFile } from "node:fs/promises";
import { parseApplicationInput, startCompassSimulator } from "@runtime-agent/compass-sim";
import type { CompassSimulator, CompassSimulatorOptions } from "@runtime-agent/compass-sim";
import { createK8sStore, DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import type { CompassConnection, CompassConnectionSpec, K8sStore, SecretObject } from "@runtime-agent/k8s-store";
import { SimAdmin } from "./admin.js";
import { waitFor } from "./agent-process.js";
import { KubeRaw } from "./kube-raw.js";

export const CONFIG_SECRET = { namespace: "kyma-system", name: "compass-agent-configuration" };
export const CLIENT_SECRET = { namespace: "kyma-system", name: "cluster-client-certificates" };
export const CA_SECRET = { namespace: "istio-system", name: "ca-certificates" };
export const FORMATION = "e2e";
export const LEASE = { namespace: "kyma-system", name: "compass-runtime-agent-leader" };

/** One request the simulator answered (its request log, in-process). */
export type SimRequest = CompassSimulator["state"]["requestLog"][number];

export interface AppInput {
  id?: string;
  name: string;
  description?: string;
  providerName?: string;
  systemNumber?: string;
  bundles?: unknown[];
}

/** Compass simulator + the test cluster (admin view), with helpers to arrange and observe a scenario. */
export class Scenario {
  private constructor(
    readonly sim: CompassSimulator,
    readonly admin: SimAdmin,
    readonly store: K8sStore,
    readonly runtimeId: string,
    readonly tenant: string,
    readonly kube: KubeRaw,
  ) {}

  /** Every one-time token this scenario issued (for the leak checks). */
  readonly tokens: string[] = [];

  static async start(adminKubeconfig: string, options: Pick<CompassSimulatorOptions, "certValidity" | "advertisedHost" | "director"> = {}): Promise<Scenario> {
    // A request log large enough to count every call of a test file.
    const sim = await startCompassSimulator({ ...options, requestLogLimit: 1_000_000 });
    // With an advertisedHost (e.g. a name only a test proxy resolves), the admin API is still on the loopback address.
    const admin = new SimAdmin(options.advertisedHost === undefined ? sim.adminUrl : `http://127.0.0.1:${sim.adminPort}`);
    const store = createK8sStore({ kubeconfigPath: adminKubeconfig });
    const kube = new KubeRaw(adminKubeconfig);
    await cleanCluster(store, kube);
    const runtime = await admin.createRuntime("e2e-runtime");
    await admin.call("POST", "/admin/formations/assign", { formation: FORMATION, runtimeId: runtime.id });
    const scenario = new Scenario(sim, admin, store, runtime.id, runtime.tenant, kube);
    await scenario.writeConfigSecret();
    return scenario;
  }

  /** Many applications at once through the simulator library (the admin API, without HTTP per application). */
  addApplicationsInProcess(apps: AppInput[]): string[] {
    return apps.map((app) => {
      // parseApplicationInput: the admin API's input rules (credential forms etc.), without an HTTP call each.
      return this.sim.createApplication(parseApplicationInput({ ...app, formations: [FORMATION] })).id;
    });
  }

  /** Position in the simulator's request log; `requestsSince(mark)` gives what came after. */
  mark(): number {
    return this.sim.state.requestLog.length;
  }

  requestsSince(mark: number): SimRequest[] {
    return this.sim.state.requestLog.slice(mark);
  }

  /** Requests since `mark` whose root fields include `operation` (e.g. setRuntimeLabel, configuration). */
  countOperation(mark: number, operation: string, api?: "connector" | "director"): number {
    return this.requestsSince(mark).filter((r) => r.operations.includes(operation) && (api === undefined || r.api === api)).length;
  }

  /** Changes the CR's spec as an operator would (conflict-retried read-modify-write). */
  async patchSpec(patch: Partial<CompassConnectionSpec>): Promise<void> {
    await this.store.compassConnections.mutate(DEFAULT_COMPASS_CONNECTION_NAME, (draft) => {
      Object.assign(draft.spec, patch);
    });
  }

  /** The application credential and request-parameter Secrets (label `app`) in the integration namespace. */
  appSecrets(): Promise<SecretObject[]> {
    return this.store.secrets.list("kyma-system", { labelSelector: "app" });
  }

  /** The fingerprint annotation of the client certificate Secret, or undefined when there is none. */
  async clientCertificateFingerprint(): Promise<string | undefined> {
    const read = await this.store.secrets.readCredentials({ clientCertificate: CLIENT_SECRET, caCertificate: CA_SECRET });
    return read.state === "complete" ? read.fingerprint : undefined;
  }

  /** Unregisters an application at once (in-process): unassigned from its formations, then deleted, as Compass requires. */
  removeApplication(id: string): void {
    this.sim.state.deleteApplication(id, { unassign: true });
  }

  async addApplication(app: AppInput): Promise<string> {
    const { id } = await this.admin.call<{ id: string }>("POST", "/admin/applications", app);
    await this.admin.call("POST", "/admin/formations/assign", { formation: FORMATION, applicationId: id });
    return id;
  }

  /** A fresh one-time token in the config Secret (what an operator does to reconnect). */
  async writeConfigSecret(overrides: Record<string, string> = {}): Promise<string> {
    const { token, connectorURL } = await this.admin.issueToken(this.runtimeId);
    this.tokens.push(token);
    await this.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, {
      CONNECTOR_URL: connectorURL,
      TOKEN: token,
      RUNTIME_ID: this.runtimeId,
      TENANT: this.tenant,
      ...overrides,
    });
    return token;
  }

  agentEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      APP_CONTROLLER_SYNC_PERIOD: "2s",
      APP_MINIMAL_COMPASS_SYNC_TIME: "1s",
      APP_COMPASS_CA_FILE: this.sim.serverCaFile,
      APP_RUNTIME_EVENTS_URL: "https://gateway.e2e.example.com",
      APP_RUNTIME_CONSOLE_URL: "https://console.e2e.example.com",
      ...extra,
    };
  }

  connection(): Promise<CompassConnection | undefined> {
    return this.store.compassConnections.find(DEFAULT_COMPASS_CONNECTION_NAME);
  }

  async waitForState(state: string, timeoutMs = 60_000, since?: string): Promise<CompassConnection> {
    let seen = "no CompassConnection";
    try {
      return await waitFor(`CompassConnection in state ${state}`, async () => {
        const cc = await this.connection();
        if (cc) seen = `${cc.status?.connectionState} (${cc.status?.connectionStatus?.error ?? cc.status?.synchronizationStatus?.error ?? "no error"})`;
        if (cc?.status?.connectionState !== state) return undefined;
        if (since && (cc.status.synchronizationStatus?.lastAttempt ?? "") <= since) return undefined;
        return cc;
      }, timeoutMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}; last seen: ${seen}`, { cause: error });
    }
  }

  /** Waits until a full cycle after `since` (its lastAttempt) reported `state`. */
  async waitForNextCycle(state: string, timeoutMs = 60_000): Promise<CompassConnection> {
    const since = (await this.connection())?.status?.synchronizationStatus?.lastAttempt ?? "";
    return this.waitForState(state, timeoutMs, since);
  }

  async managedApplications(): Promise<{ name: string; resourceVersion: string; spec: Record<string, unknown> }[]> {
    const apps = await this.store.applications.listManaged();
    return apps.map((a) => ({ name: a.metadata.name, resourceVersion: a.metadata.resourceVersion ?? "", spec: a.spec as unknown as Record<string, unknown> }));
  }

  async serverCa(): Promise<string> {
    return readFile(this.sim.serverCaFile, "utf8");
  }

  async close(): Promise<void> {
    await cleanCluster(this.store, this.kube);
    await this.store.close();
    await this.sim.close();
  }
}

/** Removes everything an agent run leaves behind, so scenarios start from an empty cluster. */
export async function cleanCluster(store: K8sStore, kube: KubeRaw): Promise<void> {
  for (const cc of await store.compassConnections.list()) await store.compassConnections.delete(cc.metadata.name);
  for (const app of await store.applications.listManaged({ labelSelector: "" })) await store.applications.delete(app.metadata.name);
  for (const ns of ["kyma-system", "istio-system"]) {
    for (const secret of await store.secrets.list(ns)) await store.secrets.delete(ns, secret.metadata.name);
  }
  // The ConfigMap configuration of earlier Kyma releases: read whenever the config Secret is missing.
  await kube.request("DELETE", `/api/v1/namespaces/${CONFIG_SECRET.namespace}/configmaps/${CONFIG_SECRET.name}`);
  // A lease left by a killed leader would make the next file's agents wait for it to expire.
  await kube.request("DELETE", `/apis/coordination.k8s.io/v1/namespaces/${LEASE.namespace}/leases/${LEASE.name}`);
  // Events are scanned per file (no secret may reach them).
  await kube.deleteEvents("default");
}
