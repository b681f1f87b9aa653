/**
 * Reliability matrix, security: the shipped RBAC (apps/runtime-agent/deploy/base/rbac*.yaml) is the minimum the agent
 * needs. A control plane of its own gets the shipped RBAC; then, for every permission the files grant (one verb on
 * one resource, with its resourceNames, in one namespace or cluster-wide), that verb is removed from every rule that
 * grants it, and a focused scenario runs the agent (pairing, synchronization with creates, updates and deletes of
 * Applications and Secrets, renewal, a repeated Event, leader election) against that reduced RBAC. Each removal must
 * show: a K8S_FORBIDDEN in the agent's logs, metrics or status, or the scenario not completing. With the full RBAC
 * the same scenario completes without a single K8S_FORBIDDEN (the control case).
 *
 * Cheap enough for the default run: one control plane (the RBAC objects are replaced in place between cases and a
 * SubjectAccessReview confirms each change took effect), the agent in process (startAgent, the code the CLI runs),
 * and every case stops as soon as the removal shows.
 */
import { readdirSync, readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseAllDocuments } from "yaml";
import { AGENT_GROUPS, AGENT_USER, startControlPlane } from "@runtime-agent/kube-testenv";
import type { ControlPlane } from "@runtime-agent/kube-testenv";
import { startAgent } from "../../src/agent.js";
import type { RunningAgent } from "../../src/agent.js";
import { loadConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/observability/logger.js";
import { freePort, waitFor } from "../support/agent-process.js";
import { KubeRaw } from "../support/kube-raw.js";
import { metricSum, sleep } from "../support/reliability.js";
import { CA_SECRET, CLIENT_SECRET, Scenario } from "../support/scenario.js";

const deployDir = fileURLToPath(new URL("../../deploy", import.meta.url));
const baseDir = fileURLToPath(new URL("../../deploy/base", import.meta.url));
const crdDir = fileURLToPath(new URL("../../../../schemas/crds", import.meta.url));

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface RbacRole {
  apiVersion: string;
  kind: "Role" | "ClusterRole";
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  rules: Rule[];
}

/** One permission: a verb on a resource (with its resourceNames) in a namespace or cluster-wide. */
interface Permission {
  id: string;
  scope: string;
  group: string;
  resource: string;
  names: string[];
  verb: string;
  /** Where it is granted: role key → rule indexes. */
  grants: { role: string; rule: number }[];
}

const roleKey = (r: RbacRole) => `${r.kind}/${r.metadata.namespace ?? ""}/${r.metadata.name}`;

function readShippedRoles(): RbacRole[] {
  const files = readdirSync(baseDir).filter((f) => /^rbac.*\.ya?ml$/.test(f));
  const roles: RbacRole[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(`${baseDir}/${file}`, "utf8"))) {
      const obj = doc.toJSON() as RbacRole | null;
      if (obj && (obj.kind === "Role" || obj.kind === "ClusterRole")) roles.push(obj);
    }
  }
  return roles;
}

function permissionsOf(roles: RbacRole[]): Permission[] {
  const byId = new Map<string, Permission>();
  for (const role of roles) {
    role.rules.forEach((rule, index) => {
      for (const group of rule.apiGroups ?? [""]) {
        for (const resource of rule.resources ?? []) {
          for (const verb of rule.verbs) {
            const names = [...(rule.resourceNames ?? [])].sort();
            const scope = role.kind === "ClusterRole" ? "cluster" : (role.metadata.namespace ?? "default");
            const id = `${verb} ${group ? `${group}/` : ""}${resource}${names.length ? `[${names.join(",")}]` : ""} in ${scope}`;
            const p = byId.get(id) ?? { id, scope, group, resource, names, verb, grants: [] };
            p.grants.push({ role: roleKey(role), rule: index });
            byId.set(id, p);
          }
        }
      }
    });
  }
  return [...byId.values()];
}

function withoutPermission(role: RbacRole, permission: Permission): RbacRole {
  const rules = role.rules
    .map((rule, index) => (permission.grants.some((g) => g.role === roleKey(role) && g.rule === index) ? { ...rule, verbs: rule.verbs.filter((v) => v !== permission.verb) } : rule))
    .filter((rule) => rule.verbs.length > 0);
  return { ...role, rules };
}

/**
 * Permissions that a broader rule of the same files also grants, so removing them alone changes nothing: the
 * client-certificate Role names its Secrets for list and create, while the app-Secret Role (in the integration
 * namespace, kyma-system by default) may list and create any Secret there. They stay so that the Roles are still
 * right when APP_INTEGRATION_NAMESPACE (and with it the app-Secret Role) moves to another namespace.
 */
const OVERLAPS: Record<string, string> = {
  "list secrets[compass-agent-configuration] in kyma-system": "list secrets in kyma-system",
  "list secrets[cluster-client-certificates] in kyma-system": "list secrets in kyma-system",
};

let cp: ControlPlane;
let kube: KubeRaw;
const shipped = readShippedRoles();
const permissions = permissionsOf(shipped);

