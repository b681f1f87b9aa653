/**
 * The TLS listeners' transports (HTTP/2 and HTTP/1.1 by ALPN), the Director outage (Compass's authentication chain
 * failing) and the legacy Connector answers. Real sockets: node:http2 and node:https clients against the simulator.
 */
import { readFile } from "node:fs/promises";
import { connect, constants } from "node:http2";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCompassSimulator, type CompassSimulator } from "../src/index.js";
import { pair, type PairedRuntime } from "./support/pairing.js";
import { CONFIGURATION_QUERY, expectRefused, graphqlCall, httpCall, tempDir, UNAUTHENTICATED } from "./support/tools.js";

let sim: CompassSimulator;
let ca: string;
let dir: Awaited<ReturnType<typeof tempDir>>;
let paired: PairedRuntime;

beforeAll(async () => {
  dir = await tempDir();
  sim = await startCompassSimulator();
  ca = await readFile(sim.serverCaFile, "utf8");
  paired = await pair(sim, ca, dir.path);
});

afterAll(async () => {
  await sim?.close();
  await dir?.remove();
});

interface H2Answer {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  alpn: string | false | undefined;
}

/** One request over a fresh HTTP/2 session. */
function h2Call(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; cert?: string; key?: string }): Promise<H2Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const session = connect(target.origin, { ca, ...(options.cert ? { cert: options.cert, key: options.key } : {}) });
    session.on("error", reject);
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: options.method ?? "POST",
      [constants.HTTP2_HEADER_PATH]: target.pathname + target.search,
      ...options.headers,
    });
    const chunks: Buffer[] = [];
    let headers: Record<string, unknown> = {};
    stream.on("response", (received) => (headers = received));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status: Number(headers[constants.HTTP2_HEADER_STATUS]), headers, text: Buffer.concat(chunks).toString("utf8"), alpn });
    });
    stream.on("error", reject);
    stream.end(options.body);
  });
}

const json = { "content-type": "application/json" };

describe("HTTP/2 and HTTP/1.1 on both TLS listeners", () => {
  test("token listener: h2 is negotiated; configuration works; the refusal is 400 with no body", async () => {
    const token = sim.issueToken(paired.runtimeId).token;
    const ok = await h2Call(sim.connectorUrl, { headers: { ...json, "connector-token": token }, body: JSON.stringify({ query: CONFIGURATION_QUERY }) });
    expect(ok.alpn).toBe("h2");
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).data.result.token.token).toHaveLength(88);
    const refused = await h2Call(sim.connectorUrl, { headers: { ...json, "connector-token": token }, body: JSON.stringify({ query: CONFIGURATION_QUERY }) });
    expect({ status: refused.status, type: refused.headers["content-type"], length: refused.headers["content-length"], text: refused.text }).toEqual({
      status: 400,
      type: "application/json;charset=UTF-8",
      length: "0",
      text: "",
    });
  });

  test("mTLS listener: h2 with the client certificate; Connector and Director answer; other methods 405", async () => {
    const cert = { cert: paired.certPem, key: paired.keyPem };
    const config = await h2Call(sim.certSecuredConnectorUrl, { ...cert, headers: json, body: JSON.stringify({ query: CONFIGURATION_QUERY }) });
    expect(config.alpn).toBe("h2");
    expect(JSON.parse(config.text).data.result.certificateSigningRequestInfo.subject).toBe(paired.subject);
    const query = encodeURIComponent(`{ runtime(id: "${paired.runtimeId}") { id } }`);
    const director = await h2Call(`${sim.directorUrl}?query=${query}`, { ...cert, method: "GET" });
    expect(JSON.parse(director.text)).toEqual({ data: { runtime: { id: paired.runtimeId } } });
    const put = await h2Call(sim.directorUrl, { ...cert, method: "PUT", headers: json, body: "{}" });
    expect(put.status).toBe(405);
    expect(put.headers["allow"]).toBe("GET, POST");
  });

  test("HTTP/1.1 clients are still served on both listeners", async () => {
    const token = sim.issueToken(paired.runtimeId).token;
    expect((await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca, token })).status).toBe(200);
    expectRefused(await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca, token }));
    const mtls = await graphqlCall(sim.certSecuredConnectorUrl, CONFIGURATION_QUERY, { ca, cert: paired.certPem, key: paired.keyPem });
    expect(mtls.status).toBe(200);
    expect((await httpCall(sim.directorUrl, { ca, cert: paired.certPem, key: paired.keyPem, method: "DELETE" })).status).toBe(405);
  });

  test("without a client certificate the h2 handshake is refused before any HTTP", async () => {
    await expect(h2Call(sim.certSecuredConnectorUrl, { headers: json, body: "{}" })).rejects.toThrow(/certificate required|socket hang up|ECONNRESET/i);
  });
});

describe("Director outage (Compass's authentication chain failing)", () => {
  test("a token refused during the outage is not spent: the same token pairs afterwards", async () => {
    const token = sim.issueToken(paired.runtimeId).token;
    sim.startDirectorOutage();
    try {
      expectRefused(await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca, token }));
      expectRefused(await graphqlCall(sim.certSecuredConnectorUrl, CONFIGURATION_QUERY, { ca, cert: paired.certPem, key: paired.keyPem }));
      const director = await graphqlCall(sim.directorUrl, `{ runtime(id: "${paired.runtimeId}") { id } }`, { ca, cert: paired.certPem, key: paired.keyPem });
      expect(director.status).toBe(503);
      expect(director.text).toBe("no healthy upstream");
    } finally {
      expect(sim.endDirectorOutage()).toBe(true);
    }
    const after = await graphqlCall(sim.connectorUrl, CONFIGURATION_QUERY, { ca, token });
    expect(after.status).toBe(200);
    expect(after.json.data.result.certificateSigningRequestInfo.subject).toContain("CN=");
  });

  test("admin API: PUT starts it with the Director's answer, GET shows it, DELETE ends it", async () => {
    const route = `${sim.adminUrl}/admin/outages/director`;
    const started = await httpCall(route, { method: "PUT", headers: json, body: JSON.stringify({ status: 502 }) });
    expect(started.json).toEqual({ directorOutage: { status: 502 } });
    expect((await httpCall(route, { method: "GET" })).json).toEqual({ directorOutage: { status: 502 } });
    const director = await graphqlCall(sim.directorUrl, "{ __typename }", { ca, cert: paired.certPem, key: paired.keyPem });
    expect(director.status).toBe(502);
    expect((await httpCall(route, { method: "DELETE" })).json).toEqual({ ended: true });
    expect((await httpCall(route, { method: "PUT", headers: json, body: JSON.stringify({ times: 2 }) })).status).toBe(400);
    expect((await httpCall(route, { method: "GET" })).json).toEqual({ directorOutage: null });
  });
});

describe("legacyConnectorAnswers", () => {
  test("unauthenticated Connector calls get HTTP 200 with the GraphQL error; GET gets 405", async () => {
    const legacy = await startCompassSimulator({ legacyConnectorAnswers: true });
    try {
      const legacyCa = await readFile(legacy.serverCaFile, "utf8");
      const res = await graphqlCall(legacy.connectorUrl, CONFIGURATION_QUERY, { ca: legacyCa });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ errors: [{ message: UNAUTHENTICATED, path: ["result"] }], data: null });
      const get = await httpCall(legacy.connectorUrl, { ca: legacyCa, method: "GET" });
      expect(get.status).toBe(405);
      expect(get.headers["allow"]).toBe("POST");
    } finally {
      await legacy.close();
    }
  });
});
