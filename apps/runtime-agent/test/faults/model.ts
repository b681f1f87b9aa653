import { MANAGED_BY_LABEL } from "@runtime-agent/k8s-store";
import type { AppInput, Scenario } from "../support/scenario.js";

/**
 * What Compass assigns to the runtime during one life, and what the cluster must hold for it. Ids are fixed, so the
 * Kubernetes paths of a life (Secret names carry the bundle id) are the same in every run: a fault point recorded
 * in one run names the same object in the next.
 */
export interface ModelApp {
  id: string;
  bundleId: string;
  name: string;
  description: string;
  kind: "Basic" | "OAuth";
  /** The password or client secret; changed by the life's "change" phase. */
  secret: string;
  /** When Compass stopped listing it (unassigned from the formation), epoch ms. */
  removedAt?: number;
}

export const APP_COUNT = 20;
/** The application the "change" phase changes and the one the "remove" phase removes. */
export const CHANGED = 3;
export const REMOVED = 7;
export const FOREIGN_APP = "foreign-app";
export const FOREIGN_SECRET = "foreign-secret";

const n2 = (i: number) => String(i).padStart(2, "0");
const uuid = (group: string, i: number) => `00000000-0000-4000-${group}-0000000000${n2(i)}`;

export function initialModel(): ModelApp[] {
  return Array.from({ length: APP_COUNT }, (_, i) => ({
    id: uuid("8000", i),
    bundleId: uuid("9000", i),
    name: `sweep app ${n2(i)}`,
    description: `application ${n2(i)}`,
    kind: i % 2 === 0 ? "Basic" : "OAuth",
    secret: `sweep-secret-${n2(i)}-g1`,
  }));
}

export function appInput(app: ModelApp): AppInput {
  const credential =
    app.kind === "Basic" ? { username: `user-${app.id.slice(-2)}`, password: app.secret } : { clientId: `client-${app.id.slice(-2)}`, clientSecret: app.secret, url: "https://auth.sweep.example.com/token" };
  return {
    id: app.id,
    name: app.name,
    description: app.description,
    bundles: [
      {
        id: app.bundleId,
        name: "main",
        apiDefinitions: [{ id: app.bundleId.replace("-9000-", "-a000-"), name: "api", targetURL: `https://${app.id.slice(-2)}.sweep.example.com` }],
        defaultInstanceAuth: { credential },
      },
    ],
  };
}

/** The Kubernetes name of an application (the Director's normalization: mp-, lower case, dashes). */
export function k8sName(app: ModelApp): string {
  return `mp-${app.name.replace(/ /g, "-")}`;
}

export function secretName(app: ModelApp): string {
  return `${k8sName(app)}-${app.bundleId}`;
}

/**
 * Differences between the cluster and the model (empty: equal): every listed application exactly once as a managed
 * Application with its description, its credentials Secret owned by that Application (name and uid) with the
 * current secret value, and no other managed Application or agent Secret.
 */
export async function clusterDiff(scenario: Scenario, model: readonly ModelApp[]): Promise<string[]> {
  const listed = model.filter((a) => a.removedAt === undefined);
  const problems: string[] = [];
  const apps = await scenario.store.applications.listManaged({ labelSelector: "" });
  const byName = new Map(apps.filter((a) => a.metadata.labels?.[MANAGED_BY_LABEL] === "compass-runtime-agent").map((a) => [a.metadata.name, a]));
  for (const app of listed) {
    const found = byName.get(k8sName(app));
    if (!found) problems.push(`Application ${k8sName(app)} missing`);
    else if ((found.spec as { description?: string }).description !== app.description) problems.push(`Application ${k8sName(app)} has an old description`);
  }
  const wanted = new Set(listed.map(k8sName));
  for (const name of byName.keys()) if (!wanted.has(name)) problems.push(`Application ${name} should not exist`);

  const secrets = (await scenario.appSecrets()).filter((s) => s.metadata.name !== FOREIGN_SECRET);
  const secretByName = new Map(secrets.map((s) => [s.metadata.name, s]));
  for (const app of listed) {
    const secret = secretByName.get(secretName(app));
    if (!secret) {
      problems.push(`Secret ${secretName(app)} missing`);
      continue;
    }
    const value = app.kind === "Basic" ? secret.data["password"] : secret.data["clientSecret"];
    if (value !== app.secret) problems.push(`Secret ${secretName(app)} has an old value`);
    const owner = secret.metadata.ownerReferences?.[0];
    const application = byName.get(k8sName(app));
    if (!owner || owner.name !== k8sName(app) || (application && owner.uid !== application.metadata.uid)) problems.push(`Secret ${secretName(app)} is not owned by its Application`);
  }
  const wantedSecrets = new Set(listed.map(secretName));
  for (const name of secretByName.keys()) if (!wantedSecrets.has(name)) problems.push(`Secret ${name} should not exist`);
  return problems;
}
