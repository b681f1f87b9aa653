// The token-secured Connector over real TLS: one-time token semantics and GraphQL-over-HTTP behaviour.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCompassSimulator, type CompassSimulator } from "../src/index.js";
import {
  CONFIGURATION_QUERY,
  graphqlCall,
  httpCall,
  opensslCsr,
  REVOKE_MUTATION,
  signMutation,
  tempDir,
  expectRefused,
} from "./support/tools.js";

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

function newToken() {
  const runtime = sim.createRuntime({ name: `rt-${Math.random().toString(36).slice(2, 8)}` });
  return { runtime, ...sim.issueToken(runtime.id) };
}

const configuration = (token: string) => graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca, token });

describe("configuration over the token listener", () => {
  test("returns the CSR subject, the mTLS URLs and a fresh token", async () => {
    const t1 = newToken();
    expect(t1.token).toMatch(/^[A-Za-z0-9_-]{86}==$/);
    expect(t1.connectorURL).toBe(sim.connectorUrl);
    const res = await configuration(t1.token);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const result = res.json.data.result;
    expect(result.certificateSigningRequestInfo).toEqual({
      subject: `O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=${t1.systemAuthId}`,
      keyAlgorithm: "rsa2048",
    });
    const mtls = new URL(sim.certSecuredConnectorUrl);
    expect(result.managementPlaneInfo).toEqual({
      directorURL: `https://${mtls.host}/director/graphql`,
      certificateSecuredConnectorURL: `https://${mtls.host}/connector/graphql`,
    });
    expect(mtls.port).toBe(String(sim.mtlsPort));
    expect(result.token.token).toMatch(/^[A-Za-z0-9_-]{86}==$/);
    expect(result.token.token).not.toBe(t1.token);
    expect(res.json.errors).toBeUndefined();
  });

  test("CN is the SystemAuth id, not the runtime id", async () => {
    const t = newToken();
    const res = await configuration(t.token);
    expect(t.systemAuthId).not.toBe(t.runtime.id);
    expect(res.json.data.result.certificateSigningRequestInfo.subject).toMatch(new RegExp(`CN=${t.systemAuthId}$`));
  });

  test("a token works once", async () => {
    const t = newToken();
    expect((await configuration(t.token)).json.data).not.toBeNull();
    const again = await configuration(t.token);
    expectRefused(again);
  });

  test("an expired token is rejected after the clock moves past its TTL", async () => {
    const t = newToken();
    const expiresAt = Date.parse(t.expiresAt);
    expect(expiresAt - Date.parse(t.createdAt)).toBe(60 * 60 * 1000);
    sim.advanceClock(60 * 60 + 1);
    const res = await configuration(t.token);
    expectRefused(res);
    // Expired tokens are not burned: the state still shows it unused.
    const snapshot = sim.state.snapshot().systemAuths.find((s) => s.id === t.systemAuthId);
    expect(snapshot?.oneTimeToken).toMatchObject({ used: false, expired: true });
  });

  test("a token just before its expiry still works", async () => {
    const t = newToken();
    sim.advanceClock(60 * 60 - 5);
    expect((await configuration(t.token)).json.data.result.token.token).toBeTypeOf("string");
  });

  test("the token from configuration signs once; the first token cannot sign", async () => {
    const t1 = newToken();
    const config = (await configuration(t1.token)).json.data.result;
    const csr = await opensslCsr(dir.path, config.certificateSigningRequestInfo.subject);
    const withT1 = await graphqlCall(sim.connectorUrl, signMutation(csr.csrArgument), { ca, token: t1.token });
    expectRefused(withT1);
    const t2 = config.token.token as string;
    const signed = await graphqlCall(sim.connectorUrl, signMutation(csr.csrArgument), { ca, token: t2 });
    expect(signed.status).toBe(200);
    expect(Object.keys(signed.json.data.result).sort()).toEqual(["caCertificate", "certificateChain", "clientCertificate"]);
    const twice = await graphqlCall(sim.connectorUrl, signMutation(csr.csrArgument), { ca, token: t2 });
    expectRefused(twice);
  });

  test("a token burned by a failed sign (bad CSR) cannot be reused", async () => {
    const t1 = newToken();
    const config = (await configuration(t1.token)).json.data.result;
    const t2 = config.token.token as string;
    const bad = await graphqlCall(sim.connectorUrl, signMutation("!!!not-base64!!!"), { ca, token: t2 });
    expect(bad.json.errors[0].message).toBe(
      "Error while decoding Certificate Signing Request: Error while parsing base64 content. Incorrect value provided.",
    );
    const csr = await opensslCsr(dir.path, config.certificateSigningRequestInfo.subject);
    const retry = await graphqlCall(sim.connectorUrl, signMutation(csr.csrArgument), { ca, token: t2 });
    expectRefused(retry);
  });

  test("a token is burned even when the request fails GraphQL validation", async () => {
    const t = newToken();
    const invalid = await graphqlCall(sim.connectorUrl, "query { nope }", { ca, token: t.token });
    expect(invalid.status).toBe(422);
    expectRefused(await configuration(t.token));
  });

  test("configuration regenerates the token of the same SystemAuth: an earlier unused token stops matching", async () => {
    const t1 = newToken();
    const first = (await configuration(t1.token)).json.data.result.token.token as string;
    // Re-issue for the same SystemAuth (Director requestOneTimeTokenForRuntime with systemAuthID).
    const reissued = sim.issueToken(t1.runtime.id, { systemAuthId: t1.systemAuthId });
    expect(reissued.systemAuthId).toBe(t1.systemAuthId);
    expectRefused(await configuration(first));
    const ok = await configuration(reissued.token);
    expect(ok.json.data.result.certificateSigningRequestInfo.subject).toContain(`CN=${t1.systemAuthId}`);
  });

  test("the token may come as ?token= query parameter", async () => {
    const t = newToken();
    const res = await httpCall(`${sim.connectorUrl}?token=${encodeURIComponent(t.token)}`, {
      ca,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: CONFIGURATION_QUERY }),
    });
    expect(res.json.data.result.certificateSigningRequestInfo.subject).toContain(`CN=${t.systemAuthId}`);
  });

  test("forged gateway headers do not authenticate", async () => {
    const t = newToken();
    const res = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, {
      ca,
      headers: {
        "client-id-from-token": t.systemAuthId,
        "client-id-from-certificate": t.systemAuthId,
        "certificate-data": `Hash=${"a".repeat(64)};Subject="CN=${t.systemAuthId},C=DE,ST=province,L=locality,OU=OrgUnit,O=Org"`,
        authorization: "Bearer eyJhbGciOiJub25lIn0.e30.",
      },
    });
    expectRefused(res);
  });

  test("no token at all", async () => {
    const res = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca });
    expectRefused(res);
  });

  test("revokeCertificate needs a certificate", async () => {
    const t = newToken();
    const res = await graphqlCall(sim.connectorUrl, REVOKE_MUTATION, { ca, token: t.token });
    expect(res.json).toEqual({
      errors: [
        {
          message: "Failed to authenticate with certificate: Failed to authenticate with Certificate. Invalid subject.",
          path: ["result"],
        },
      ],
      data: null,
    });
  });

  test("the error path follows the field name when there is no alias", async () => {
    const res = await graphqlCall(sim.connectorUrl, "mutation { revokeCertificate }", { ca, token: newToken().token });
    expect(res.json.errors[0].path).toEqual(["revokeCertificate"]);
  });

  test("variables and operationName are supported", async () => {
    const t1 = newToken();
    const config = (await configuration(t1.token)).json.data.result;
    const csr = await opensslCsr(dir.path, config.certificateSigningRequestInfo.subject);
    const res = await httpCall(sim.connectorUrl, {
      ca,
      headers: { "content-type": "application/json; charset=utf-8", "connector-token": config.token.token },
      body: JSON.stringify({
        query:
          "query Other { configuration { token { token } } } mutation Sign($csr: String!) { signCertificateSigningRequest(csr: $csr) { clientCertificate } }",
        variables: { csr: csr.csrArgument },
        operationName: "Sign",
      }),
    });
    expect(res.status).toBe(200);
    expect(res.json.data.signCertificateSigningRequest.clientCertificate).toBeTypeOf("string");
  });
});

