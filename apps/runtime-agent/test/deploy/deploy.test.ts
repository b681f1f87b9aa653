/**
 * The deploy manifests: rendered with `kubectl kustomize` (base and the Kyma overlay) and sent to a real
 * kube-apiserver (kube-testenv, admin kubeconfig) with `kubectl apply --dry-run=server`, so every object passes the
 * API server's validation and admission. The pod template is also checked by the PodSecurity admission plugin at
 * level "restricted". The RBAC is tied to the code: the Secret, Lease and namespace names in the Roles are the
 * agent's defaults (base) or the overlay's environment (Kyma). Only kubectl talks to the cluster here
 * (@kubernetes/client-node is reserved to packages/k8s-store).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { parseAllDocuments } from "yaml";
import { readManifests, RBAC_KINDS } from "@runtime-agent/kube-testenv";
import { SETTINGS } from "../../src/config/schema.js";
import { run } from "../support/run.js";

const appDir = fileURLToPath(new URL("../..", import.meta.url));
const deployDir = join(appDir, "deploy");
const repoRoot = join(appDir, "..", "..");

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
};
type Rule = { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] };
type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };
type Probe = { httpGet: { path: string; port: string | number }; periodSeconds?: number };
type Container = {
  name: string;
  image: string;
  args?: string[];
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: Probe;
  readinessProbe: Probe;
  startupProbe?: Probe;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string }[];
};
type PodSpec = {
  serviceAccountName: string;
  priorityClassName?: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; emptyDir?: Record<string, unknown> }[];
};
type Deployment = Obj & {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
  };
};

/** Kyma's Deployment environment as application-connector-manager ships it (upstream-agent §1.1 "Shipped manifest value"). */
const KYMA_ENV: Record<string, string> = {
  APP_AGENT_CONFIGURATION_SECRET: "kyma-system/compass-agent-configuration",
  APP_CONTROLLER_SYNC_PERIOD: "180s",
  APP_MINIMAL_COMPASS_SYNC_TIME: "15s",
  APP_CERT_VALIDITY_RENEWAL_THRESHOLD: "0.3",
  APP_CLUSTER_CERTIFICATES_SECRET: "kyma-system/cluster-client-certificates",
  APP_CA_CERTIFICATES_SECRET: "istio-system/kyma-gateway-certs-cacert",
  APP_SKIP_COMPASS_TLS_VERIFY: "true",
  APP_SKIP_APPS_TLS_VERIFY: "false",
  APP_GATEWAY_PORT: "8080",
  APP_UPLOAD_SERVICE_URL: "",
  APP_QUERY_LOGGING: "false",
  APP_METRICS_LOGGING_TIME_INTERVAL: "30m",
  APP_RUNTIME_EVENTS_URL: "https://gateway.kyma.example.com",
  APP_RUNTIME_CONSOLE_URL: "https://console.kyma.example.com",
  APP_HEALTH_PORT: "8090",
  APP_CENTRAL_GATEWAY_SERVICE_URL: "http://central-application-gateway.kyma-system.svc.cluster.local:8082",
};

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await run("kubectl", ["--kubeconfig", inject("adminKubeconfig"), ...args], { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

async function render(dir: string): Promise<{ text: string; objects: Obj[] }> {
  const r = await run("kubectl", ["kustomize", join(deployDir, dir)]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir} exited ${r.code}:\n${r.stderr}`);
  return {
    text: r.stdout,
    objects: parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Obj)
      .filter((o) => o !== null),
  };
}

function find<T extends Obj = Obj>(objects: Obj[], kind: string, name: string, namespace?: string): T {
  const o = objects.find(
    (x) =>
      x.kind === kind &&
      x.metadata.name === name &&
      (namespace === undefined || x.metadata.namespace === namespace),
  );
  if (!o) throw new Error(`${kind} ${namespace ?? ""}/${name} not rendered`);
  return o as T;
}

const envOf = (c: Container): Record<string, string | undefined> =>
  Object.fromEntries(c.env.map((e) => [e.name, e.value]));
const split = (ref: string): { namespace: string; name: string } => {
  const [namespace, name] = ref.split("/") as [string, string];
  return { namespace, name };
};
const rulesFor = (objects: Obj[], namespace: string, resource: string): Rule[] =>
  objects
    .filter((o) => o.kind === "Role" && o.metadata.namespace === namespace)
    .flatMap((o) => (o as Obj & { rules: Rule[] }).rules)
    .filter((r) => r.resources.includes(resource));
/** The verbs the Roles of `namespace` grant on one named object of `resource` (rules without resourceNames count). */
const verbsOn = (objects: Obj[], namespace: string, resource: string, name: string): string[] =>
  [
    ...new Set(
      rulesFor(objects, namespace, resource)
        .filter((r) => !r.resourceNames || r.resourceNames.includes(name))
        .flatMap((r) => r.verbs),
    ),
  ].sort();

let base: { text: string; objects: Obj[] };
let kyma: { text: string; objects: Obj[] };

beforeAll(async () => {
  [base, kyma] = await Promise.all([render("base"), render("overlays/kyma")]);
});

describe("the CRDs in deploy/base/crds", () => {
  test("are schemas/crds byte for byte after the generated-file header (pnpm --filter @runtime-agent/runtime-agent deploy:crds)", async () => {
    const source = join(repoRoot, "schemas", "crds");
    const target = join(deployDir, "base", "crds");
    const yamlFiles = async (dir: string) => (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
    expect(await yamlFiles(target)).toEqual(await yamlFiles(source));
    for (const file of await yamlFiles(source)) {
      const copy = await readFile(join(target, file), "utf8");
      const lines = copy.split("\n");
      expect(lines[0]).toContain(`GENERATED from schemas/crds/${file}`);
      expect(lines.slice(2).join("\n"), `deploy/base/crds/${file} drifted from schemas/crds/${file}`).toBe(
        await readFile(join(source, file), "utf8"),
      );
    }
    const check = await run(process.execPath, [join(appDir, "build", "sync-crds.mjs"), "--check"]);
    expect(check).toMatchObject({ code: 0, stderr: "" });
  });

  test("are rendered by the base and the overlay", () => {
    for (const { objects } of [base, kyma]) {
      expect(
        objects
          .filter((o) => o.kind === "CustomResourceDefinition")
          .map((o) => o.metadata.name)
          .sort(),
      ).toEqual([
        "applications.applicationconnector.kyma-project.io",
        "compassconnections.compass.kyma-project.io",
      ]);
    }
  });
});

describe("RBAC objects under deploy/", () => {
  test("live only in deploy/base/rbac.yaml and the legacy-namespace component (kube-testenv applies every one it finds), in kyma-system, istio-system or default — compass-system only for the component", async () => {
    // What kube-testenv applies from the agent's deploy folder, read by its own reader.
    const found = (await readManifests([deployDir], { kinds: RBAC_KINDS })).map(({ file, object }) => ({
      file: relative(deployDir, file),
      namespace: object.metadata.namespace,
    }));
    expect(found.length).toBeGreaterThan(0);
    expect([...new Set(found.map((f) => f.file))].sort()).toEqual(["base/rbac.yaml", "components/legacy-namespace/rbac.yaml"]);
    for (const f of found)
      if (f.namespace !== undefined)
        expect(f.file === "base/rbac.yaml" ? ["kyma-system", "istio-system", "default"] : ["compass-system"]).toContain(f.namespace);
  });

  test("the legacy-namespace component renders with the base: get on the named credential Secrets in compass-system, nothing else", async () => {
    const dir = await mkdtemp(join(tmpdir(), "legacy-component-"));
    try {
      await writeFile(
        join(dir, "kustomization.yaml"),
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${relative(dir, join(deployDir, "base"))}\ncomponents:\n  - ${relative(dir, join(deployDir, "components/legacy-namespace"))}\n`,
      );
      const r = await run("kubectl", ["kustomize", dir]);
      expect(r.code, r.stderr).toBe(0);
      const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
      expect(objects.length).toBe(base.objects.length + 2);
      expect(verbsOn(objects, "compass-system", "secrets", "cluster-client-certificates")).toEqual(["get"]);
      expect(verbsOn(objects, "compass-system", "secrets", "ca-certificates")).toEqual(["get"]);
      expect(verbsOn(objects, "compass-system", "secrets", "another-secret")).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("bind only the agent's ServiceAccount", () => {
    for (const { objects } of [base, kyma]) {
      for (const b of objects.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")) {
        const { subjects, roleRef } = b as Obj & {
          subjects: unknown[];
          roleRef: { kind: string; name: string };
        };
        expect(subjects).toEqual([
          { kind: "ServiceAccount", name: "compass-runtime-agent", namespace: "kyma-system" },
        ]);
        expect(
          objects.some(
            (o) =>
              o.kind === roleRef.kind &&
              o.metadata.name === roleRef.name &&
              (roleRef.kind === "ClusterRole" || o.metadata.namespace === b.metadata.namespace),
          ),
        ).toBe(true);
      }
    }
  });

  test("name the agent's default Secrets, Lease and integration namespace (base)", () => {
    const d = (s: { default: string | undefined }) => split(s.default as string);
    const config = d(SETTINGS.agentConfigurationSecret);
    const client = d(SETTINGS.clusterCertificatesSecret);
    const ca = d(SETTINGS.caCertificatesSecret);
    const lease = d(SETTINGS.leaderElectionLease);
    const o = base.objects;
    expect(verbsOn(o, config.namespace, "secrets", config.name)).toEqual(
      expect.arrayContaining(["get", "list", "watch"]),
    );
    // The ConfigMap configuration of earlier Kyma releases: that one ConfigMap, read-only; no other ConfigMap.
    expect(verbsOn(o, config.namespace, "configmaps", config.name)).toEqual(["get", "list", "watch"]);
    expect(verbsOn(o, config.namespace, "configmaps", "some-other-configmap")).toEqual([]);
    expect(verbsOn(o, client.namespace, "secrets", client.name)).toEqual(
      expect.arrayContaining(["create", "get", "list", "update", "watch"]),
    );
    expect(verbsOn(o, ca.namespace, "secrets", ca.name)).toEqual([
      "create",
      "get",
      "list",
      "update",
      "watch",
    ]);
    expect(verbsOn(o, lease.namespace, "leases", lease.name)).toEqual(["create", "get", "update"]);
    expect(
      verbsOn(o, SETTINGS.integrationNamespace.default as string, "secrets", "any-application-secret"),
    ).toEqual(["create", "delete", "list", "patch", "watch"]);
    // In the CA namespace only the CA Secret can be read.
    expect(verbsOn(o, ca.namespace, "secrets", "some-other-secret")).toEqual(["create"]);
    expect(verbsOn(o, "default", "events", "x")).toEqual(["create", "patch"]);
  });

  test("follow the overlay's environment (Kyma's CA Secret)", () => {
    const c = find<Deployment>(kyma.objects, "Deployment", "compass-runtime-agent", "kyma-system").spec
      .template.spec.containers[0] as Container;
    const env = envOf(c);
    const ca = split(env.APP_CA_CERTIFICATES_SECRET as string);
    expect(ca).toEqual({ namespace: "istio-system", name: "kyma-gateway-certs-cacert" });
    expect(verbsOn(kyma.objects, ca.namespace, "secrets", ca.name)).toEqual([
      "create",
      "get",
      "list",
      "update",
      "watch",
    ]);
    expect(verbsOn(kyma.objects, ca.namespace, "secrets", "ca-certificates")).toEqual(["create"]);
    for (const ref of [env.APP_AGENT_CONFIGURATION_SECRET, env.APP_CLUSTER_CERTIFICATES_SECRET]) {
      const { namespace, name } = split(ref as string);
      expect(verbsOn(kyma.objects, namespace, "secrets", name)).toEqual(
        expect.arrayContaining(["get", "list", "watch"]),
      );
    }
  });
});

