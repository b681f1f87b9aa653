// The flows against a Connector that answers like real Compass when it does not authenticate a call: HTTP 400 with an
// empty body. The error must come out of every flow unchanged, and pairing must not hand out a signing token when
// `configuration` itself was refused.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConnectorError, ConnectorErrorCode, pairWithToken, renewWithCertificate, revokeCertificate } from "../src/index.js";
import { json, LoopbackServer, notAuthenticated } from "./support/loopback-server.js";
import type { Handler } from "./support/loopback-server.js";
import { makeServerTls } from "./support/tls-fixtures.js";

const tls = makeServerTls();
let server: LoopbackServer;

beforeAll(async () => {
  server = await new LoopbackServer({ protocol: "h2", tls }).start("/connector/graphql");
});
afterAll(() => server.close());

const configuration = json(200, {
  data: {
    result: {
      token: { token: "T2-signing" },
      certificateSigningRequestInfo: { subject: "O=Org,OU=OrgUnit,L=l,ST=s,C=DE,CN=abc", keyAlgorithm: "rsa2048" },
      managementPlaneInfo: {
        directorURL: "https://mtls.example/director/graphql",
        certificateSecuredConnectorURL: "https://mtls.example/connector/graphql",
      },
    },
  },
});

/** Answers by operation name; operations not listed are not authenticated. */
function byOperation(handlers: Record<string, Handler>): Handler {
  return (req, body, res) => {
    const { operationName } = JSON.parse(body) as { operationName?: string };
    (handlers[operationName ?? ""] ?? notAuthenticated)(req, body, res);
  };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectorError);
  return error as ConnectorError;
}

const options = { tls: { caPem: tls.caPem }, keySize: 2048 };
// Any key and certificate will do: this server does not check client certificates.
const current = { keyPem: tls.keyPem, certificateChainPem: tls.certPem };

describe("CONNECTOR_NOT_AUTHENTICATED through the flows", () => {
  test("pairWithToken: refused at configuration, no signing token is handed out", async () => {
    server.handler = byOperation({});
    const signingTokens: string[] = [];
    const error = await rejection(pairWithToken(server.url, "T1", { ...options, onSigningToken: (t) => signingTokens.push(t) }));
    expect(error).toMatchObject({ code: ConnectorErrorCode.NOT_AUTHENTICATED, operation: "configuration", status: 400, retryable: false });
    expect(signingTokens).toEqual([]);
  });

  test("pairWithToken: refused at signing, after the signing token was handed out", async () => {
    server.handler = byOperation({ Configuration: configuration });
    const signingTokens: string[] = [];
    const error = await rejection(pairWithToken(server.url, "T1", { ...options, onSigningToken: (t) => signingTokens.push(t) }));
    expect(error).toMatchObject({ code: ConnectorErrorCode.NOT_AUTHENTICATED, operation: "signCertificateSigningRequest" });
    expect(signingTokens).toEqual(["T2-signing"]);
  });

  test("renewWithCertificate and revokeCertificate surface it unchanged", async () => {
    server.handler = byOperation({});
    const renewal = await rejection(renewWithCertificate(server.url, current, options));
    expect(renewal).toMatchObject({ code: ConnectorErrorCode.NOT_AUTHENTICATED, operation: "configuration", status: 400 });
    const revocation = await rejection(revokeCertificate(server.url, current, options));
    expect(revocation).toMatchObject({ code: ConnectorErrorCode.NOT_AUTHENTICATED, operation: "revokeCertificate", status: 400 });
  });
});
