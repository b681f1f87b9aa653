import { X509Certificate } from "node:crypto";
import { describe, expect, test } from "vitest";
import { buildName, createSelfSignedCa, issueServerCertificate, loadCa, OID, toPem } from "./pki.js";

const validity = { notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 3600_000) };

describe("PKI", () => {
  test("self-signed CA and a server certificate with DNS and IP SANs", async () => {
    const ca = await createSelfSignedCa({ commonName: "Test CA", organization: "T", ...validity });
    const caCert = new X509Certificate(ca.pem);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe("O=T\nCN=Test CA");
    expect(caCert.verify(caCert.publicKey)).toBe(true);

    const server = await issueServerCertificate(ca, ["sim.example", "127.0.0.1", "::1"], validity);
    const cert = new X509Certificate(server.certPem);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkHost("sim.example")).toBe("sim.example");
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkIP("::1")).toBe("::1");
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(server.keyPem))).toBe(true);
  });

  test("dates from 2050 on are GeneralizedTime", async () => {
    const ca = await createSelfSignedCa({
      commonName: "Far",
      notBefore: new Date(Date.UTC(2049, 0, 1)),
      notAfter: new Date(Date.UTC(2060, 0, 1)),
    });
    const cert = new X509Certificate(ca.pem);
    expect(cert.validToDate.toISOString()).toBe("2060-01-01T00:00:00.000Z");
  });

  test("loadCa reads back a CA and its key", async () => {
    const ca = await createSelfSignedCa({ commonName: "Reload", ...validity });
    const loaded = await loadCa(ca.pem, ca.privateKeyPem);
    expect(loaded.pem).toBe(ca.pem);
    expect(Buffer.from(loaded.subjectKeyId)).toEqual(Buffer.from(ca.subjectKeyId));
    const other = await createSelfSignedCa({ commonName: "Other", ...validity });
    await expect(loadCa(ca.pem, other.privateKeyPem)).rejects.toThrow(/does not match/);
  });

  test("buildName: one RDN per attribute, C as PrintableString", () => {
    const name = buildName([
      [OID.organization, "Org"],
      [OID.country, "DE"],
    ]);
    const der = Buffer.from(name.toSchema().toBER(false));
    // SEQUENCE { SET { SEQ { OID O, UTF8String } }, SET { SEQ { OID C, PrintableString } } }
    expect(der.includes(Buffer.from([0x13, 0x02, 0x44, 0x45]))).toBe(true);
    expect(name.typesAndValues).toHaveLength(2);
    expect(toPem("X", new Uint8Array([1, 2, 3]))).toBe("-----BEGIN X-----\nAQID\n-----END X-----\n");
  });
});
