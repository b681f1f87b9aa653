// The Connector client behind an HTTP CONNECT proxy (compass-sim's startConnectProxy on loopback), against the
// simulator over real TLS and mTLS. The simulator is advertised as compass.proxy.test, a name only the proxy resolves:
// a call that succeeds went through the proxy. (Loopback targets are never proxied, as in Go; see src/proxy.ts.)
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { startCompassSimulator, startConnectProxy } from "@runtime-agent/compass-sim";
import type { CompassSimulator, ConnectProxy } from "@runtime-agent/compass-sim";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  clientCertificateOf,
  CompassTransport,
  ConnectorClient,
  ConnectorError,
  ConnectorErrorCode,
  pairWithToken,
  renewWithCertificate,
} from "../src/index.js";
import { CONNECTED_CHANNEL, type ProxyConfig } from "../src/index.js";
import { makeServerTls } from "./support/tls-fixtures.js";

const HOST = "compass.proxy.test";
const PASSWORD = "pr0xy-s3cret";
const KEY_SIZE = 2048;
let sim: CompassSimulator;
let proxy: ConnectProxy;
let proxyConfig: ProxyConfig;

beforeAll(async () => {
  sim = await startCompassSimulator({ advertisedHost: HOST });
  proxy = await startConnectProxy({ hosts: { [HOST]: "127.0.0.1" }, credentials: { username: "agent", password: PASSWORD } });
  proxyConfig = { httpsProxy: `http://agent:${PASSWORD}@127.0.0.1:${proxy.port}` };
});
afterAll(async () => {
  await proxy?.close();
  await sim?.close();
});
afterEach(() => {
  proxy.refuse = undefined;
});

const tls = () => ({ caPem: sim.serverCaPem });
const tokenTarget = () => `${HOST}:${sim.tokenPort}`;
const mtlsTarget = () => `${HOST}:${sim.mtlsPort}`;

function newToken(): string {
  const runtime = sim.createRuntime({ name: `rt-${Math.random().toString(36).slice(2, 8)}` });
  return sim.issueToken(runtime.id).token;
}

async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectorError);
  return error as ConnectorError;
}

/** The ALPN protocol of every connection the transport opens while `run` runs (over the tunnel: negotiated with Compass). */
async function alpnDuring(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (message: unknown) => seen.push(String((message as { socket: Socket & { alpnProtocol?: string | false } }).socket.alpnProtocol));
  subscribe(CONNECTED_CHANNEL, listener);
  try {
    await run();
  } finally {
    unsubscribe(CONNECTED_CHANNEL, listener);
  }
  return seen;
}

