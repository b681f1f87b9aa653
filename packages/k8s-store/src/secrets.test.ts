import { describe, expect, it } from "vitest";
import { CERT_A, CERT_B, KEY_A, KEY_B } from "../test/fixtures/certs.js";
import { FINGERPRINT_ANNOTATION } from "./meta.js";
import {
  agentConfigurationFromData,
  caCertificateFromData,
  certificateFingerprint,
  classifyCredentials,
  clientCertificateFromData,
  parseManagementInfo,
  parseSecret,
  secretBody,
  type SecretObject,
} from "./secrets.js";

const secret = (name: string, data: Record<string, string>, annotations?: Record<string, string>): SecretObject => ({
  metadata: { name, namespace: "kyma-system", ...(annotations ? { annotations } : {}) },
  type: "Opaque",
  data,
});

describe("Secret views", () => {
  it("agent configuration: missing keys read as empty strings", () => {
    expect(agentConfigurationFromData({ CONNECTOR_URL: "https://c/graphql", TOKEN: "t" })).toEqual({
      connectorUrl: "https://c/graphql",
      token: "t",
      runtimeId: "",
      tenant: "",
    });
    expect(agentConfigurationFromData({})).toEqual({ connectorUrl: "", token: "", runtimeId: "", tenant: "" });
  });

  it("client certificate and CA views", () => {
    expect(clientCertificateFromData({ crt: "c", key: "k" })).toEqual({ crt: "c", key: "k", crtChain: "" });
    expect(caCertificateFromData({})).toEqual({ cacert: "" });
  });

  it("parseSecret decodes base64 data from API JSON", () => {
    const s = parseSecret({
      metadata: { name: "x", namespace: "ns", labels: { a: "b" }, creationTimestamp: new Date("2024-01-02T03:04:05Z") },
      type: "kubernetes.io/tls",
      data: { TOKEN: Buffer.from("tok").toString("base64") },
    });
    expect(s).toEqual({
      metadata: { name: "x", namespace: "ns", labels: { a: "b" }, creationTimestamp: "2024-01-02T03:04:05Z" },
      type: "kubernetes.io/tls",
      data: { TOKEN: "tok" },
    });
  });
});

describe("certificateFingerprint", () => {
  it("hashes the DER of the first certificate, ignoring PEM whitespace and what follows", () => {
    const fp = certificateFingerprint(CERT_A);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(certificateFingerprint(`\n${CERT_A.replace(/\n/g, "\r\n")}\n${CERT_B}`)).toBe(fp);
    expect(certificateFingerprint(CERT_B)).not.toBe(fp);
    expect(certificateFingerprint("not a cert")).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("classifyCredentials", () => {
  const fpA = certificateFingerprint(CERT_A);
  const fpB = certificateFingerprint(CERT_B);
  const client = (crt: string, key: string, fp?: string) => secret("cluster-client-certificates", { crt, key, crtChain: crt }, fp ? { [FINGERPRINT_ANNOTATION]: fp } : undefined);
  const ca = (fp?: string) => secret("ca", { cacert: CERT_B }, fp ? { [FINGERPRINT_ANNOTATION]: fp } : undefined);

  it("complete when both Secrets carry the client certificate's fingerprint", () => {
    const r = classifyCredentials(client(CERT_A, KEY_A, fpA), ca(fpA));
    expect(r.state).toBe("complete");
    if (r.state === "complete") {
      expect(r.fingerprint).toBe(fpA);
      expect(r.legacy).toBe(false);
      expect(r.credentials).toEqual({ crt: CERT_A, key: KEY_A, crtChain: CERT_A, cacert: CERT_B });
    }
  });

  it("complete (legacy) when neither has an annotation, as the Go agent wrote them", () => {
    const r = classifyCredentials(client(CERT_A, KEY_A), ca());
    expect(r).toMatchObject({ state: "complete", legacy: true });
  });

  it("mismatched when the CA Secret was written for another certificate (failure between the two writes)", () => {
    expect(classifyCredentials(client(CERT_A, KEY_A, fpA), ca(fpB))).toMatchObject({ state: "mismatched", fingerprint: fpA });
    expect(classifyCredentials(client(CERT_A, KEY_A, fpA), ca())).toMatchObject({ state: "mismatched" });
  });

  it("mismatched when the client Secret's annotation does not match its own certificate", () => {
    expect(classifyCredentials(client(CERT_A, KEY_A, fpB), ca(fpB))).toMatchObject({ state: "mismatched" });
  });

  it("missing parts are listed", () => {
    expect(classifyCredentials(undefined, undefined)).toMatchObject({ state: "missing", missing: ["clientCertificateSecret", "caCertificateSecret"] });
    expect(classifyCredentials(secret("c", { crt: CERT_A }), ca())).toMatchObject({ state: "missing", missing: ["key"] });
    const r = classifyCredentials(client(CERT_A, KEY_A, fpA), undefined);
    expect(r).toMatchObject({ state: "missing", missing: ["caCertificateSecret"], partial: { crt: CERT_A, key: KEY_A } });
  });

  it("corrupt when the key does not belong to the certificate or does not parse; no key material in detail", () => {
    const r = classifyCredentials(client(CERT_A, KEY_B, fpA), ca(fpA));
    expect(r).toMatchObject({ state: "corrupt" });
    if (r.state === "corrupt") expect(r.detail).not.toContain("PRIVATE KEY");
    expect(classifyCredentials(client("garbage", KEY_A), ca())).toMatchObject({ state: "corrupt" });
    expect(classifyCredentials(client(CERT_A, "garbage"), ca())).toMatchObject({ state: "corrupt" });
  });
});

describe("secretBody", () => {
  it("encodes data as base64, keeps the metadata given and adds nothing else", () => {
    const owner = { apiVersion: "applicationconnector.kyma-project.io/v1alpha1", kind: "Application", name: "a", uid: "1" };
    const body = secretBody({ namespace: "kyma-system", name: "app-1", labels: { app: "a" }, annotations: { note: "n" }, ownerReferences: [owner], data: { username: "u", password: "p" } });
    expect(body).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "app-1", namespace: "kyma-system", labels: { app: "a" }, annotations: { note: "n" }, ownerReferences: [owner] },
      type: "Opaque",
      data: { username: Buffer.from("u").toString("base64"), password: Buffer.from("p").toString("base64") },
    });
    expect(secretBody({ namespace: "ns", name: "x", type: "example.com/t", data: {} }).metadata).toEqual({ name: "x", namespace: "ns" });
  });
});

describe("parseManagementInfo", () => {
  it("two https URLs; anything else (missing, not JSON, edited by hand) is no record", () => {
    const info = { connectorUrl: "https://compass.example.com/connector/graphql", directorUrl: "https://compass.example.com/director/graphql" };
    expect(parseManagementInfo(JSON.stringify(info))).toEqual(info);
    expect(parseManagementInfo(JSON.stringify({ ...info, extra: 1 }))).toEqual(info);
    for (const text of [undefined, "", "not json", "null", "[]", JSON.stringify({ connectorUrl: info.connectorUrl }), JSON.stringify({ ...info, directorUrl: "http://plain/director" })]) {
      expect(parseManagementInfo(text)).toBeUndefined();
    }
  });
});