function rolePath(role: RbacRole): string {
  return role.kind === "ClusterRole"
    ? `/apis/rbac.authorization.k8s.io/v1/clusterroles/${role.metadata.name}`
    : `/apis/rbac.authorization.k8s.io/v1/namespaces/${role.metadata.namespace}/roles/${role.metadata.name}`;
}

async function putRole(role: RbacRole): Promise<void> {
  const live = await kube.ok<RbacRole>("GET", rolePath(role));
  await kube.ok("PUT", rolePath(role), { ...live, rules: role.rules });
}

/** Asks the API server whether the agent may do this (the authorizer's cache follows RBAC changes within ms). */
async function allowed(p: Permission, name?: string): Promise<boolean> {
  const review = await kube.ok<{ status: { allowed: boolean } }>("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user: AGENT_USER,
      groups: AGENT_GROUPS,
      resourceAttributes: {
        verb: p.verb,
        group: p.group,
        resource: p.resource,
        ...(p.scope === "cluster" ? {} : { namespace: p.scope }),
        ...(name ?? p.names[0] ? { name: name ?? p.names[0] } : {}),
      },
    },
  });
  return review.status.allowed;
}

interface Outcome {
  completed: boolean;
  forbidden: string[];
  step: string;
  ms: number;
}

/**
 * The focused scenario: pairing and the first synchronization (creates), changes in Compass (an update, a Secret
 * update, a Secret delete, an Application delete), a forced renewal (updates of both credential Secrets), a
 * Director failure and recovery (the second "Synchronized" Event is a patch of the first), with leader election.
 * Stops early once a K8S_FORBIDDEN shows.
 */
async function runScenario(budgetMs: number): Promise<Outcome> {
  const started = Date.now();
  const scenario = await Scenario.start(cp.kubeconfigPath);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      callback();
    },
  });
  let agent: RunningAgent | undefined;
  let step = "start";
  const forbidden = async (): Promise<string[]> => {
    const found = lines.filter((l) => /K8S_FORBIDDEN|forbidden/i.test(l)).map((l) => l.slice(0, 300));
    if (agent) {
      const metrics = await agent.metrics.registry.metrics();
      const count = metricSum(metrics, "cra_kubernetes_requests_total", { outcome: "K8S_FORBIDDEN" });
      if (count > 0) found.push(`cra_kubernetes_requests_total{outcome="K8S_FORBIDDEN"} ${count}`);
    }
    const cc = await scenario.connection();
    const status = JSON.stringify(cc?.status ?? {});
    if (/K8S_FORBIDDEN/.test(status)) found.push(`status: ${status.slice(0, 300)}`);
    return found;
  };
  /** Waits for `probe`, but gives up at once when a K8S_FORBIDDEN shows or the budget is spent. */
  const until = async (what: string, probe: () => Promise<boolean>, timeoutMs = budgetMs): Promise<boolean> => {
    step = what;
    const deadline = Math.min(started + budgetMs, Date.now() + timeoutMs);
    for (;;) {
      if ((await forbidden()).length > 0) return false;
      if (await probe().catch(() => false)) return true;
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
  };
  try {
    // Fixed bundle ids: the Secret names derive from them, so a changed password is an update of the same Secret.
    const kept = (password: string) => ({
      id: "0b0b0b0b-0000-4000-8000-000000000001",
      name: "kept",
      apiDefinitions: [{ name: "k", targetURL: "https://a.example.com/k" }],
      defaultInstanceAuth: { credential: { username: "u1", password } },
    });
    const a = await scenario.addApplication({
      name: "alpha",
      description: "one",
      bundles: [
        kept("rbac-pw-1"),
        {
          id: "0b0b0b0b-0000-4000-8000-000000000002",
          name: "dropped",
          apiDefinitions: [{ name: "d", targetURL: "https://a.example.com/d" }],
          defaultInstanceAuth: { credential: { username: "u2", password: "rbac-pw-2" } },
        },
      ],
    });
    await scenario.addApplication({ name: "beta" });
    const gamma = await scenario.addApplication({ name: "gamma" });
    const env = {
      ...scenario.agentEnv(),
      APP_CONTROLLER_SYNC_PERIOD: "1s",
      APP_MINIMAL_COMPASS_SYNC_TIME: "1s",
      APP_HEALTH_PORT: String(await freePort()),
      APP_METRICS_PORT: String(await freePort()),
      APP_LEADER_ELECTION: "true",
      APP_LEADER_ELECTION_LEASE_DURATION: "4s",
      APP_LEADER_ELECTION_RENEW_DEADLINE: "3s",
      APP_LEADER_ELECTION_RETRY_PERIOD: "500ms",
      APP_LOG_LEVEL: "debug",
    };
    agent = await startAgent({
      config: loadConfig(env),
      kubeconfigPath: cp.agentKubeconfigPath,
      log: createLogger({ level: "debug", format: "json", destination: sink }),
      keySize: 2048,
      host: "127.0.0.1",
    });
    const state = async () => (await scenario.connection())?.status?.connectionState;
    if (!(await until("pairing and first synchronization", async () => (await state()) === "Synchronized" && (await scenario.appSecrets()).length === 2))) {
      return { completed: false, forbidden: await forbidden(), step, ms: Date.now() - started };
    }

    await scenario.admin.call("PATCH", `/admin/applications/${a}`, { description: "two", bundles: [kept("rbac-pw-1b")] });
    await scenario.admin.removeApplication(gamma);
    const changed = await until("changes in Compass applied", async () => {
      const apps = await scenario.store.applications.listManaged();
      const secrets = await scenario.appSecrets();
      const alpha = apps.find((x) => x.metadata.name === "mp-alpha");
      return (
        (alpha?.spec as { description?: string } | undefined)?.description === "two" &&
        !apps.some((x) => x.metadata.name === "mp-gamma") &&
        secrets.length === 1 &&
        secrets[0]?.data["password"] === "rbac-pw-1b"
      );
    });
    if (!changed) return { completed: false, forbidden: await forbidden(), step, ms: Date.now() - started };

    const before = await scenario.clientCertificateFingerprint();
    await scenario.patchSpec({ refreshCredentialsNow: true });
    const renewed = await until("forced renewal", async () => {
      const read = await scenario.store.secrets.readCredentials({ clientCertificate: CLIENT_SECRET, caCertificate: CA_SECRET });
      return read.state === "complete" && read.fingerprint !== before && (await scenario.connection())?.spec.refreshCredentialsNow === false;
    });
    if (!renewed) return { completed: false, forbidden: await forbidden(), step, ms: Date.now() - started };

    // The first "Synchronized" Event was recorded before the CR had a uid; the next ones are about the CR with its
    // uid: after two round trips through SynchronizationFailed, the second of those is a patch (count 2).
    let repeated = false;
    for (let round = 0; round < 3 && !repeated; round++) {
      await scenario.admin.call("POST", "/admin/faults", { target: "director", status: 503, times: 2 });
      if (!(await until("a Director failure", async () => (await state()) === "SynchronizationFailed"))) break;
      if (!(await until("recovered", async () => (await state()) === "Synchronized"))) break;
      repeated = await until(
        "a repeated Event (patch)",
        async () => (await scenario.kube.events("default")).some((e) => e.reason === "Synchronized" && (e.count ?? 1) >= 2),
        2_000,
      );
      if (!repeated && (await forbidden()).length > 0) break;
    }
    if (!repeated) return { completed: false, forbidden: await forbidden(), step, ms: Date.now() - started };
    // A moment for the lease renewals and watches to show anything left.
    await sleep(1_000);
    return { completed: true, forbidden: await forbidden(), step: "done", ms: Date.now() - started };
  } finally {
    if (agent) await Promise.race([agent.stop().catch(() => undefined), sleep(8_000)]);
    await scenario.close();
  }
}

