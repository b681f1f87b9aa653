// Part of pnpm check:upstream: the project's CRDs against Kyma's, and the objects the agent writes against Kyma's
// CRDs in a real kube-apiserver (kube-testenv).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { buildDesiredState, stableStringify } from "../packages/app-sync/src/index.js";
import type { DirectorApplication } from "../packages/director-client/src/index.js";
import { createK8sStore } from "../packages/k8s-store/src/index.js";
import { startControlPlane } from "../packages/kube-testenv/src/index.js";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export const CRD_PAIRS = [
  { ours: "schemas/crds/compassconnections.compass.kyma-project.io.yaml", upstream: "kyma-compassconnection.crd.yaml" },
  { ours: "schemas/crds/applications.applicationconnector.kyma-project.io.yaml", upstream: "kyma-application.crd.yaml" },
];

/**
 * Kyma's published CRDs continue quoted descriptions at the key's own indentation, which Go's YAML reader accepts
 * and a strict YAML 1.2 parser does not. Descriptions are not compared, so they are dropped before parsing.
 */
export function withoutQuotedDescriptions(text: string): string {
  const out: string[] = [];
  let open = false;
  for (const line of text.split("\n")) {
    if (open) {
      if (/(^|[^'])'(''|[^'])*$/.test(line) && line.trimEnd().endsWith("'")) open = false;
      continue;
    }
    const match = /^\s*description: '(.*)$/.exec(line);
    if (match) {
      const rest = (match[1] ?? "").replace(/''/g, "");
      if (!rest.includes("'")) open = true;
      continue;
    }
    out.push(line);
  }
  return out.join("\n");
}

const readCrd = (path: string): string => withoutQuotedDescriptions(readFileSync(path, "utf8"));

/** Fields the project adds on purpose (compatible: Kyma's API server prunes them, nothing reads them back). */
const ALLOWED_ADDITIONS = new Set(["status.conditions"]);

/** Everything Kyma's CRD declares must be in ours with the same value; ours may only add ALLOWED_ADDITIONS. */
export function compareCrds(ours: Json, theirs: Json, file: string): string[] {
  const problems: string[] = [];
  const spec = (crd: Json) => crd["spec"] as Json;
  for (const key of ["group", "scope"]) {
    if (spec(ours)[key] !== spec(theirs)[key]) problems.push(`${file}: spec.${key} is ${String(spec(ours)[key])}, Kyma has ${String(spec(theirs)[key])}`);
  }
  const names = (crd: Json) => spec(crd)["names"] as Json;
  for (const key of ["kind", "plural", "singular", "shortNames", "listKind"]) {
    const theirValue = names(theirs)[key];
    if (theirValue === undefined || theirValue === "") continue;
    if (JSON.stringify(names(ours)[key]) !== JSON.stringify(theirValue)) {
      problems.push(`${file}: names.${key} is ${JSON.stringify(names(ours)[key])}, Kyma has ${JSON.stringify(theirValue)}`);
    }
  }
  const versions = (crd: Json) => spec(crd)["versions"] as Json[];
  for (const theirVersion of versions(theirs)) {
    const ourVersion = versions(ours).find((v) => v["name"] === theirVersion["name"]);
    if (!ourVersion) {
      problems.push(`${file}: version ${String(theirVersion["name"])} is missing`);
      continue;
    }
    for (const key of ["served", "storage"]) {
      if (ourVersion[key] !== theirVersion[key]) problems.push(`${file}: ${String(theirVersion["name"])}.${key} differs`);
    }
    if (isObject(ourVersion["subresources"]) && !isObject(theirVersion["subresources"])) {
      problems.push(`${file}: declares subresources that Kyma's CRD does not have`);
    }
    const schemaOf = (v: Json) => ((v["schema"] as Json)["openAPIV3Schema"] as Json);
    compareSchema(schemaOf(ourVersion), schemaOf(theirVersion), "", file, problems);
  }
  return problems;
}

const COMPARED = ["type", "pattern", "maxLength", "minLength", "enum", "default", "nullable", "format", "x-kubernetes-preserve-unknown-fields"];

function compareSchema(ours: Json, theirs: Json, path: string, file: string, problems: string[]): void {
  const at = path || "(root)";
  for (const key of COMPARED) {
    if (JSON.stringify(ours[key]) !== JSON.stringify(theirs[key])) {
      problems.push(`${file}: ${at}.${key} is ${JSON.stringify(ours[key])}, Kyma has ${JSON.stringify(theirs[key])}`);
    }
  }
  const required = (s: Json) => [...((s["required"] as string[] | undefined) ?? [])].sort();
  if (JSON.stringify(required(ours)) !== JSON.stringify(required(theirs))) {
    problems.push(`${file}: ${at}.required is ${JSON.stringify(required(ours))}, Kyma has ${JSON.stringify(required(theirs))}`);
  }
  const ourProps = (ours["properties"] as Json | undefined) ?? {};
  const theirProps = (theirs["properties"] as Json | undefined) ?? {};
  for (const [name, theirChild] of Object.entries(theirProps)) {
    const ourChild = ourProps[name];
    const childPath = path ? `${path}.${name}` : name;
    if (!isObject(ourChild)) problems.push(`${file}: ${childPath} is missing`);
    else compareSchema(ourChild, theirChild as Json, childPath, file, problems);
  }
  for (const name of Object.keys(ourProps)) {
    const childPath = path ? `${path}.${name}` : name;
    if (!(name in theirProps) && !ALLOWED_ADDITIONS.has(childPath)) problems.push(`${file}: ${childPath} is not in Kyma's CRD`);
  }
  for (const key of ["items", "additionalProperties"]) {
    if (isObject(theirs[key])) {
      if (!isObject(ours[key])) problems.push(`${file}: ${at}.${key} is missing`);
      else compareSchema(ours[key] as Json, theirs[key] as Json, `${path}[${key}]`, file, problems);
    }
  }
}

/** A sample of what the agent writes: every credential kind, CSRF, request parameters, events, no bundles. */
function sampleApplications(): DirectorApplication[] {
  const api = (id: string, name: string) => ({ id, name, description: null, targetUrl: `https://example.com/${name}`, group: null, version: null });
  return [
    {
      id: "2e0a6929-e892-493f-8542-59d5214db802",
      name: "Commerce Mock",
      systemNumber: null,
      providerName: "SAP",
      description: "Commerce",
      labels: {},
      systemAuthIds: ["87498042-f6ec-417b-9a76-d87d77e2a5e8"],
      bundles: [
        {
          id: "d6ec462d-8311-4571-8fd5-cb72d61a1c18",
          name: "orders",
          description: null,
          instanceAuthRequestInputSchema: '{"type":"object"}',
          apiDefinitions: [api("b401954c-9f09-47f1-8675-c36b668653e8", "orders-api")],
          eventDefinitions: [{ id: "6b8d4cd1-1c93-4d5e-8ed0-da0a0cd6333e", name: "order.created", description: null, group: null, version: null }],
          defaultInstanceAuth: {
            credential: { type: "OAuth", clientId: "c", clientSecret: "s", url: "https://example.com/token" },
            additionalHeaders: { "X-Tenant": ["t1"] },
            additionalQueryParams: { client: ["100"] },
            csrf: { tokenEndpointUrl: "https://example.com/csrf", credential: null, additionalHeaders: null, additionalQueryParams: null },
          },
        },
        {
          id: "9f1c3f0e-4b8a-4a5e-9d3a-1c2b3d4e5f60",
          name: "basic",
          description: "Basic",
          instanceAuthRequestInputSchema: null,
          apiDefinitions: [api("1b2c3d4e-0000-4000-8000-000000000001", "partners")],
          eventDefinitions: [],
          defaultInstanceAuth: { credential: { type: "Basic", username: "u", password: "p" }, additionalHeaders: null, additionalQueryParams: null, csrf: null },
        },
      ],
    },
    { id: "0f6abfdb-4d01-464c-aeb2-4cf7e6e587b1", name: "empty", systemNumber: "42", providerName: null, description: null, labels: {}, systemAuthIds: [], bundles: [] },
  ] as unknown as DirectorApplication[];
}

/** Installs Kyma's CRDs in kube-testenv and creates what the agent writes: every object must be accepted. */
export async function checkObjectsAgainstKymaCrds(upstreamDir: string): Promise<string[]> {
  const problems: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "kyma-crds-"));
  for (const pair of CRD_PAIRS) writeFileSync(join(dir, pair.upstream), readCrd(join(upstreamDir, pair.upstream)));
  mkdirSync(join(dir, "no-rbac"));
  const cp = await startControlPlane({ crds: [join(dir, CRD_PAIRS[0]!.upstream), join(dir, CRD_PAIRS[1]!.upstream)], rbacDir: join(dir, "no-rbac") });
  const store = createK8sStore({ kubeconfigPath: cp.kubeconfigPath });
  try {
    const desired = buildDesiredState(sampleApplications(), { isNormalized: "false" }, {
      centralGatewayUrl: "http://central-application-gateway.kyma-system.svc.cluster.local:8082",
      skipAppsTlsVerify: false,
      integrationNamespace: "kyma-system",
    });
    for (const app of desired.applications) {
      try {
        const created = await store.applications.create(app);
        if (stableStringify(created.spec) !== stableStringify(app.spec)) {
          problems.push(
            `Application ${app.metadata.name}: Kyma's CRD changed the spec the agent wrote (pruned or defaulted fields): ` +
              `wrote ${stableStringify(app.spec)}, read back ${stableStringify(created.spec)}`,
          );
        }
      } catch (error) {
        problems.push(`Application ${app.metadata.name} refused by Kyma's CRD: ${(error as Error).message}`);
      }
    }
    const stamp = "2026-01-01T00:00:00Z";
    try {
      await store.compassConnections.create({
        spec: { managementInfo: { connectorUrl: "https://compass/connector/graphql", directorUrl: "https://compass/director/graphql" } },
        status: {
          connectionState: "Synchronized",
          connectionStatus: { established: stamp, lastSync: stamp, lastSuccess: stamp, renewed: stamp, certificateStatus: { acquired: stamp, notBefore: stamp, notAfter: stamp } },
          synchronizationStatus: { lastAttempt: stamp, lastSuccessfulFetch: stamp, lastSuccessfulApplication: stamp },
          conditions: [{ type: "Synchronized", status: "True", lastTransitionTime: stamp, reason: "Synchronized", message: "ok" }],
        },
      });
    } catch (error) {
      problems.push(`CompassConnection refused by Kyma's CRD: ${(error as Error).message}`);
    }
  } finally {
    await store.close();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}

export function checkCrdFiles(root: string, upstreamDir: string): string[] {
  return CRD_PAIRS.flatMap((pair) =>
    compareCrds(parse(readFileSync(join(root, pair.ours), "utf8")) as Json, parse(readCrd(join(upstreamDir, pair.upstream))) as Json, pair.ours),
  );
}
