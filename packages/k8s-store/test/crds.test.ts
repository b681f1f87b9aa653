import { ApiextensionsV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { K8sStoreError, type ApplicationSpec, type DesiredApplication } from "../src/index.js";
import { adminKubeconfig, adminStore, uniqueName } from "./helpers.js";

const store = adminStore();
afterAll(() => store.close());

function app(name: string, spec: ApplicationSpec): DesiredApplication {
  return { metadata: { name }, spec };
}

const validService = {
  id: "s1",
  name: "svc",
  displayName: "Service",
  providerDisplayName: "Provider",
  description: "d",
  entries: [{ type: "API" as const, targetUrl: "https://api.example.com", credentials: { type: "", secretName: "" } }],
};

async function rejected(p: Promise<unknown>): Promise<K8sStoreError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(K8sStoreError);
    return err as K8sStoreError;
  }
  throw new Error("expected the API server to reject the object");
}

describe("CRDs from schemas/crds", () => {
  it("are installed, established, cluster-scoped and without a status subresource", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(adminKubeconfig());
    const api = kc.makeApiClient(ApiextensionsV1Api);
    for (const [name, kind, shortNames] of [
      ["compassconnections.compass.kyma-project.io", "CompassConnection", undefined],
      ["applications.applicationconnector.kyma-project.io", "Application", ["app"]],
    ] as const) {
      const crd = await api.readCustomResourceDefinition({ name });
      expect(crd.spec.scope).toBe("Cluster");
      expect(crd.spec.names.kind).toBe(kind);
      expect(crd.spec.names.shortNames).toEqual(shortNames);
      expect(crd.status?.conditions?.find((c) => c.type === "Established")?.status).toBe("True");
      expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage, v.subresources?.status])).toEqual([["v1alpha1", true, true, undefined]]);
    }
    const cc = await api.readCustomResourceDefinition({ name: "compassconnections.compass.kyma-project.io" });
    expect(cc.spec.versions[0]?.additionalPrinterColumns?.map((c) => c.name)).toEqual(["State", "Last Sync", "Cert Expiry", "Age"]);
  });

  it("accepts a valid Application and applies the encodeUrl default", async () => {
    const name = uniqueName("crd-valid");
    const created = await store.applications.create(app(name, { description: "x", services: [validService], accessLabel: "my-app.label_1" }));
    expect(created.spec.encodeUrl).toBe(true);
    await store.applications.delete(name);
  });

  it("rejects an accessLabel that breaks the pattern or maxLength", async () => {
    for (const accessLabel of ["-leading-dash", "trailing.", "has space", "a".repeat(64)]) {
      const err = await rejected(store.applications.create(app(uniqueName("crd-bad"), { accessLabel })));
      expect(err.code).toBe("K8S_INVALID");
      expect(err.message).toContain("accessLabel");
    }
    const entryLabel = await rejected(
      store.applications.create(app(uniqueName("crd-bad"), { services: [{ ...validService, entries: [{ type: "API", accessLabel: "_bad" }] }] })),
    );
    expect(entryLabel.code).toBe("K8S_INVALID");
  });

  it("rejects an entry type outside the enum and services missing required fields", async () => {
    const badType = await rejected(
      store.applications.create(app(uniqueName("crd-bad"), { services: [{ ...validService, entries: [{ type: "Graph" as unknown as "API" }] }] })),
    );
    expect(badType.code).toBe("K8S_INVALID");
    expect(badType.message).toMatch(/Unsupported value|supported values/);
    const { displayName: _d, ...noDisplayName } = validService;
    const missing = await rejected(store.applications.create(app(uniqueName("crd-bad"), { services: [noDisplayName as typeof validService] })));
    expect(missing.code).toBe("K8S_INVALID");
    const creds = await rejected(
      store.applications.create(
        app(uniqueName("crd-bad"), { services: [{ ...validService, entries: [{ type: "API", credentials: { type: "Basic" } as { type: string; secretName: string } }] }] }),
      ),
    );
    expect(creds.code).toBe("K8S_INVALID");
  });

  it("rejects a CompassConnection without managementInfo URLs, accepts conditions in status", async () => {
    const bad = await rejected(
      store.compassConnections.create({ metadata: { name: uniqueName("cc-bad") }, spec: { managementInfo: { connectorUrl: "https://c" } as { connectorUrl: string; directorUrl: string } } }),
    );
    expect(bad.code).toBe("K8S_INVALID");
    const name = uniqueName("cc-cond");
    const cc = await store.compassConnections.create({
      metadata: { name },
      spec: { managementInfo: { connectorUrl: "https://c", directorUrl: "https://d" } },
      status: {
        connectionState: "Connected",
        connectionStatus: { established: "2024-01-01T00:00:00Z", renewed: null, lastSync: null, lastSuccess: null, certificateStatus: { acquired: null, notBefore: null, notAfter: null } },
        conditions: [{ type: "Ready", status: "True", reason: "Connected", message: "", lastTransitionTime: "2024-01-01T00:00:00Z", observedGeneration: 1 }],
      },
    });
    expect(cc.status?.conditions?.[0]?.type).toBe("Ready");
    const badCondition = await rejected(
      store.compassConnections.mutate(name, (d) => {
        if (d.status?.conditions?.[0]) d.status.conditions[0].status = "Maybe" as "True";
      }),
    );
    expect(badCondition.code).toBe("K8S_INVALID");
    await store.compassConnections.delete(name);
  });
});
