import { afterAll, describe, expect, it } from "vitest";
import { certificateFingerprint, FINGERPRINT_ANNOTATION, type CredentialLocations } from "../src/index.js";
import { CERT_A, CERT_B, KEY_A, KEY_B } from "./fixtures/certs.js";
import { adminStore, agentStore, uniqueName } from "./helpers.js";

const store = agentStore();
const admin = adminStore();
afterAll(async () => {
  await store.close();
  await admin.close();
});

describe("Secrets (as the agent's ServiceAccount)", () => {
  it("reads the agent configuration view; missing keys are empty", async () => {
    const name = uniqueName("compass-agent-configuration");
    await admin.secrets.upsertSecretKeys("kyma-system", name, { CONNECTOR_URL: "https://connector/graphql", RUNTIME_ID: "rt-1" });
    expect(await store.secrets.readAgentConfiguration({ namespace: "kyma-system", name })).toEqual({
      connectorUrl: "https://connector/graphql",
      token: "",
      runtimeId: "rt-1",
      tenant: "",
    });
    await expect(store.secrets.readAgentConfiguration({ namespace: "kyma-system", name: uniqueName("absent") })).rejects.toMatchObject({ code: "K8S_NOT_FOUND" });
    await admin.secrets.delete("kyma-system", name);
  });

  it("upsertSecretKeys merges keys and keeps labels, annotations and type set by others", async () => {
    const name = uniqueName("merge");
    // Someone else owns the Secret: custom type, labels, annotations, another key.
    await admin.secrets.upsertSecretKeys("kyma-system", name, { foreign: "keep-me" }, { type: "example.com/custom", labels: { owner: "someone" }, annotations: { note: "theirs" } });
    const r = await store.secrets.upsertSecretKeys("kyma-system", name, { crt: "c1", key: "k1" }, { annotations: { mine: "1" } });
    expect(r).toMatchObject({ written: true, created: false });
    const s = await store.secrets.get("kyma-system", name);
    expect(s.type).toBe("example.com/custom");
    expect(s.data).toEqual({ foreign: "keep-me", crt: "c1", key: "k1" });
    expect(s.metadata.labels).toEqual({ owner: "someone" });
    expect(s.metadata.annotations).toMatchObject({ note: "theirs", mine: "1" });

    // The same data again: nothing is written.
    const writes = store.counter.writes();
    const again = await store.secrets.upsertSecretKeys("kyma-system", name, { crt: "c1" }, { annotations: { mine: "1" } });
    expect(again.written).toBe(false);
    expect(store.counter.writes()).toBe(writes);
    expect(again.secret.metadata.resourceVersion).toBe(s.metadata.resourceVersion);

    // removeKeys
    await store.secrets.upsertSecretKeys("kyma-system", name, {}, { removeKeys: ["key"] });
    expect((await store.secrets.get("kyma-system", name)).data).toEqual({ foreign: "keep-me", crt: "c1" });
    expect(await store.secrets.delete("kyma-system", name)).toBe(true);
  });

  it("upsertSecretKeys creates when absent, and concurrent writers of different keys all survive", async () => {
    const name = uniqueName("concurrent");
    const writers = Array.from({ length: 6 }, () => agentStore());
    try {
      await Promise.all(writers.map((w, i) => w.secrets.upsertSecretKeys("kyma-system", name, { [`k${i}`]: `v${i}` })));
      const s = await store.secrets.get("kyma-system", name);
      expect(Object.keys(s.data).sort()).toEqual(["k0", "k1", "k2", "k3", "k4", "k5"]);
      expect(s.type).toBe("Opaque");
    } finally {
      await Promise.all(writers.map((w) => w.close()));
      await store.secrets.delete("kyma-system", name);
    }
  });

  it("credentials: both Secrets carry the fingerprint; a failure between the writes is detected and repaired", async () => {
    const locations: CredentialLocations = {
      clientCertificate: { namespace: "kyma-system", name: uniqueName("cluster-client-certificates") },
      caCertificate: { namespace: "istio-system", name: uniqueName("kyma-gateway-certs-cacert") },
    };
    expect(await store.secrets.readCredentials(locations)).toMatchObject({ state: "missing", missing: ["clientCertificateSecret", "caCertificateSecret"] });

    const { fingerprint } = await store.secrets.writeCredentials(locations, { crt: CERT_A, key: KEY_A, crtChain: `${CERT_A}${CERT_B}`, cacert: CERT_B });
    expect(fingerprint).toBe(certificateFingerprint(CERT_A));
    const complete = await store.secrets.readCredentials(locations);
    expect(complete).toMatchObject({ state: "complete", legacy: false, fingerprint, credentials: { crt: CERT_A, key: KEY_A, cacert: CERT_B } });
    const ca = await admin.secrets.get("istio-system", locations.caCertificate.name);
    expect(ca.metadata.annotations?.[FINGERPRINT_ANNOTATION]).toBe(fingerprint);

    // Renewal interrupted: the client certificate Secret got the new pair, the CA write never happened.
    await store.secrets.upsertSecretKeys(
      locations.clientCertificate.namespace,
      locations.clientCertificate.name,
      { crt: CERT_B, key: KEY_B, crtChain: CERT_B },
      { annotations: { [FINGERPRINT_ANNOTATION]: certificateFingerprint(CERT_B) } },
    );
    const broken = await store.secrets.readCredentials(locations);
    expect(broken).toMatchObject({ state: "mismatched", fingerprint: certificateFingerprint(CERT_B) });
    // Repair: write both again.
    await store.secrets.writeCredentials(locations, { crt: CERT_B, key: KEY_B, crtChain: CERT_B, cacert: CERT_A });
    expect(await store.secrets.readCredentials(locations)).toMatchObject({ state: "complete", fingerprint: certificateFingerprint(CERT_B) });

    // A key that does not belong to the certificate is corrupt.
    await admin.secrets.upsertSecretKeys(locations.clientCertificate.namespace, locations.clientCertificate.name, { key: KEY_A });
    expect(await store.secrets.readCredentials(locations)).toMatchObject({ state: "corrupt" });

    await admin.secrets.delete(locations.clientCertificate.namespace, locations.clientCertificate.name);
    await admin.secrets.delete(locations.caCertificate.namespace, locations.caCertificate.name);
  });

  it("RBAC is enforced: the agent cannot read Secrets in other namespaces", async () => {
    await expect(store.secrets.get("default", "anything")).rejects.toMatchObject({ code: "K8S_FORBIDDEN", retryable: false });
  });
});
