// pnpm demo [--once] — the agent end to end on this machine: a real kube-apiserver (kube-testenv, or your cluster
// with USE_EXISTING_CLUSTER=true and KUBECONFIG), the Compass simulator with a realistic sample, and the agent
// process on its own ServiceAccount's RBAC. It shows pairing, the synchronized applications, the reported labels,
// then changes an application in Compass and shows the change arriving. --once exits 0 after that; otherwise it
// keeps running until Ctrl-C and cleans up.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane } from "@runtime-agent/kube-testenv";
import { startAgentProcess, waitFor } from "../test/support/agent-process.js";
import type { AgentProcess } from "../test/support/agent-process.js";
import { Scenario } from "../test/support/scenario.js";

const once = process.argv.includes("--once");
const started = Date.now();
const say = (text: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}\n`);

const SAMPLE = [
  {
    name: "SAP Commerce Cloud",
    description: "Commerce storefront: orders and customers",
    providerName: "SAP",
    bundles: [
      {
        name: "Orders",
        description: "Orders API and events",
        apiDefinitions: [{ name: "orders-api", targetURL: "https://commerce.example.com/orders", group: "v1" }],
        eventDefinitions: [{ name: "order.created", group: "v1" }, { name: "order.shipped", group: "v1" }],
        defaultInstanceAuth: {
          credential: { clientId: "commerce-client", clientSecret: "demo-oauth-secret", url: "https://commerce.example.com/oauth/token" },
          requestAuth: { csrf: { tokenEndpointURL: "https://commerce.example.com/csrf" } },
        },
      },
    ],
  },
  {
    name: "S/4HANA Cloud",
    systemNumber: "0123456789",
    description: "ERP: business partners",
    providerName: "SAP",
    bundles: [
      {
        name: "Business Partner",
        apiDefinitions: [{ name: "API_BUSINESS_PARTNER", targetURL: "https://s4.example.com/sap/opu/odata/sap/API_BUSINESS_PARTNER" }],
        defaultInstanceAuth: {
          credential: { username: "svc-demo", password: "demo-basic-password" },
          additionalHeaders: { "sap-client": ["100"] },
        },
      },
    ],
  },
  { name: "marketing", description: "Marketing automation (no credentials)", bundles: [{ name: "campaigns", eventDefinitions: [{ name: "campaign.started" }] }] },
];

const work = await mkdtemp(join(tmpdir(), "runtime-agent-demo-"));
say("Starting a real kube-apiserver and etcd (kube-testenv; the first run builds them from Go modules)...");
const controlPlane = await startControlPlane({
  crds: [fileURLToPath(new URL("../../../schemas/crds", import.meta.url))],
  rbacDir: fileURLToPath(new URL("../deploy", import.meta.url)),
});
let scenario: Scenario | undefined;
let agent: AgentProcess | undefined;
let stopping = false;
const cleanUp = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say("Cleaning up: agent, simulator, control plane.");
  const stopped = await agent?.stop("SIGTERM");
  if (stopped) say(`Agent stopped (exit code ${stopped.code}) in ${stopped.ms} ms.`);
  await scenario?.close().catch(() => undefined);
  await controlPlane.stop();
  await rm(work, { recursive: true, force: true });
  process.exit(code);
};
process.once("SIGINT", () => void cleanUp(0));
process.once("SIGTERM", () => void cleanUp(0));

try {
  say(`Kubernetes API server ready: ${controlPlane.server}`);
  scenario = await Scenario.start(controlPlane.kubeconfigPath);
  say(`Compass simulator ready: Connector ${scenario.sim.connectorUrl}, Director ${scenario.sim.directorUrl}`);
  const ids: string[] = [];
  for (const app of SAMPLE) ids.push(await scenario.addApplication(app));
  say(`Runtime ${scenario.runtimeId} registered in tenant ${scenario.tenant}; ${SAMPLE.length} applications assigned to it.`);
  say("Config Secret kyma-system/compass-agent-configuration written with CONNECTOR_URL, a one-time TOKEN, RUNTIME_ID and TENANT.");

  agent = await startAgentProcess({ kubeconfig: controlPlane.agentKubeconfigPath, env: scenario.agentEnv({ APP_CONTROLLER_SYNC_PERIOD: "5s", APP_LOG_LEVEL: "info" }) });
  say(`Agent started (pid ${agent.child.pid}) with the ServiceAccount's RBAC; health on :${agent.healthPort}, metrics on :${agent.metricsPort}.`);

  const connected = await waitFor("pairing", async () => {
    const cc = await scenario?.connection();
    return cc?.status?.connectionStatus?.established ? cc : undefined;
  }, 120_000);
  const certificate = connected.status?.connectionStatus?.certificateStatus;
  const credentials = await scenario.store.secrets.readCredentials({
    clientCertificate: { namespace: "kyma-system", name: "cluster-client-certificates" },
    caCertificate: { namespace: "istio-system", name: "ca-certificates" },
  });
  say(`✓ Paired with Compass. Certificate valid ${certificate?.notBefore} → ${certificate?.notAfter}${credentials.state === "complete" ? ", stored in kyma-system/cluster-client-certificates" : ""}.`);
  const subject = (await scenario.admin.state()).issuedCertificates.at(-1)?.commonName;
  if (subject) say(`  certificate CN ${subject} (the runtime's SystemAuth in Compass)`);

  await scenario.waitForState("Synchronized", 120_000);
  const apps = await scenario.managedApplications();
  say(`✓ ${apps.length} applications synchronized: ${apps.map((a) => a.name).join(", ")}`);
  const secrets = await scenario.store.secrets.list("kyma-system", { labelSelector: "app" });
  say(`  with ${secrets.length} credential/request-parameter Secrets: ${secrets.map((s) => s.metadata.name).join(", ")}`);

  const labels = await waitFor("runtime labels", async () => {
    const state = await scenario!.admin.call<{ runtimes: { id: string; labels: Record<string, unknown> }[] }>("GET", "/admin/state");
    const l = state.runtimes.find((r) => r.id === scenario!.runtimeId)?.labels;
    return l?.["runtime_eventServiceUrl"] ? l : undefined;
  });
  say(`✓ Labels reported to Compass: runtime_eventServiceUrl=${String(labels["runtime_eventServiceUrl"])}, runtime_consoleUrl=${String(labels["runtime_consoleUrl"])}`);

  say('Changing "marketing" in Compass: new description "Marketing automation, now with events"...');
  await scenario.admin.call("PATCH", `/admin/applications/${ids[2]}`, { description: "Marketing automation, now with events" });
  const changed = await waitFor("the change", async () => {
    const app = (await scenario!.managedApplications()).find((a) => a.name === "mp-marketing");
    return app?.spec["description"] === "Marketing automation, now with events" ? app : undefined;
  }, 60_000);
  say(`✓ The change arrived: Application ${changed.name} now says "${String(changed.spec["description"])}".`);

  if (once) {
    await cleanUp(0);
  } else {
    say("The agent keeps running (sync every 5 s). Try: kubectl --kubeconfig " + controlPlane.kubeconfigPath + " get compassconnections,applications");
    say("Press Ctrl-C to stop and clean up.");
  }
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  if (agent) process.stderr.write(`--- agent output ---\n${agent.output().slice(-4000)}\n`);
  await cleanUp(1);
}
