import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConnectorClient, ConnectorError, ConnectorErrorCode } from "../src/index.js";
import { makeServerTls } from "./support/tls-fixtures.js";
import type { ServerTls } from "./support/tls-fixtures.js";

// A loopback HTTPS server that answers each request with whatever the current test scripted.
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let handler: Handler = (_req, _body, res) => res.end();
let tls: ServerTls;
let server: Server;
let url: string;
const seen: { headers: IncomingMessage["headers"]; body: string }[] = [];

beforeAll(async () => {
  tls = makeServerTls();
  server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      seen.push({ headers: req.headers, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/connector/graphql`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function json(status: number, payload: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, _body, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(payload));
  };
}

function client(options: Partial<ConstructorParameters<typeof ConnectorClient>[0]> = {}): ConnectorClient {
  return new ConnectorClient({ url, auth: { token: "T1-secret" }, tls: { caPem: tls.caPem }, ...options });
}

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

describe("ConnectorClient over a loopback server", () => {
  test("sends the token, a request id and the typed query; returns a checked configuration", async () => {
    handler = json(200, goodConfiguration);
    seen.length = 0;
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
    expect(seen[0]?.headers["connector-token"]).toBe("T1-secret");
    expect(seen[0]?.headers["x-request-id"]).toBe("rid-1");
    expect(JSON.parse(seen[0]?.body ?? "{}").query).toContain("result: configuration");
  });

  test("withToken switches the Connector-Token header and generates a request id", async () => {
    handler = json(200, { data: { result: { certificateChain: "a", caCertificate: "b", clientCertificate: "c" } } });
    seen.length = 0;
    const c = client();
    const signed = await c.withToken("T2-secret").signCertificateSigningRequest("Q1NS");
    await c.close();
    expect(signed).toEqual({ certificateChain: "a", caCertificate: "b", clientCertificate: "c" });
    expect(seen[0]?.headers["connector-token"]).toBe("T2-secret");
    expect(seen[0]?.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(seen[0]?.body ?? "{}").variables).toEqual({ csr: "Q1NS" });
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
    ["HTTP 401", (_q, _b, res) => res.writeHead(401).end("no"), ConnectorErrorCode.AUTH_FAILED, false],
    ["HTTP 503 text", (_q, _b, res) => res.writeHead(503).end("upstream connect error"), ConnectorErrorCode.UNAVAILABLE, true],
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
    handler = h;
    const c = client();
    const error = await failure(c.configuration());
    await c.close();
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.operation).toBe("configuration");
    expect(error.message).not.toContain("T1-secret");
  });

  test("429 carries Retry-After in milliseconds", async () => {
    handler = json(429, {}, { "retry-after": "7" });
    const c = client();
    const error = await failure(c.configuration());
    await c.close();
    expect(error.retryAfterMs).toBe(7000);
    expect(error.status).toBe(429);
  });

  test("a slow answer times out", async () => {
    handler = (_req, _body, res) => setTimeout(() => res.writeHead(200).end("{}"), 2_000).unref();
    const c = client({ timeoutMs: 150 });
    const error = await failure(c.configuration());
    await c.close();
    expect(error.code).toBe(ConnectorErrorCode.TIMEOUT);
    expect(error.retryable).toBe(true);
  });

  test("the caller's AbortSignal aborts the call", async () => {
    handler = (_req, _body, res) => setTimeout(() => res.writeHead(200).end("{}"), 2_000).unref();
    const c = client();
    const controller = new AbortController();
    const pending = c.configuration({ signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await failure(pending);
    await c.close();
    expect(error.code).toBe(ConnectorErrorCode.ABORTED);
  });

  test("an untrusted server certificate is a TLS failure unless verification is skipped", async () => {
    handler = json(200, goodConfiguration);
    const untrusted = client({ tls: {} });
    const error = await failure(untrusted.configuration());
    await untrusted.close();
    expect(error.code).toBe(ConnectorErrorCode.TLS_FAILED);
    expect(error.retryable).toBe(false);

    const skipping = client({ tls: { insecureSkipTlsVerify: true } });
    await expect(skipping.configuration()).resolves.toMatchObject({ token: "T2" });
    await skipping.close();
  });

  test("a refused port is unavailable", async () => {
    const c = new ConnectorClient({ url: "https://127.0.0.1:1/connector/graphql", auth: { token: "x" } });
    const error = await failure(c.configuration());
    await c.close();
    expect(error.code).toBe(ConnectorErrorCode.UNAVAILABLE);
  });
});
