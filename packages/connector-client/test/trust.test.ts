// Which server certificates a CompassTransport trusts: Node's default roots (which include NODE_EXTRA_CA_CERTS) and,
// beside them, the CA given as tls.caPem. Real sockets: a loopback HTTPS server per CA.
import { getCACertificates, setDefaultCACertificates } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { CompassTransport } from "../src/index.js";
import { json, LoopbackServer } from "./support/loopback-server.js";
import { makeServerTls, type ServerTls } from "./support/tls-fixtures.js";

let defaultRootsTls: ServerTls;
let givenTls: ServerTls;
let signedByDefaultRoot: LoopbackServer;
let signedByGivenCa: LoopbackServer;
const defaults = getCACertificates("default");

beforeAll(async () => {
  defaultRootsTls = makeServerTls();
  givenTls = makeServerTls();
  signedByDefaultRoot = await new LoopbackServer({ protocol: "h2", tls: defaultRootsTls }).start("/graphql");
  signedByGivenCa = await new LoopbackServer({ protocol: "h2", tls: givenTls }).start("/graphql");
  for (const server of [signedByDefaultRoot, signedByGivenCa]) server.handler = json(200, { data: {} });
});
afterEach(() => setDefaultCACertificates(defaults));
afterAll(async () => {
  await Promise.all([signedByDefaultRoot.close(), signedByGivenCa.close()]);
});

async function status(caPem: string, url: string): Promise<number | string> {
  const transport = new CompassTransport({ tls: { caPem } });
  try {
    const response = await transport.fetch(url, { method: "POST", body: "{}" });
    await response.body?.cancel();
    return response.status;
  } catch (error) {
    return String((error as { cause?: { code?: string } }).cause?.code ?? error);
  } finally {
    await transport.close();
  }
}

describe("trust", () => {
  test("the given CA and, beside it, Node's default roots", async () => {
    // This process's default roots gain the first server's CA (as NODE_EXTRA_CA_CERTS would add it).
    setDefaultCACertificates([...defaults, defaultRootsTls.caPem]);
    expect(await status(givenTls.caPem, signedByGivenCa.url)).toBe(200);
    expect(await status(givenTls.caPem, signedByDefaultRoot.url)).toBe(200);
  });

  test("neither a default root nor the given CA: the handshake fails", async () => {
    expect(await status(givenTls.caPem, signedByDefaultRoot.url)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i);
  });
});