describe("through the proxy", { timeout: 30_000 }, () => {
  test("the name is only reachable through the proxy (without it, the call fails with a DNS error)", async () => {
    const error = await rejection(pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), keySize: KEY_SIZE }));
    expect(error.code).toBe(ConnectorErrorCode.UNAVAILABLE);
    expect(error.message).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });

  test("pairing (token listener) and renewal (mTLS listener) go through CONNECT tunnels, over HTTP/2, with the client certificate end to end", async () => {
    const before = proxy.connects.length;
    let credentials!: Awaited<ReturnType<typeof pairWithToken>>;
    const pairingAlpn = await alpnDuring(async () => {
      credentials = await pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), proxy: proxyConfig, keySize: KEY_SIZE });
    });
    expect(credentials.configuration.certificateSecuredConnectorUrl).toBe(sim.certSecuredConnectorUrl);
    const pairing = proxy.connects.slice(before);
    expect(pairing.map((c) => [c.target, c.status])).toEqual([[tokenTarget(), 200]]);
    // The credentials from the proxy URL, as Basic auth, on the CONNECT only.
    expect(pairing[0]?.proxyAuthorization).toBe(`Basic ${Buffer.from(`agent:${PASSWORD}`).toString("base64")}`);
    expect(pairingAlpn).toEqual(["h2"]);

    const mark = sim.state.requestLog.length;
    let renewed!: Awaited<ReturnType<typeof renewWithCertificate>>;
    const renewalAlpn = await alpnDuring(async () => {
      renewed = await renewWithCertificate(sim.certSecuredConnectorUrl, clientCertificateOf(credentials), { tls: tls(), proxy: proxyConfig, keySize: KEY_SIZE });
    });
    expect(proxy.connects.slice(before + 1).map((c) => [c.target, c.status])).toEqual([[mtlsTarget(), 200]]);
    expect(renewalAlpn).toEqual(["h2"]);
    // The simulator authenticated both renewal calls by the client certificate presented in the tunnelled handshake.
    const calls = sim.state.requestLog.slice(mark);
    expect(calls.map((r) => [r.listener, r.operations[0], r.status])).toEqual([
      ["mtls", "configuration", 200],
      ["mtls", "signCertificateSigningRequest", 200],
    ]);
    expect(calls.every((r) => r.certificateFingerprint === credentials.certificate.fingerprintSha256)).toBe(true);
    expect(renewed.certificate.fingerprintSha256).not.toBe(credentials.certificate.fingerprintSha256);
  });

  test("a shared transport keeps tunnelling after the certificate is replaced (new Agent, new tunnel, new certificate)", async () => {
    const first = await pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), proxy: proxyConfig, keySize: KEY_SIZE });
    const second = await renewWithCertificate(sim.certSecuredConnectorUrl, clientCertificateOf(first), { tls: tls(), proxy: proxyConfig, keySize: KEY_SIZE });
    const transport = new CompassTransport({ tls: tls(), proxy: proxyConfig, clientCertificate: clientCertificateOf(first) });
    const client = new ConnectorClient({ url: sim.certSecuredConnectorUrl, auth: { clientCertificate: clientCertificateOf(first) }, transport });
    try {
      const before = proxy.connects.length;
      const mark = sim.state.requestLog.length;
      await client.configuration();
      client.setClientCertificate(clientCertificateOf(second));
      await client.configuration();
      expect(proxy.connects.slice(before).map((c) => [c.target, c.status])).toEqual([
        [mtlsTarget(), 200],
        [mtlsTarget(), 200],
      ]);
      expect(sim.state.requestLog.slice(mark).map((r) => r.certificateFingerprint)).toEqual([
        first.certificate.fingerprintSha256,
        second.certificate.fingerprintSha256,
      ]);
    } finally {
      await transport.close();
    }
  });

  test("percent-encoded credentials in the proxy URL are decoded for Proxy-Authorization", async () => {
    const credentials = { username: "corp\\agent", password: "p@ss:w0rd/%" };
    const strict = await startConnectProxy({ hosts: { [HOST]: "127.0.0.1" }, credentials });
    const url = `http://${encodeURIComponent(credentials.username)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${strict.port}`;
    const client = new ConnectorClient({ url: sim.connectorUrl, auth: { token: newToken() }, tls: tls(), proxy: { httpsProxy: url } });
    try {
      await expect(client.configuration()).resolves.toMatchObject({ token: expect.any(String) });
      expect(strict.connects.map((c) => c.status)).toEqual([200]);
    } finally {
      await client.close();
      await strict.close();
    }
  });

  test("an https:// proxy: TLS to the proxy, and inside it TLS to Compass", async () => {
    const proxyTls = makeServerTls();
    const secure = await startConnectProxy({ hosts: { [HOST]: "127.0.0.1" }, tls: proxyTls });
    try {
      // caPem trusts the proxy's CA as well: the proxy's certificate is checked like Compass's.
      const credentials = await pairWithToken(sim.connectorUrl, newToken(), {
        tls: { caPem: `${sim.serverCaPem}\n${proxyTls.caPem}` },
        proxy: { httpsProxy: secure.url },
        keySize: KEY_SIZE,
      });
      expect(credentials.configuration.directorUrl).toBe(sim.directorUrl);
      expect(secure.connects.map((c) => [c.target, c.status])).toEqual([[tokenTarget(), 200]]);
      // Without trust in the proxy's certificate, nothing is sent to it.
      const error = await rejection(pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), proxy: { httpsProxy: secure.url }, keySize: KEY_SIZE }));
      expect(error.code).toBe(ConnectorErrorCode.PROXY_FAILED);
      expect(secure.connects).toHaveLength(1);
    } finally {
      await secure.close();
    }
  });
});

describe("NO_PROXY", { timeout: 30_000 }, () => {
  test.each([".proxy.test", HOST, `${HOST}:{tokenPort}`, "*"])("%s: the proxy sees nothing; the call goes direct (and cannot resolve the name)", async (entry) => {
    const before = proxy.connects.length;
    const noProxy = `other.example.com, ${entry.replace("{tokenPort}", String(sim.tokenPort))}`;
    const error = await rejection(pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), proxy: { ...proxyConfig, noProxy }, keySize: KEY_SIZE }));
    expect(proxy.connects.length).toBe(before);
    expect(error.code).toBe(ConnectorErrorCode.UNAVAILABLE);
    expect(error.message).toContain(HOST);
    expect(error.message).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });

  test("an entry for another port does not bypass", async () => {
    const before = proxy.connects.length;
    await pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), proxy: { ...proxyConfig, noProxy: `${HOST}:${sim.tokenPort + 1}` }, keySize: KEY_SIZE });
    expect(proxy.connects.slice(before).map((c) => c.target)).toEqual([tokenTarget()]);
  });
});

