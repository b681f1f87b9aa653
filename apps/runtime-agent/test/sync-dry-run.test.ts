// `runtime-agent sync --dry-run` as a user runs it: paired through `runtime-agent pair`, then against the Compass
// simulator's Director over mTLS. Applications are created through the simulator's admin API.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentialsSecretName, requestParametersSecretName } from "@runtime-agent/app-sync";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseAllDocuments } from "yaml";
import { SimAdmin } from "./support/admin.js";
import { runCli } from "./support/cli.js";

let sim: Awaited<ReturnType<typeof startCompassSimulator>>;
let admin: SimAdmin;
let work: string;
let certDir: string;
let runtimeId: string;
let tenant: string;

const FORMATION = "DRY-RUN";
const KEY = ["--key-size", "2048"];
const id = (prefix: string, n: number) => `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

/** Every credential value below: none of them may be printed. */
const SECRETS = {
  oauthClientId: "dry-run-client-7f3a",
  oauthSecret: "s3cr3t-oauth-9b21d",
  basicUser: "svc-user-41c8",
  basicPassword: "p4ss-basic-e07f",
  csrfPassword: "csrf-p4ss-5d2c",
  header: "header-value-0c9e",
  query: "query-value-66ab",
};

const applications = [
  {
    id: id("a0000000", 1),
    name: "Orders App",
    providerName: "SAP",
    description: "OAuth with CSRF and request parameters",
    bundles: [
      {
        id: id("b0000000", 1),
        name: "orders",
        // Two APIs: their entries share one credentials object, which YAML must not print as an anchor and an alias.
        apiDefinitions: [
          { id: id("c0000000", 1), name: "orders-api", targetURL: "https://orders.example.com/api" },
          { id: id("c0000000", 3), name: "orders-api-v2", targetURL: "https://orders.example.com/api/v2" },
        ],
        eventDefinitions: [{ id: id("d0000000", 1), name: "order.created", version: "v1" }],
        defaultInstanceAuth: {
          credential: { clientId: SECRETS.oauthClientId, clientSecret: SECRETS.oauthSecret, url: "https://orders.example.com/oauth/token" },
          additionalHeaders: { "X-Custom": [SECRETS.header] },
          additionalQueryParams: { client: [SECRETS.query] },
          requestAuth: { csrf: { tokenEndpointURL: "https://orders.example.com/csrf" } },
        },
      },
    ],
  },
  {
    id: id("a0000000", 2),
    name: "Billing",
    systemNumber: "42",
    bundles: [
      {
        id: id("b0000000", 2),
        name: "billing",
        apiDefinitions: [{ id: id("c0000000", 2), name: "billing-api", targetURL: "https://billing.example.com/api" }],
        defaultInstanceAuth: {
          credential: { username: SECRETS.basicUser, password: SECRETS.basicPassword },
          requestAuth: { csrf: { tokenEndpointURL: "https://billing.example.com/csrf", credential: { username: "csrf-user", password: SECRETS.csrfPassword } } },
        },
      },
    ],
  },
  { id: id("a0000000", 3), name: "Plain Events", bundles: [{ id: id("b0000000", 3), name: "events", eventDefinitions: [{ name: "thing.happened" }] }] },
  // Two names that normalize to the same Kubernetes name: both are conflicts, the others still sync.
  { id: id("a0000000", 4), name: "Dup App" },
  { id: id("a0000000", 5), name: "dup_app" },
];

beforeAll(async () => {
  sim = await startCompassSimulator({});
  admin = new SimAdmin(sim.adminUrl);
  work = await mkdtemp(join(tmpdir(), "ra-sync-"));
  const runtime = await admin.call<{ id: string; tenant: string }>("POST", "/admin/runtimes", { name: "dry-run", formations: [FORMATION] });
  runtimeId = runtime.id;
  tenant = runtime.tenant;
  for (const app of applications) await admin.call("POST", "/admin/applications", { ...app, formations: [FORMATION] });
  // Not assigned to the runtime's formation: must not show up.
  await admin.call("POST", "/admin/applications", { name: "Elsewhere", formations: ["OTHER"] });
  const { token, connectorURL } = await admin.issueToken(runtimeId);
  certDir = join(work, "certs");
  const paired = await runCli(["pair", "--connector-url", connectorURL, "--token", token, "--out", certDir, "--ca-file", sim.serverCaFile, ...KEY]);
  if (paired.code !== 0) throw new Error(`pairing failed: ${paired.stderr}`);
});

afterAll(async () => {
  await sim?.close();
  await rm(work, { recursive: true, force: true });
});

const sync = (...extra: string[]) =>
  runCli(["sync", "--dry-run", "--cert-dir", certDir, "--runtime-id", runtimeId, "--ca-file", sim.serverCaFile, ...extra]);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function expectNothingSecret(...outputs: string[]): void {
  for (const output of outputs) {
    for (const value of Object.values(SECRETS)) {
      expect(output).not.toContain(value);
      expect(output).not.toContain(Buffer.from(value).toString("base64"));
    }
  }
}

function checkObjects(objects: K8sObject[]): void {
  const apps = objects.filter((o) => o.kind === "Application");
  const secrets = objects.filter((o) => o.kind === "Secret");
  expect(apps.map((a) => a.metadata.name).sort()).toEqual(["mp-billing-42", "mp-orders-app", "mp-plain-events"]);
  expect(apps.every((a) => a.apiVersion === "applicationconnector.kyma-project.io/v1alpha1")).toBe(true);
  const orders = apps.find((a) => a.metadata.name === "mp-orders-app")!;
  expect(JSON.stringify(orders.spec)).toContain("orders-api");
  expect(secrets.map((s) => s.metadata.name).sort()).toEqual(
    [
      credentialsSecretName("mp-orders-app", id("b0000000", 1)),
      requestParametersSecretName("mp-orders-app", id("b0000000", 1)),
      credentialsSecretName("mp-billing-42", id("b0000000", 2)),
    ].sort(),
  );
  const data = Object.fromEntries(secrets.map((s) => [s.metadata.name, s.data]));
  expect(data[credentialsSecretName("mp-orders-app", id("b0000000", 1))]).toEqual({ clientId: "<redacted>", clientSecret: "<redacted>" });
  expect(data[requestParametersSecretName("mp-orders-app", id("b0000000", 1))]).toEqual({ headers: "<redacted>", queryParameters: "<redacted>" });
  expect(data[credentialsSecretName("mp-billing-42", id("b0000000", 2))]).toEqual({ username: "<redacted>", password: "<redacted>" });
}

describe("runtime-agent sync --dry-run", () => {
  test("YAML (default): multi-document Application CRs and redacted Secrets; summary last on stderr", async () => {
    const result = await sync();
    expect(result.code).toBe(0);
    const documents = parseAllDocuments(result.stdout);
    expect(documents.length).toBeGreaterThan(0);
    expect(result.stdout).not.toMatch(/[&*]a\d+\b/); // plain YAML for kubectl, no anchors or aliases
    const objects = documents.map((doc) => {
      expect(doc.errors).toEqual([]);
      return doc.toJSON() as K8sObject;
    });
    checkObjects(objects);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines.at(-1)).toBe("applications=3 conflicts=2");
    expect(result.stderr).toContain(`conflict: application ${id("a0000000", 4)} (mp-dup-app)`);
    expect(result.stderr).toContain(`conflict: application ${id("a0000000", 5)} (mp-dup-app)`);
    expectNothingSecret(result.stdout, result.stderr);
  });

  test("--output json with --tenant: a v1 List with the same objects", async () => {
    const result = await sync("--output", "json", "--tenant", tenant);
    expect(result.code).toBe(0);
    const list = JSON.parse(result.stdout) as { apiVersion: string; kind: string; items: K8sObject[] };
    expect(list).toMatchObject({ apiVersion: "v1", kind: "List" });
    checkObjects(list.items);
    expect(result.stderr.trimEnd().split("\n").at(-1)).toBe("applications=3 conflicts=2");
    expectNothingSecret(result.stdout, result.stderr);
  });

  test("a Tenant Compass does not know: refused (exit 3), the message names the Tenant header", async () => {
    const result = await sync("--tenant", "11111111-2222-3333-4444-555555555555");
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("DIRECTOR_AUTH_FAILED");
    expect(result.stderr).toContain("11111111-2222-3333-4444-555555555555");
    expect(result.stdout).toBe("");
  });

  test("a Tenant the runtime does not belong to: refused (exit 3)", async () => {
    const other = await admin.call<{ externalId: string }>("POST", "/admin/tenants", { name: "other" });
    const result = await sync("--tenant", other.externalId);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("DIRECTOR_TENANT_NOT_FOUND");
    expect(result.stdout).toBe("");
  });

  test("an unreachable Director: exit 4", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const result = await sync("--director-url", `https://127.0.0.1:${port}/director/graphql`);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("DIRECTOR_UNAVAILABLE");
    expect(result.stdout).toBe("");
  });

  test("a revoked certificate: refused (exit 3), nothing printed on stdout", async () => {
    const connection = JSON.parse(await readFile(join(certDir, "connection.json"), "utf8")) as { fingerprint: string };
    await admin.revoke(connection.fingerprint);
    const result = await sync();
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("DIRECTOR_AUTH_FAILED");
    expect(result.stdout).toBe("");
    expectNothingSecret(result.stderr);
  });
});
