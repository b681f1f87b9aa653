/**
 * Reliability matrix, security: the shipped RBAC (apps/runtime-agent/deploy/base/rbac*.yaml) is the minimum the agent
 * needs. A control plane of its own gets the shipped RBAC; then, for every permission the files grant (one verb on
 * one resource, with its resourceNames, in one namespace or cluster-wide), that verb is removed from every rule that
 * grants it, and a focused scenario runs the agent (pairing, synchronization with creates, updates and deletes of
 * Applications and Secrets, renewal, the configuration from a ConfigMap, a repeated Event, leader election) against
 * that reduced RBAC, with the same time budget as the control. Each removal must show a K8S_FORBIDDEN for exactly
 * that request (verb, resource, group, namespace or cluster scope, as the API server names it) in what the agent
 * reports: its log, the CR's status or an Event. A run that only does not complete counts for nothing. With the full
 * RBAC the same scenario completes without a single K8S_FORBIDDEN anywhere, metrics included (the control case).
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
import { CA_SECRET, CLIENT_SECRET, CONFIG_SECRET, Scenario } from "../support/scenario.js";

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
 * client-certificate Role names its Secrets for list, watch and create, while the app-Secret Role (in the
 * integration namespace, kyma-system by default) may list, watch and create any Secret there. They stay so that the
 * Roles are still right when APP_INTEGRATION_NAMESPACE (and with it the app-Secret Role) moves to another namespace.
 */
