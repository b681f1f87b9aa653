// Each CSR validation rule of compass-contract.md §7.5 over the token listener, with CSRs made by openssl.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCompassSimulator, type CompassSimulator } from "../src/index.js";
import { CONFIGURATION_QUERY, graphqlCall, opensslCsr, signMutation, tempDir, type CsrFiles } from "./support/tools.js";

let sim: CompassSimulator;
let ca: string;
let dir: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  sim = await startCompassSimulator({});
  ca = await readFile(sim.serverCaFile, "utf8");
  dir = await tempDir();
});

afterAll(async () => {
  await sim?.close();
  await dir?.remove();
});

/** A SystemAuth id and a token ready for signing (the second token of the flow). */
async function signingToken(): Promise<{ id: string; token: string }> {
  const runtime = sim.createRuntime({ name: "csr-test" });
  const t1 = sim.issueToken(runtime.id);
  const res = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca, token: t1.token });
  return { id: t1.systemAuthId, token: res.json.data.result.token.token };
}

async function sign(csrArgument: string, token: string) {
  return graphqlCall(sim.connectorUrl, signMutation(csrArgument), { ca, token });
}

const SIGN = "Error while signing Certificate Signing Request: ";
const subjectFor = (id: string) => `O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=${id}`;

async function expectRejected(makeCsr: (id: string) => Promise<string>, message: string): Promise<void> {
  const { id, token } = await signingToken();
  const res = await sign(await makeCsr(id), token);
  expect(res.status).toBe(200);
  expect(res.json).toEqual({ errors: [{ message, path: ["result"] }], data: null });
}

async function expectAccepted(makeCsr: (id: string) => Promise<CsrFiles>): Promise<CsrFiles> {
  const { id, token } = await signingToken();
  const csr = await makeCsr(id);
  const res = await sign(csr.csrArgument, token);
  expect(res.json.errors).toBeUndefined();
  expect(res.json.data.result.clientCertificate).toBeTypeOf("string");
  return csr;
}

describe("subject checks", () => {
  test("wrong CN", async () => {
    await expectRejected(
      async () => (await opensslCsr(dir.path, subjectFor("00000000-0000-0000-0000-000000000000"))).csrArgument,
      `${SIGN}CSR: Invalid common name provided.`,
    );
  });

  test("missing ST", async () => {
    await expectRejected(
      async (id) => (await opensslCsr(dir.path, `O=Org,OU=OrgUnit,L=locality,C=DE,CN=${id}`)).csrArgument,
      `${SIGN}CSR: No province provided.`,
    );
  });

  test("different C", async () => {
    await expectRejected(
      async (id) => (await opensslCsr(dir.path, `O=Org,OU=OrgUnit,L=locality,ST=province,C=PL,CN=${id}`)).csrArgument,
      `${SIGN}CSR: Invalid country provided.`,
    );
  });

  test("missing O / wrong OU / wrong L", async () => {
    await expectRejected(
      async (id) => (await opensslCsr(dir.path, `OU=OrgUnit,L=locality,ST=province,C=DE,CN=${id}`)).csrArgument,
      `${SIGN}CSR: No organization provided.`,
    );
    await expectRejected(
      async (id) => (await opensslCsr(dir.path, `O=Org,OU=Other,L=locality,ST=province,C=DE,CN=${id}`)).csrArgument,
      `${SIGN}CSR: Invalid organizational unit provided.`,
    );
    await expectRejected(
      async (id) => (await opensslCsr(dir.path, `O=Org,OU=OrgUnit,L=Berlin,ST=province,C=DE,CN=${id}`)).csrArgument,
      `${SIGN}CSR: Invalid locality provided.`,
    );
  });

  test("checks run in Compass order: CN first, then C before O", async () => {
    await expectRejected(
      async () => (await opensslCsr(dir.path, "O=X,C=PL,CN=someone-else")).csrArgument,
      `${SIGN}CSR: Invalid common name provided.`,
    );
    await expectRejected(
      async (id) => (await opensslCsr(dir.path, `O=X,C=PL,CN=${id}`)).csrArgument,
      `${SIGN}CSR: Invalid country provided.`,
    );
  });

  test("an extra OU after the expected one is accepted", async () => {
    await expectAccepted((id) => opensslCsr(dir.path, `O=Org,OU=OrgUnit,OU=Extra,L=locality,ST=province,C=DE,CN=${id}`));
  });

  test("an extra OU before the expected one is rejected (first value counts)", async () => {
    await expectRejected(
      async (id) =>
        (await opensslCsr(dir.path, `O=Org,OU=Extra,OU=OrgUnit,L=locality,ST=province,C=DE,CN=${id}`)).csrArgument,
      `${SIGN}CSR: Invalid organizational unit provided.`,
    );
  });

  test("reordered RDNs are accepted and copied verbatim into the certificate", async () => {
    const { id, token } = await signingToken();
    const csr = await opensslCsr(dir.path, `CN=${id},C=DE,ST=province,L=locality,OU=OrgUnit,O=Org`);
    const res = await sign(csr.csrArgument, token);
    const pem = Buffer.from(res.json.data.result.clientCertificate, "base64").toString("utf8");
    const { X509Certificate } = await import("node:crypto");
    expect(new X509Certificate(pem).subject.split("\n")).toEqual([
      `CN=${id}`,
      "C=DE",
      "ST=province",
      "L=locality",
      "OU=OrgUnit",
      "O=Org",
    ]);
  });

  test("a multi-valued RDN is accepted", async () => {
    await expectAccepted((id) =>
      opensslCsr(dir.path, `O=Org+OU=OrgUnit,L=locality+ST=province,C=DE,CN=${id}`.replace(/\+/g, "+"), {
        multivalueRdn: true,
      }),
    );
  });
});