beforeAll(async () => {
  cp = await startControlPlane({ crds: [crdDir], rbacDir: deployDir });
  kube = new KubeRaw(cp.kubeconfigPath);
}, 120_000);

afterAll(async () => {
  await cp?.stop();
});

describe("the shipped RBAC", () => {
  test("grants what the files say: one permission per verb, resource, resourceNames and namespace", () => {
    expect(shipped.length).toBeGreaterThanOrEqual(5);
    expect(permissions.length).toBeGreaterThanOrEqual(25);
    // Granted twice (two Roles in kyma-system may create Secrets: the app-Secret Role and the client-certificate
    // Role) counts once: removing it means removing it from both.
    const twice = permissions.filter((p) => p.grants.length > 1).map((p) => p.id);
    expect(twice).toEqual(["create secrets in kyma-system"]);
  });

  test("control: with all of it the scenario completes and the agent never meets a K8S_FORBIDDEN", async () => {
    const outcome = await runScenario(60_000);
    expect(outcome).toMatchObject({ completed: true, forbidden: [] });
  }, 90_000);

  test.each(permissions.map((p) => [p.id, p] as const))("without %s the agent fails (K8S_FORBIDDEN or no Synchronized)", async (_id, permission) => {
    const affected = shipped.filter((r) => permission.grants.some((g) => g.role === roleKey(r)));
    for (const role of affected) await putRole(withoutPermission(role, permission));
    try {
      const covered = OVERLAPS[permission.id];
      if (covered !== undefined) {
        // Still allowed through the broader rule: nothing to run. (Shown by the SubjectAccessReview.)
        await sleep(200);
        expect(await allowed(permission)).toBe(true);
        expect(permissions.map((p) => p.id)).toContain(covered);
        return;
      }
      await waitFor("the reduced RBAC in effect", async () => ((await allowed(permission)) ? undefined : true), 10_000, 50);
      const outcome = await runScenario(30_000);
      // Detected = the agent reported a K8S_FORBIDDEN, or the scenario did not complete.
      expect(outcome.forbidden.length > 0 || !outcome.completed, `${permission.id}: ${JSON.stringify(outcome)}`).toBe(true);
    } finally {
      for (const role of affected) await putRole(role);
      await waitFor("the full RBAC back", async () => ((await allowed(permission)) ? true : undefined), 10_000, 50);
    }
  }, 90_000);
});
