// The DirectorClient behind an HTTP CONNECT proxy (compass-sim's startConnectProxy on loopback), against the simulator
// over mTLS. The simulator is advertised as compass.proxy.test, a name only the proxy resolves: a call that succeeds
// went through the proxy (loopback targets are never proxied, as in Go).
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { startCompassSimulator, startConnectProxy } from "@runtime-agent/compass-sim";
import type { CompassSimulator, ConnectProxy } from "@runtime-agent/compass-sim";
import { clientCertificateOf, CONNECTED_CHANNEL, pairWithToken } from "@runtime-agent/connector-client";
import type { ProxyConfig, RuntimeCredentials } from "@runtime-agent/connector-client";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { DirectorClient, DirectorErrorCode } from "../src/index.js";
import { failure } from "./support/failure.js";

const HOST = "compass.proxy.test";
const PASSWORD = "pr0xy-s3cret";
const FORMATION = "PROXIED";
let sim: CompassSimulator;
let proxy: ConnectProxy;
let proxyConfig: ProxyConfig;
let runtimeId: string;
let credentials: RuntimeCredentials;

beforeAll(async () => {
  sim = await startCompassSimulator({ advertisedHost: HOST });
  proxy = await startConnectProxy({ hosts: { [HOST]: "127.0.0.1" }, credentials: { username: "agent", password: PASSWORD } });
  proxyConfig = { httpsProxy: `http://agent:${PASSWORD}@127.0.0.1:${proxy.port}` };
  const runtime = sim.createRuntime({ name: "dc-proxied", formations: [FORMATION] });
  runtimeId = runtime.id;
  sim.createApplication({ name: "erp", formations: [FORMATION] });
  sim.createApplication({ name: "crm", formations: [FORMATION] });
  const { token, connectorURL } = sim.issueToken(runtime.id);
  credentials = await pairWithToken(connectorURL, token, { tls: { caPem: sim.serverCaPem }, proxy: proxyConfig, keySize: 2048 });
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  await sim?.close();
});
afterEach(() => {
  proxy.refuse = undefined;
});

const mtlsTarget = () => `${HOST}:${sim.mtlsPort}`;
const client = (proxy: ProxyConfig | undefined) =>
  new DirectorClient({ url: sim.directorUrl, clientCertificate: clientCertificateOf(credentials), tls: { caPem: sim.serverCaPem }, proxy });

test("labels, applications and a label write go through one CONNECT tunnel to the mTLS listener, over HTTP/2, with the client certificate", async () => {
  const director = client(proxyConfig);
  const before = proxy.connects.length;
  const mark = sim.state.requestLog.length;
  const alpn: string[] = [];
  const onConnected = (message: unknown) => alpn.push(String((message as { socket: Socket & { alpnProtocol?: string | false } }).socket.alpnProtocol));
  subscribe(CONNECTED_CHANNEL, onConnected);
  try {
    const listing = await director.listApplicationsForRuntime(runtimeId);
    expect(listing.applications.map((a) => a.name).sort()).toEqual(["mp-crm", "mp-erp"]);
    await director.setRuntimeLabel(runtimeId, "runtime_consoleUrl", "https://console.example.com");
    expect(await director.getRuntimeLabels(runtimeId)).toMatchObject({ runtime_consoleUrl: "https://console.example.com" });
  } finally {
    unsubscribe(CONNECTED_CHANNEL, onConnected);
    await director.close();
  }
  expect(proxy.connects.slice(before).map((c) => [c.target, c.status])).toEqual([[mtlsTarget(), 200]]);
  expect(alpn).toEqual(["h2"]);
  const calls = sim.state.requestLog.slice(mark);
  expect(calls.length).toBeGreaterThanOrEqual(3);
  expect(calls.every((r) => r.api === "director" && r.status === 200 && r.certificateFingerprint === credentials.certificate.fingerprintSha256)).toBe(true);
});

test("without the proxy the Director's name does not resolve; NO_PROXY sends the call direct (the proxy sees nothing)", async () => {
  const before = proxy.connects.length;
  for (const config of [undefined, { ...proxyConfig, noProxy: ".proxy.test" }]) {
    const director = client(config);
    try {
      const error = await failure(director.getRuntimeLabels(runtimeId));
      expect(error.code).toBe(DirectorErrorCode.UNAVAILABLE);
      expect(error.message).toMatch(/ENOTFOUND|EAI_AGAIN/);
    } finally {
      await director.close();
    }
  }
  expect(proxy.connects.length).toBe(before);
});

describe("a proxy that refuses", { timeout: 30_000 }, () => {
  test.each([403, 407, 502])("CONNECT answered %i: DIRECTOR_PROXY_FAILED (retryable), no credentials in the message", async (status) => {
    proxy.refuse = status;
    const director = client(proxyConfig);
    try {
      const error = await failure(director.listApplicationsForRuntime(runtimeId));
      expect(error).toMatchObject({ code: DirectorErrorCode.PROXY_FAILED, retryable: true, operation: "listApplicationsForRuntime" });
      expect(error.message).toContain(`proxy http://127.0.0.1:${proxy.port} answered CONNECT ${mtlsTarget()} with HTTP ${status}`);
      expect(error.message).not.toContain(PASSWORD);
      expect(proxy.connects.at(-1)).toMatchObject({ target: mtlsTarget(), status });
    } finally {
      await director.close();
    }
  });

  test("an unreachable proxy: DIRECTOR_PROXY_FAILED", async () => {
    const closed = await startConnectProxy();
    await closed.close();
    const director = client({ httpsProxy: `http://agent:${PASSWORD}@127.0.0.1:${closed.port}` });
    try {
      const error = await failure(director.getRuntimeLabels(runtimeId));
      expect(error.code).toBe(DirectorErrorCode.PROXY_FAILED);
      expect(error.message).toContain(`cannot reach proxy http://127.0.0.1:${closed.port}`);
      expect(error.message).not.toContain(PASSWORD);
    } finally {
      await director.close();
    }
  });
});