describe("the base", () => {
  let deployment: Deployment;
  let pod: PodSpec;
  let container: Container;
  beforeAll(() => {
    deployment = find<Deployment>(base.objects, "Deployment", "compass-runtime-agent", "kyma-system");
    pod = deployment.spec.template.spec;
    container = pod.containers[0] as Container;
  });

  test("is accepted by the API server (kubectl apply --dry-run=server)", async () => {
    const out = await kubectl(["apply", "--dry-run=server", "-o", "name", "-f", "-"], base.text);
    expect(out.trim().split("\n")).toHaveLength(base.objects.length);
  });

  test("Deployment: 2 replicas with leader election, POD_NAME from the downward API, the agent's ServiceAccount", () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.serviceAccountName).toBe("compass-runtime-agent");
    const env = envOf(container);
    expect(env.APP_LEADER_ELECTION).toBe("true");
    expect(container.env.find((e) => e.name === "POD_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe(
      "metadata.name",
    );
    expect(container.args ?? []).toEqual([]);
    expect(deployment.spec.selector.matchLabels).toEqual({
      app: "compass-runtime-agent",
      release: "compass-runtime-agent",
    });
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels))
      expect(deployment.spec.template.metadata.labels[k]).toBe(v);
  });

  test("probes: /healthz (liveness, startup) and /readyz (readiness) on APP_HEALTH_PORT 8090; metrics on 8080", () => {
    const env = envOf(container);
    expect(env.APP_HEALTH_PORT).toBe("8090");
    expect(env.APP_METRICS_PORT).toBe("8080");
    expect(container.ports).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "http-health", containerPort: 8090 }),
        expect.objectContaining({ name: "http-metrics", containerPort: 8080 }),
      ]),
    );
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http-health" });
    expect(container.startupProbe?.httpGet).toEqual({ path: "/healthz", port: "http-health" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http-health" });
  });

  test("restricted security context, read-only root filesystem with an emptyDir for /tmp, requests and limits", () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.securityContext.runAsUser).not.toBe(0);
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
    expect(pod.volumes.find((v) => v.name === "tmp")?.emptyDir).toBeDefined();
    for (const r of ["cpu", "memory"]) {
      expect(container.resources.requests[r]).toBeTruthy();
      expect(container.resources.limits[r]).toBeTruthy();
    }
  });

  test("PodDisruptionBudget minAvailable 1 and a metrics Service, both selecting the agent's pods", () => {
    const pdb = find<
      Obj & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }
    >(base.objects, "PodDisruptionBudget", "compass-runtime-agent", "kyma-system");
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    const svc = find<
      Obj & {
        spec: {
          selector: Record<string, string>;
          ports: { name: string; port: number; targetPort: string }[];
        };
      }
    >(base.objects, "Service", "compass-runtime-agent-metrics", "kyma-system");
    expect(svc.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(svc.spec.ports).toEqual([
      expect.objectContaining({ name: "http-metrics", port: 8080, targetPort: "http-metrics" }),
    ]);
  });
});