describe("a proxy that refuses", { timeout: 30_000 }, () => {
  test("wrong credentials: CONNECTOR_PROXY_FAILED with the 407, no credentials in the message, and the token is not spent", async () => {
    const token = newToken();
    const wrong = { httpsProxy: `http://agent:wr0ng-pa55@127.0.0.1:${proxy.port}` };
    const error = await rejection(pairWithToken(sim.connectorUrl, token, { tls: tls(), proxy: wrong, keySize: KEY_SIZE }));
    expect(error.code).toBe(ConnectorErrorCode.PROXY_FAILED);
    expect(error.retryable).toBe(true);
    expect(error.operation).toBe("configuration");
    expect(error.message).toContain(`proxy http://127.0.0.1:${proxy.port} answered CONNECT ${tokenTarget()} with HTTP 407 Proxy Authentication Required`);
    expect(error.message).not.toMatch(/wr0ng-pa55|agent:/);
    expect(proxy.connects.at(-1)).toMatchObject({ target: tokenTarget(), status: 407 });
    // Nothing reached Compass: the same token pairs through the proxy with the right credentials.
    await expect(pairWithToken(sim.connectorUrl, token, { tls: tls(), proxy: proxyConfig, keySize: KEY_SIZE })).resolves.toBeTruthy();
  });

  test.each([403, 502])("CONNECT answered %i: CONNECTOR_PROXY_FAILED", async (status) => {
    proxy.refuse = status;
    const error = await rejection(pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), proxy: proxyConfig, keySize: KEY_SIZE }));
    expect(error.code).toBe(ConnectorErrorCode.PROXY_FAILED);
    expect(error.message).toContain(`with HTTP ${status}`);
    expect(error.message).not.toContain(PASSWORD);
    expect(proxy.connects.at(-1)).toMatchObject({ target: tokenTarget(), status });
  });

  test("an unreachable proxy: CONNECTOR_PROXY_FAILED naming the proxy (without credentials) and the socket error", async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const error = await rejection(
      pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), proxy: { httpsProxy: `http://agent:${PASSWORD}@127.0.0.1:${closed}` }, keySize: KEY_SIZE }),
    );
    expect(error.code).toBe(ConnectorErrorCode.PROXY_FAILED);
    expect(error.message).toContain(`cannot reach proxy http://127.0.0.1:${closed}`);
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).not.toContain(PASSWORD);
  });

  test("a proxy that accepts the connection but never answers CONNECT: CONNECTOR_PROXY_FAILED after the connect timeout", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    const transport = new CompassTransport({ tls: tls(), proxy: { httpsProxy: `http://127.0.0.1:${port}` }, connectTimeoutMs: 300 });
    const client = new ConnectorClient({ url: sim.connectorUrl, auth: { token: newToken() }, transport });
    try {
      const error = await rejection(client.configuration());
      expect(error.code).toBe(ConnectorErrorCode.PROXY_FAILED);
      expect(error.message).toContain(`proxy http://127.0.0.1:${port} did not open a tunnel to ${tokenTarget()} within 300 ms`);
    } finally {
      await transport.close();
      silent.close();
    }
  });

  test("the mTLS listener behind a refusing proxy: CONNECTOR_PROXY_FAILED, not a TLS or availability error", async () => {
    const credentials = await pairWithToken(sim.connectorUrl, newToken(), { tls: tls(), proxy: proxyConfig, keySize: KEY_SIZE });
    proxy.refuse = 403;
    const client = new ConnectorClient({ url: sim.certSecuredConnectorUrl, auth: { clientCertificate: clientCertificateOf(credentials) }, tls: tls(), proxy: proxyConfig });
    try {
      const error = await rejection(client.configuration());
      expect(error.code).toBe(ConnectorErrorCode.PROXY_FAILED);
      expect(error.message).toContain(`CONNECT ${mtlsTarget()} with HTTP 403`);
    } finally {
      await client.close();
    }
  });
});
