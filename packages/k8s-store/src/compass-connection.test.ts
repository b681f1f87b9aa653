import { describe, expect, it } from "vitest";
import { parseCompassConnection, setCondition } from "./compass-connection.js";

describe("parseCompassConnection", () => {
  it("normalizes absent timestamps to null and keeps unknown metadata", () => {
    const cc = parseCompassConnection({
      apiVersion: "compass.kyma-project.io/v1alpha1",
      kind: "CompassConnection",
      metadata: { name: "compass-connection", resourceVersion: "7", generation: 2, finalizers: ["f"], generateName: "x" },
      spec: { managementInfo: { connectorUrl: "https://c", directorUrl: "https://d" }, resyncNow: true },
      status: {
        connectionState: "Synchronized",
        connectionStatus: { established: "2020-02-11T10:35:22Z", lastSync: null, certificateStatus: { notAfter: "2020-05-11T10:35:22Z" }, renewed: null },
        synchronizationStatus: null,
      },
    });
    expect(cc.metadata).toMatchObject({ name: "compass-connection", resourceVersion: "7", generation: 2, finalizers: ["f"], generateName: "x" });
    expect(cc.spec).toEqual({ managementInfo: { connectorUrl: "https://c", directorUrl: "https://d" }, resyncNow: true });
    expect(cc.status).toEqual({
      connectionState: "Synchronized",
      connectionStatus: {
        established: "2020-02-11T10:35:22Z",
        renewed: null,
        lastSync: null,
        lastSuccess: null,
        certificateStatus: { acquired: null, notBefore: null, notAfter: "2020-05-11T10:35:22Z" },
      },
      synchronizationStatus: null,
    });
  });

  it("accepts a null connectionStatus (the Go agent can write one)", () => {
    const cc = parseCompassConnection({ metadata: { name: "x" }, spec: { managementInfo: {} }, status: { connectionState: "ConnectionFailed", connectionStatus: null } });
    expect(cc.status?.connectionStatus).toBeNull();
  });
});

describe("setCondition", () => {
  it("changes lastTransitionTime only when the status flips", () => {
    const t1 = "2024-01-01T00:00:00Z";
    const t2 = new Date("2024-01-01T01:00:00.123Z");
    let c = setCondition(undefined, { type: "Ready", status: "False", reason: "Connecting", message: "m" }, t1);
    expect(c).toEqual([{ type: "Ready", status: "False", reason: "Connecting", message: "m", lastTransitionTime: t1 }]);
    c = setCondition(c, { type: "Ready", status: "False", reason: "Other", message: "m2" }, t2);
    expect(c[0]?.lastTransitionTime).toBe(t1);
    expect(c[0]?.reason).toBe("Other");
    c = setCondition(c, { type: "Ready", status: "True", reason: "Synchronized", message: "", observedGeneration: 3 }, t2);
    expect(c[0]).toMatchObject({ status: "True", lastTransitionTime: "2024-01-01T01:00:00Z", observedGeneration: 3 });
    c = setCondition(c, { type: "CertificateValid", status: "True", reason: "Valid", message: "" }, t1);
    expect(c.map((x) => x.type)).toEqual(["Ready", "CertificateValid"]);
  });
});
