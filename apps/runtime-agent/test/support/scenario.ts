import { readFile } from "node:fs/promises";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import type { CompassSimulator } from "@runtime-agent/compass-sim";
import { createK8sStore, DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import type { CompassConnection, K8sStore } from "@runtime-agent/k8s-store";
import { SimAdmin } from "./admin.js";
import { waitFor } from "./agent-process.js";

export const CONFIG_SECRET = { namespace: "kyma-system", name: "compass-agent-configuration" };
export const CLIENT_SECRET = { namespace: "kyma-system", name: "cluster-client-certificates" };
export const CA_SECRET = { namespace: "istio-system", name: "ca-certificates" };
export const FORMATION = "e2e";

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
  ) {}

  static async start(adminKubeconfig: string, options: { certValidity?: number } = {}): Promise<Scenario> {
    const sim = await startCompassSimulator(options.certValidity ? { certValidity: options.certValidity } : {});
    const admin = new SimAdmin(sim.adminUrl);
    const store = createK8sStore({ kubeconfigPath: adminKubeconfig });
    await cleanCluster(store);
    const runtime = await admin.createRuntime("e2e-runtime");
    await admin.call("POST", "/admin/formations/assign", { formation: FORMATION, runtimeId: runtime.id });
    const scenario = new Scenario(sim, admin, store, runtime.id, runtime.tenant);
    await scenario.writeConfigSecret();
    return scenario;
  }

  async addApplication(app: AppInput): Promise<string> {
    const { id } = await this.admin.call<{ id: string }>("POST", "/admin/applications", app);
    await this.admin.call("POST", "/admin/formations/assign", { formation: FORMATION, applicationId: id });
    return id;
  }

  /** A fresh one-time token in the config Secret (what an operator does to reconnect). */
  async writeConfigSecret(overrides: Record<string, string> = {}): Promise<string> {
    const { token, connectorURL } = await this.admin.issueToken(this.runtimeId);
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
    return waitFor(`CompassConnection in state ${state}`, async () => {
      const cc = await this.connection();
      if (cc?.status?.connectionState !== state) return undefined;
      if (since && (cc.status.synchronizationStatus?.lastAttempt ?? "") <= since) return undefined;
      return cc;
    }, timeoutMs);
  }

  async managedApplications(): Promise<{ name: string; resourceVersion: string; spec: Record<string, unknown> }[]> {
    const apps = await this.store.applications.listManaged();
    return apps.map((a) => ({ name: a.metadata.name, resourceVersion: a.metadata.resourceVersion ?? "", spec: a.spec as unknown as Record<string, unknown> }));
  }

  async serverCa(): Promise<string> {
    return readFile(this.sim.serverCaFile, "utf8");
  }

  async close(): Promise<void> {
    await cleanCluster(this.store);
    await this.store.close();
    await this.sim.close();
  }
}

/** Removes everything an agent run leaves behind, so scenarios start from an empty cluster. */
export async function cleanCluster(store: K8sStore): Promise<void> {
  await store.compassConnections.delete(DEFAULT_COMPASS_CONNECTION_NAME);
  for (const app of await store.applications.listManaged({ labelSelector: "" })) await store.applications.delete(app.metadata.name);
  for (const ns of ["kyma-system", "istio-system"]) {
    for (const secret of await store.secrets.list(ns)) await store.secrets.delete(ns, secret.metadata.name);
  }
}
