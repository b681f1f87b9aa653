import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConnectorClient, ConnectorError, ConnectorErrorCode } from "../src/index.js";
import { json, LoopbackServer, notAuthenticated } from "./support/loopback-server.js";
import type { Handler, Protocol } from "./support/loopback-server.js";
import { makeServerTls } from "./support/tls-fixtures.js";

const tls = makeServerTls();

async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectorError);
  return error as ConnectorError;
}

const goodConfiguration = {
  data: {
    result: {
      token: { token: "T2" },
      certificateSigningRequestInfo: { subject: "O=Org,OU=OrgUnit,L=l,ST=s,C=DE,CN=abc", keyAlgorithm: "rsa2048" },
      managementPlaneInfo: {
        directorURL: "https://mtls.example/director/graphql",
        certificateSecuredConnectorURL: "https://mtls.example/connector/graphql",
      },
    },
  },
};

// undici offers h2 by ALPN, as against real Compass's ingress; node:https speaks HTTP/1.1 only.
describe.each<[Protocol, string]>([
  ["http/1.1", "1.1"],
  ["h2", "2.0"],
])("ConnectorClient over a loopback server (%s)", (protocol, httpVersion) => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await new LoopbackServer({ protocol, tls }).start("/connector/graphql");
  });
  afterAll(() => server.close());
  function client(options: Partial<ConstructorParameters<typeof ConnectorClient>[0]> = {}): ConnectorClient {
    return new ConnectorClient({ url: server.url, auth: { token: "T1-secret" }, tls: { caPem: tls.caPem }, ...options });
  }

  test("sends the token, a request id and the typed query; returns a checked configuration", async () => {
    server.handler = json(200, goodConfiguration);
    server.seen.length = 0;
    const c = client();
    const config = await c.configuration({ requestId: "rid-1" });
    await c.close();
    expect(config).toEqual({
      token: "T2",
      subject: "O=Org,OU=OrgUnit,L=l,ST=s,C=DE,CN=abc",
      keyAlgorithm: "rsa2048",
      directorUrl: "https://mtls.example/director/graphql",
      certificateSecuredConnectorUrl: "https://mtls.example/connector/graphql",
    });
    expect(server.seen[0]?.httpVersion).toBe(httpVersion);
    expect(server.seen[0]?.headers["connector-token"]).toBe("T1-secret");
    expect(server.seen[0]?.headers["x-request-id"]).toBe("rid-1");
    expect(JSON.parse(server.seen[0]?.body ?? "{}").query).toContain("result: configuration");
  });

  test("withToken switches the Connector-Token header and generates a request id", async () => {
    server.handler = json(200, { data: { result: { certificateChain: "a", caCertificate: "b", clientCertificate: "c" } } });
    server.seen.length = 0;
    const c = client();
    const signed = await c.withToken("T2-secret").signCertificateSigningRequest("Q1NS");
    await c.close();
    expect(signed).toEqual({ certificateChain: "a", caCertificate: "b", clientCertificate: "c" });
    expect(server.seen[0]?.headers["connector-token"]).toBe("T2-secret");
    expect(server.seen[0]?.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(server.seen[0]?.body ?? "{}").variables).toEqual({ csr: "Q1NS" });
  });

  const cases: [string, Handler, ConnectorErrorCode, boolean][] = [
    [
      "auth GraphQL error",
      json(200, {
        errors: [{ message: "Failed to authenticate request. Token authentication error: Failed to authenticate with one time token.." }],
        data: null,
      }),
      ConnectorErrorCode.AUTH_FAILED,
      false,
    ],
    [
      "CSR refused",
      json(200, {
        errors: [{ message: "Error while signing Certificate Signing Request: CSR: Invalid common name provided." }],
        data: null,
      }),
      ConnectorErrorCode.REJECTED,
      false,
    ],
    ["HTTP 400 with an empty body (real Compass: not authenticated)", notAuthenticated, ConnectorErrorCode.NOT_AUTHENTICATED, false],
    ["HTTP 400 with a JSON error", json(400, { errors: [{ message: "json request body could not be decoded" }], data: null }), ConnectorErrorCode.BAD_RESPONSE, true],
    ["HTTP 401", (_q, _b, res) => res.writeHead(401).end("no"), ConnectorErrorCode.AUTH_FAILED, false],
    ["HTTP 401 with a JSON error", json(401, { errors: [{ message: "Unauthorized" }], data: null }), ConnectorErrorCode.AUTH_FAILED, false],
    ["HTTP 503 text", (_q, _b, res) => res.writeHead(503).end("upstream connect error"), ConnectorErrorCode.UNAVAILABLE, true],
    ["HTTP 503 with Retry-After", json(503, {}, { "retry-after": "3" }), ConnectorErrorCode.UNAVAILABLE, true],
    ["HTTP 429", json(429, { message: "slow down" }, { "retry-after": "7" }), ConnectorErrorCode.UNAVAILABLE, true],
    ["200 {}", json(200, {}), ConnectorErrorCode.BAD_RESPONSE, true],
    ["200 non-JSON", (_q, _b, res) => res.writeHead(200, { "content-type": "application/json" }).end("<html>"), ConnectorErrorCode.BAD_RESPONSE, true],
    ["null configuration fields", json(200, { data: { result: { token: null, certificateSigningRequestInfo: null, managementPlaneInfo: null } } }), ConnectorErrorCode.BAD_RESPONSE, true],
    [
      "management URL that is not https",
      json(200, {
        data: {
          result: {
            ...goodConfiguration.data.result,
            managementPlaneInfo: { directorURL: "http://plain/director", certificateSecuredConnectorURL: "https://x/c" },
          },
        },
      }),
      ConnectorErrorCode.BAD_RESPONSE,
      true,
    ],
    ["connection reset", (req) => req.socket.destroy(), ConnectorErrorCode.UNAVAILABLE, true],
  ];

  test.each(cases)("%s maps to its code", async (_name, h, code, retryable) => {
    server.handler = h;
    const c = client();
    const error = await failure(c.configuration());
    await c.close();
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.operation).toBe("configuration");
    expect(error.message).not.toContain("T1-secret");
  });

  test("an empty HTTP 400 names both causes: refused credentials, or Compass's own authentication failing", async () => {
    server.handler = notAuthenticated;
    const c = client();
    const error = await failure(c.configuration());
    await c.close();
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/one-time token was used, expired or unknown/);
    expect(error.message).toMatch(/client certificate is revoked or unknown/);
    expect(error.message).toMatch(/Compass's own authentication is failing/);
    expect(error.message).toMatch(/token is not spent/);
  });

  test("503 carries Retry-After in milliseconds", async () => {
    server.handler = json(503, {}, { "retry-after": "3" });
    const c = client();
    const error = await failure(c.configuration());
    await c.close();
    expect(error).toMatchObject({ status: 503, retryAfterMs: 3000 });
  });

  test("429 carries Retry-After in milliseconds", async () => {
    server.handler = json(429, {}, { "retry-after": "7" });
    const c = client();
    const error = await failure(c.configuration());
    await c.close();
    expect(error.retryAfterMs).toBe(7000);
    expect(error.status).toBe(429);
  });

  test("a slow answer times out", async () => {
    server.handler = (_req, _body, res) => setTimeout(() => res.writeHead(200).end("{}"), 2_000).unref();
    const c = client({ timeoutMs: 150 });
    const error = await failure(c.configuration());
    await c.close();
    expect(error.code).toBe(ConnectorErrorCode.TIMEOUT);
    expect(error.retryable).toBe(true);
  });

  test("the caller's AbortSignal aborts the call", async () => {
    server.handler = (_req, _body, res) => setTimeout(() => res.writeHead(200).end("{}"), 2_000).unref();
    const c = client();
    const controller = new AbortController();
    const pending = c.configuration({ signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await failure(pending);
    await c.close();
    expect(error.code).toBe(ConnectorErrorCode.ABORTED);
  });

  test("an untrusted server certificate is a TLS failure unless verification is skipped", async () => {
    server.handler = json(200, goodConfiguration);
    const untrusted = client({ tls: {} });
    const error = await failure(untrusted.configuration());
    await untrusted.close();
    expect(error.code).toBe(ConnectorErrorCode.TLS_FAILED);
    expect(error.retryable).toBe(false);

    const skipping = client({ tls: { insecureSkipTlsVerify: true } });
    await expect(skipping.configuration()).resolves.toMatchObject({ token: "T2" });
    await skipping.close();
  });

  test("after a reset connection the same client connects again", async () => {
    const c = client();
    server.handler = (req) => req.socket.destroy();
    expect((await failure(c.configuration())).code).toBe(ConnectorErrorCode.UNAVAILABLE);
    server.handler = json(200, goodConfiguration);
    await expect(c.configuration()).resolves.toMatchObject({ token: "T2" });
    await c.close();
  });

  test("a refused port is unavailable", async () => {
    const c = new ConnectorClient({ url: "https://127.0.0.1:1/connector/graphql", auth: { token: "x" } });
    const error = await failure(c.configuration());
    await c.close();
    expect(error.code).toBe(ConnectorErrorCode.UNAVAILABLE);
  });
});

// Real Compass's mTLS listener refuses a handshake without a client certificate. With TLS 1.3 the client learns it
// only from an alert after its side of the handshake; over h2 undici then kept the destroyed session, and every later
// call on the transport failed with ERR_HTTP2_INVALID_SESSION, reported as an outage (real-compass README item 18).
describe.each<Protocol>(["http/1.1", "h2"])("a listener that requires a client certificate (%s)", (protocol) => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await new LoopbackServer({ protocol, tls, clientCaPem: tls.caPem }).start("/connector/graphql");
    server.handler = json(200, goodConfiguration);
  });
  afterAll(() => server.close());

  test("every call on one client without a certificate is a TLS failure, never an outage", async () => {
    const c = new ConnectorClient({ url: server.url, auth: { token: "irrelevant" }, tls: { caPem: tls.caPem } });
    for (let call = 1; call <= 3; call++) {
      const error = await failure(c.configuration());
      expect({ call, code: error.code, retryable: error.retryable }).toEqual({ call, code: ConnectorErrorCode.TLS_FAILED, retryable: false });
      expect(error.message).toMatch(/CERTIFICATE_REQUIRED|certificate required/i);
    }
    await c.close();
    expect(server.seen).toHaveLength(0);
  });
});