const OVERLAPS: Record<string, string> = {
  "list secrets[compass-agent-configuration] in kyma-system": "list secrets in kyma-system",
  "list secrets[cluster-client-certificates] in kyma-system": "list secrets in kyma-system",
  "watch secrets[compass-agent-configuration] in kyma-system": "watch secrets in kyma-system",
  "watch secrets[cluster-client-certificates] in kyma-system": "watch secrets in kyma-system",
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

/**
 * The budget of every run of the scenario, the control and each reduced one alike. A hang guard only: a reduced run
 * that used it all up without the agent reporting a K8S_FORBIDDEN for the removed permission fails its case.
 */
const SCENARIO_BUDGET_MS = 60_000;
/** Room for setting up and tearing down a run around its budget. */
const CASE_TIMEOUT_MS = SCENARIO_BUDGET_MS + 60_000;

interface Outcome {
  completed: boolean;
  /** Every K8S_FORBIDDEN the agent reported: its log lines, the CR's status, the Events in default (shortened). */
  forbidden: string[];
  /** The same count in cra_kubernetes_requests_total (not a report that names the request; the control checks it). */
  forbiddenRequests: number;
  step: string;
}

const excerpt = (text: string) => (text.length > 1_500 ? `${text.slice(0, 1_500)}…` : text);

/**
 * Whether a K8S_FORBIDDEN report is about this permission. Requests carry the API server's reason (`cannot <verb>
 * resource "<resource>" in API group "<group>" in the namespace "<namespace>"`, or `at the cluster scope`). A watch
 * carries none (the client does not read the body of its refused request): the agent's report names the watch
 * (`watch <resource> in <namespace> (<selectors>)`), with the name its fieldSelector asks for.
 */
function reportsPermission(report: string, p: Permission): boolean {
  const text = report.replaceAll('\\"', '"'); // quotes inside JSON (log lines, the status)
  if (!text.includes("K8S_FORBIDDEN")) return false;
  const where = p.scope === "cluster" ? "at the cluster scope" : `in the namespace "${p.scope}"`;
  if (text.includes(`cannot ${p.verb} resource "${p.resource}" in API group "${p.group}" ${where}`)) return true;
  if (p.verb !== "watch") return false;
  const watch = new RegExp(`K8S_FORBIDDEN: watch ${p.resource}${p.scope === "cluster" ? "" : ` in ${p.scope}`}( \\(([^)]*)\\))?: `);
  const match = watch.exec(text);
  return match !== null && p.names.every((name) => (match[2] ?? "").split(",").some((selector) => selector.trim() === `metadata.name=${name}`));
}

/**
 * The focused scenario: pairing and the first synchronization (creates), changes in Compass (an update, a Secret
 * update, a Secret delete, an Application delete), a forced renewal (updates of both credential Secrets), the
 * configuration read from the ConfigMap of earlier Kyma releases while the config Secret is gone, a Director failure
 * and recovery (the second "Synchronized" Event is a patch of the first), with leader election. Stops early once
 * the agent reports a K8S_FORBIDDEN.
 */
async function runScenario(): Promise<Outcome> {
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
    const found = lines.filter((l) => l.includes("K8S_FORBIDDEN")).map((l) => `log: ${excerpt(l)}`);
    const cc = await scenario.connection();
    const status = JSON.stringify(cc?.status ?? {});
    if (status.includes("K8S_FORBIDDEN")) found.push(`status: ${excerpt(status)}`);
    for (const event of await scenario.kube.events("default")) {
      if (event.message.includes("K8S_FORBIDDEN")) found.push(`event ${event.reason}: ${excerpt(event.message)}`);
    }
    return found;
  };
  const forbiddenRequests = async (): Promise<number> =>
    agent ? metricSum(await agent.metrics.registry.metrics(), "cra_kubernetes_requests_total", { outcome: "K8S_FORBIDDEN" }) : 0;
  const outcome = async (completed: boolean): Promise<Outcome> => ({ completed, forbidden: await forbidden(), forbiddenRequests: await forbiddenRequests(), step });
  /** Waits for `probe`, but gives up at once when a K8S_FORBIDDEN shows or the budget is spent. */
  const until = async (what: string, probe: () => Promise<boolean>, timeoutMs = SCENARIO_BUDGET_MS): Promise<boolean> => {
    step = what;
    const deadline = Math.min(started + SCENARIO_BUDGET_MS, Date.now() + timeoutMs);
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
      return await outcome(false);
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
    if (!changed) return await outcome(false);

    const before = await scenario.clientCertificateFingerprint();
    await scenario.patchSpec({ refreshCredentialsNow: true });
    const renewed = await until("forced renewal", async () => {
      const read = await scenario.store.secrets.readCredentials({ clientCertificate: CLIENT_SECRET, caCertificate: CA_SECRET });
      return read.state === "complete" && read.fingerprint !== before && (await scenario.connection())?.spec.refreshCredentialsNow === false;
    });
    if (!renewed) return await outcome(false);

    // The configuration in the ConfigMap of earlier Kyma releases: read (get) when the Secret does not exist.
    const configuration = await scenario.store.secrets.get(CONFIG_SECRET.namespace, CONFIG_SECRET.name);
    await scenario.kube.ok("POST", `/api/v1/namespaces/${CONFIG_SECRET.namespace}/configmaps`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: CONFIG_SECRET.name },
      data: configuration.data,
    });
    await scenario.store.secrets.delete(CONFIG_SECRET.namespace, CONFIG_SECRET.name);
    const fromConfigMap = await until(
      "the configuration read from the ConfigMap",
      async () => (await state()) === "Synchronized" && (await scenario.kube.events("default")).some((e) => e.reason === "ConfigurationInConfigMap"),
    );
    if (!fromConfigMap) return await outcome(false);
    await scenario.store.secrets.upsertSecretKeys(CONFIG_SECRET.namespace, CONFIG_SECRET.name, configuration.data);
    await scenario.kube.ok("DELETE", `/api/v1/namespaces/${CONFIG_SECRET.namespace}/configmaps/${CONFIG_SECRET.name}`);

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
    if (!repeated) return await outcome(false);
    // A moment for the lease renewals and watches to show anything left.
    await sleep(1_000);
    step = "done";
    return await outcome(true);
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
    const outcome = await runScenario();
    expect(outcome).toMatchObject({ completed: true, forbidden: [], forbiddenRequests: 0 });
  }, CASE_TIMEOUT_MS);

  test.each(permissions.map((p) => [p.id, p] as const))("without %s the agent reports K8S_FORBIDDEN for it", async (_id, permission) => {
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
      // The same scenario with the same budget as the control. Needed = the agent said so: a K8S_FORBIDDEN for this
      // very request in its log, the CR's status or an Event. A run that merely did not complete proves nothing.
      const outcome = await runScenario();
      const named = outcome.forbidden.filter((report) => reportsPermission(report, permission));
      expect(named.length, `${permission.id}: ${JSON.stringify(outcome, null, 1)}`).toBeGreaterThan(0);
    } finally {
      for (const role of affected) await putRole(role);
      await waitFor("the full RBAC back", async () => ((await allowed(permission)) ? true : undefined), 10_000, 50);
    }
  }, CASE_TIMEOUT_MS);
});