describe("the Kyma overlay", () => {
  let deployment: Deployment;
  let pod: PodSpec;
  let container: Container;
  beforeAll(() => {
    deployment = find<Deployment>(kyma.objects, "Deployment", "compass-runtime-agent", "kyma-system");
    pod = deployment.spec.template.spec;
    container = pod.containers[0] as Container;
  });

  test("is accepted by the API server (kubectl apply --dry-run=server)", async () => {
    const out = await kubectl(["apply", "--dry-run=server", "-o", "name", "-f", "-"], kyma.text);
    expect(out.trim().split("\n")).toHaveLength(kyma.objects.length);
  });

  test("keeps Kyma's names: Deployment, ServiceAccount, container, selector, RBAC objects, PriorityClass", () => {
    expect(pod.serviceAccountName).toBe("compass-runtime-agent");
    expect(container.name).toBe("compass-runtime-agent");
    expect(deployment.spec.selector.matchLabels).toEqual({
      app: "compass-runtime-agent",
      release: "compass-runtime-agent",
    });
    expect(deployment.spec.template.metadata.labels).toMatchObject({
      app: "compass-runtime-agent",
      release: "compass-runtime-agent",
      "kyma-project.io/module": "application-connector",
    });
    expect(deployment.spec.template.metadata.annotations?.["sidecar.istio.io/inject"]).toBe("true");
    expect(pod.priorityClassName).toBe("compass-runtime-agent-priority-class");
    expect(
      find<Obj & { value: number }>(kyma.objects, "PriorityClass", "compass-runtime-agent-priority-class")
        .value,
    ).toBe(2000000);
    for (const [kind, name, namespace] of [
      ["ServiceAccount", "compass-runtime-agent", "kyma-system"],
      ["ClusterRole", "compass-runtime-agent", undefined],
      ["ClusterRoleBinding", "compass-runtime-agent", undefined],
      ["Role", "compass-runtime-agent", "kyma-system"],
      ["RoleBinding", "compass-runtime-agent", "kyma-system"],
      ["Role", "compass-runtime-agent-client-cert-role", "kyma-system"],
      ["RoleBinding", "compass-runtime-agent-client-cert-rolebinding", "kyma-system"],
      ["Role", "compass-runtime-agent-ca-cert-role", "istio-system"],
      ["RoleBinding", "compass-runtime-agent-ca-cert-rolebinding", "istio-system"],
    ] as const) {
      expect(() => find(kyma.objects, kind, name, namespace)).not.toThrow();
    }
  });

  test("keeps Kyma's environment (every variable with Kyma's value), arguments and the http-health port", () => {
    const env = envOf(container);
    for (const [name, value] of Object.entries(KYMA_ENV)) expect(env[name], name).toBe(value);
    // Added by this agent, nothing else.
    expect(
      Object.keys(env)
        .filter((k) => !(k in KYMA_ENV))
        .sort(),
    ).toEqual(["APP_LEADER_ELECTION", "APP_LOG_FORMAT", "APP_METRICS_PORT", "POD_NAME"]);
    expect(container.args).toEqual(["/app/compass-runtime-agent"]);
    expect(container.ports).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "http-health", containerPort: 8090 })]),
    );
  });

  test("leaves the replica count to Kyma's operator, has no PodDisruptionBudget, runs as Kyma's UID 65535", () => {
    expect(deployment.spec.replicas).toBeUndefined();
    expect(kyma.objects.some((o) => o.kind === "PodDisruptionBudget")).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65535,
      runAsGroup: 65535,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http-health" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http-health" });
  });

  test("differs from the base only where it should", () => {
    const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const baseKeys = base.objects.map(key);
    const kymaKeys = kyma.objects.map(key);
    expect(baseKeys.filter((k) => !kymaKeys.includes(k))).toEqual([
      "PodDisruptionBudget/kyma-system/compass-runtime-agent",
    ]);
    expect(kymaKeys.filter((k) => !baseKeys.includes(k))).toEqual([
      "PriorityClass//compass-runtime-agent-priority-class",
    ]);
  });
});