describe("key checks", () => {
  test("an ECDSA key is rejected", async () => {
    await expectRejected(
      async (id) => (await opensslCsr(dir.path, subjectFor(id), { newkey: "ec:prime256v1" })).csrArgument,
      `${SIGN}Error while creating certificate: x509: requested SignatureAlgorithm does not match private key type`,
    );
  });

  test("RSA-1024 is accepted, as by Compass", async () => {
    await expectAccepted((id) => opensslCsr(dir.path, subjectFor(id), { newkey: "rsa:1024" }));
  });
});

describe("encoding checks", () => {
  // Base64 of PEM text never contains '+' or '/' (PEM is 7-bit text without '>', '?', '~'), so the URL-safe alphabet
  // only shows in practice as missing padding (base64url without '=') or as '-'/'_' for non-PEM bytes.
  test("URL-safe base64 without padding is rejected", async () => {
    await expectRejected(async (id) => {
      const csr = await opensslCsr(dir.path, subjectFor(id));
      // A trailing newline is harmless to pem.Decode; pick a length whose base64 needs padding.
      let pem = Buffer.from(csr.csrPem, "latin1");
      if (pem.length % 3 === 0) pem = Buffer.concat([pem, Buffer.from("\n")]);
      expect(pem.toString("base64")).toMatch(/=$/);
      return pem.toString("base64url");
    }, "Error while decoding Certificate Signing Request: Error while parsing base64 content. Incorrect value provided.");
  });

  test("URL-safe alphabet ('-', '_') is rejected where standard base64 is accepted", async () => {
    const { id, token } = await signingToken();
    const csr = await opensslCsr(dir.path, subjectFor(id));
    // Trailing bytes after the PEM block are ignored by pem.Decode, but their base64 contains '+'/'/' (std) or '-'/'_' (url).
    const bytes = Buffer.concat([Buffer.from(csr.csrPem, "latin1"), Buffer.from([0xfb, 0xff, 0xbf])]);
    const urlSafe = bytes.toString("base64url");
    expect(urlSafe).toMatch(/[-_]/);
    expect((await sign(urlSafe, token)).json.errors[0].message).toBe(
      "Error while decoding Certificate Signing Request: Error while parsing base64 content. Incorrect value provided.",
    );
    const second = await signingToken();
    const csr2 = await opensslCsr(dir.path, subjectFor(second.id));
    const std = Buffer.concat([Buffer.from(csr2.csrPem, "latin1"), Buffer.from([0xfb, 0xff, 0xbf])]).toString("base64");
    expect(std).toMatch(/[+/]/);
    expect((await sign(std, second.token)).json.errors).toBeUndefined();
  });

  test("base64 with embedded CRLF line breaks is accepted", async () => {
    await expectAccepted(async (id) => {
      const csr = await opensslCsr(dir.path, subjectFor(id));
      return { ...csr, csrArgument: csr.csrArgument.replace(/(.{76})/g, "$1\\r\\n") };
    });
  });

  test("DER instead of PEM has no PEM block", async () => {
    await expectRejected(
      async (id) => (await opensslCsr(dir.path, subjectFor(id), { outform: "DER" })).csrArgument,
      `${SIGN}Error while decoding pem block.`,
    );
  });

  test("garbage", async () => {
    await expectRejected(async () => Buffer.from("hello world").toString("base64"), `${SIGN}Error while decoding pem block.`);
    await expectRejected(
      async () => "not base64 at all",
      "Error while decoding Certificate Signing Request: Error while parsing base64 content. Incorrect value provided.",
    );
    await expectRejected(
      async () => Buffer.from("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n").toString("base64"),
      expect.stringMatching(/^Error while signing Certificate Signing Request: Error while parsing CSR: asn1: /) as unknown as string,
    );
  });

  test("a tampered signature is rejected", async () => {
    await expectRejected(async (id) => {
      const csr = await opensslCsr(dir.path, subjectFor(id));
      const body = csr.csrPem.split("\n").filter((line) => line && !line.startsWith("-----")).join("");
      const der = Buffer.from(body, "base64");
      der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5); // inside the signature BIT STRING
      const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
      return Buffer.from(pem).toString("base64");
    }, `${SIGN}CSR signature invalid: crypto/rsa: verification error`);
  });
});