describe("HTTP behaviour", () => {
  // Every request carries a fresh token: without one, Oathkeeper's 400 comes before any of these answers.
  const withToken = () => ({ ca, token: newToken().token });

  test("parse errors answer 422 GRAPHQL_PARSE_FAILED with gqlparser's message and the location", async () => {
    const res = await graphqlCall(sim.connectorUrl, "query {", withToken());
    expect(res.status).toBe(422);
    expect(res.json).toEqual({
      errors: [{ message: "Expected Name, found <EOF>", locations: [{ line: 1, column: 8 }], extensions: { code: "GRAPHQL_PARSE_FAILED" } }],
      data: null,
    });
  });

  test("validation errors answer 422 GRAPHQL_VALIDATION_FAILED", async () => {
    const res = await graphqlCall(sim.connectorUrl, "{ configuration { nope } }", withToken());
    expect(res.status).toBe(422);
    expect(res.json.errors[0]).toMatchObject({
      message: 'Cannot query field "nope" on type "Configuration".',
      extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
    });
  });

  test("missing required argument / bad variables answer 422", async () => {
    const missing = await graphqlCall(sim.connectorUrl, "mutation { signCertificateSigningRequest { clientCertificate } }", withToken());
    expect(missing.status).toBe(422);
    const badVariables = await httpCall(sim.connectorUrl, {
      ca,
      headers: { "content-type": "application/json", "connector-token": newToken().token },
      body: JSON.stringify({
        query: "mutation ($csr: String!) { signCertificateSigningRequest(csr: $csr) { clientCertificate } }",
        variables: {},
      }),
    });
    expect(badVariables.status).toBe(422);
    expect(badVariables.json.errors[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  test("GET ?query= is answered and spends the token like POST; mutations over GET are 406", async () => {
    const t = newToken();
    const url = `${sim.connectorUrl}?query=${encodeURIComponent(CONFIGURATION_QUERY)}`;
    const res = await httpCall(url, { ca, method: "GET", headers: { "connector-token": t.token } });
    expect(res.status).toBe(200);
    expect(res.json.data.result.certificateSigningRequestInfo.subject).toContain(`CN=${t.systemAuthId}`);
    expectRefused(await httpCall(url, { ca, method: "GET", headers: { "connector-token": t.token } }));
    const mutation = `${sim.connectorUrl}?query=${encodeURIComponent("mutation { revokeCertificate }")}`;
    const refused = await httpCall(mutation, { ca, method: "GET", headers: { "connector-token": newToken().token } });
    expect(refused.status).toBe(406);
    expect(refused.json.errors[0].message).toBe("GET requests only allow query operations");
  });

  test("methods other than GET and POST answer 405", async () => {
    const res = await httpCall(sim.connectorUrl, { ca, method: "PUT", headers: { "connector-token": newToken().token } });
    expect(res.status).toBe(405);
    expect(res.headers["allow"]).toBe("GET, POST");
  });

  test("a body that is not JSON answers 400 with Go's decoder error and the body; the token is spent anyway", async () => {
    const t = newToken();
    const cases: Array<[string, string]> = [
      ["configuration, please", "invalid character 'c' looking for beginning of value"],
      ["{", "unexpected EOF"],
      ["", "EOF"],
      ['{"query": 5}', "json: cannot unmarshal number into Go struct field RawParams.query of type string"],
    ];
    for (const [body, error] of cases) {
      const res = await httpCall(sim.connectorUrl, { ca, headers: { "content-type": "application/json", "connector-token": newToken().token }, body });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ errors: [{ message: `json request body could not be decoded: ${error} body:${body}` }], data: null });
    }
    await httpCall(sim.connectorUrl, { ca, headers: { "content-type": "application/json", "connector-token": t.token }, body: "nope" });
    expectRefused(await configuration(t.token));
  });

  test("a content type other than JSON answers 400 transport not supported", async () => {
    const form = await httpCall(sim.connectorUrl, {
      ca,
      headers: { "content-type": "application/x-www-form-urlencoded", "connector-token": newToken().token },
      body: JSON.stringify({ query: CONFIGURATION_QUERY }),
    });
    expect(form.status).toBe(400);
    expect(form.json.errors[0].message).toBe("transport not supported");
  });

  test("bodies over 1 MiB answer 413", async () => {
    const res = await httpCall(sim.connectorUrl, {
      ca,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `{ configuration { token { token } } } #${"x".repeat(1024 * 1024)}` }),
    });
    expect(res.status).toBe(413);
  });

  test("healthz answers 200 ok; unknown paths 404; no Director on the token listener", async () => {
    const health = await httpCall(sim.connectorUrl.replace("/graphql", "/healthz"), { ca, method: "GET" });
    expect(health.status).toBe(200);
    expect(health.text).toBe("ok");
    const director = await httpCall(sim.connectorUrl.replace("/connector/graphql", "/director/graphql"), {
      ca,
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(director.status).toBe(404);
  });

  test("the server certificate is not publicly trusted", async () => {
    await expect(
      httpCall(sim.connectorUrl, { headers: { "content-type": "application/json" }, body: "{}" }),
    ).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  test("requests are logged per operation", async () => {
    const t = newToken();
    await configuration(t.token);
    const entry = sim.state.requestLog.at(-1)!;
    expect(entry).toMatchObject({
      listener: "token",
      api: "connector",
      operations: ["configuration"],
      identity: { systemAuthId: t.systemAuthId, via: "token" },
      status: 200,
      errors: [],
    });
  });
});