describe("the pod templates under PodSecurity 'restricted'", () => {
  const namespace = `deploy-test-${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    await kubectl(["create", "namespace", namespace]);
    await kubectl([
      "label",
      "namespace",
      namespace,
      "pod-security.kubernetes.io/enforce=restricted",
      "pod-security.kubernetes.io/enforce-version=latest",
    ]);
    await kubectl(["create", "serviceaccount", "compass-runtime-agent", "-n", namespace]);
  });
  afterAll(async () => {
    // No namespace controller in kube-testenv: the namespace stays Terminating, which harms nobody.
    await kubectl(["delete", "namespace", namespace, "--wait=false"]).catch(() => undefined);
  });

  test.each([["base"], ["overlays/kyma"]])(
    "%s: a Pod from the Deployment's template is admitted",
    async (which) => {
      const { objects } = which === "base" ? base : kyma;
      const d = find<Deployment>(objects, "Deployment", "compass-runtime-agent", "kyma-system");
      // The PriorityClass is resolved at admission; the overlay's PriorityClass is only dry-run applied above.
      const { priorityClassName: _priority, ...spec } = d.spec.template.spec;
      const podObject = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "agent", namespace, labels: d.spec.template.metadata.labels },
        spec,
      };
      const out = await kubectl(
        ["create", "--dry-run=server", "-o", "name", "-f", "-"],
        JSON.stringify(podObject),
      );
      expect(out.trim()).toBe("pod/agent");
    },
  );

  test("a privileged variant is refused (the check is real)", async () => {
    const d = find<Deployment>(base.objects, "Deployment", "compass-runtime-agent", "kyma-system");
    const spec = structuredClone(d.spec.template.spec);
    (spec.containers[0] as Container).securityContext = {
      ...(spec.containers[0] as Container).securityContext,
      allowPrivilegeEscalation: true,
    };
    const podObject = { apiVersion: "v1", kind: "Pod", metadata: { name: "agent", namespace }, spec };
    await expect(
      kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], JSON.stringify(podObject)),
    ).rejects.toThrow(/violates PodSecurity "restricted/);
  });
});
