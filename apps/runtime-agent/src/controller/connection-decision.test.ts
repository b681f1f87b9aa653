import { describe, expect, test } from "vitest";
import { decideConnection, nextRefusal } from "./connection-decision.js";
import type { ConnectionDecision, ConnectionObservation, Refusal } from "./connection-decision.js";

const NOW = 1_000_000;
const CERT = { fingerprint: "cert-a", notAfter: NOW + 3_600_000 };
const refused = (key: string, notBefore: number): Refusal => ({ key, attempts: 1, notBefore, reason: "refused" });

const base: ConnectionObservation = {
  now: NOW,
  pendingPairing: false,
  certificate: undefined,
  knowsConnectorUrl: false,
  certificateRefusal: undefined,
  token: undefined,
  spentToken: undefined,
  tokenRefusal: undefined,
};

const rows: [string, Partial<ConnectionObservation>, ConnectionDecision][] = [
  ["a first start with a token: pair", { token: "t1" }, { kind: "pair" }],
  ["no token, no certificate: wait for a token", {}, { kind: "wait", why: "no-token", retryAt: undefined }],
  ["a pairing not yet stored wins over everything", { pendingPairing: true, certificate: CERT, knowsConnectorUrl: true, token: "t1" }, { kind: "store-pairing" }],
  ["a working certificate: maintain, a new token is kept for later", { certificate: CERT, knowsConnectorUrl: true, token: "t2" }, { kind: "maintain" }],
  ["a certificate without the certificate-secured URL (CR deleted): the token", { certificate: CERT, token: "t2" }, { kind: "pair" }],
  ["an expired certificate: the token", { certificate: { ...CERT, notAfter: NOW }, knowsConnectorUrl: true, token: "t2" }, { kind: "pair" }],
  [
    "a refused certificate, a token not yet spent: the token at once",
    { certificate: CERT, knowsConnectorUrl: true, certificateRefusal: refused("cert-a", NOW + 10), token: "t2", spentToken: "t1" },
    { kind: "pair" },
  ],
  [
    "a refused certificate, only the spent token: wait for the certificate's retry",
    { certificate: CERT, knowsConnectorUrl: true, certificateRefusal: refused("cert-a", NOW + 10), token: "t1", spentToken: "t1" },
    { kind: "wait", why: "token-spent", retryAt: NOW + 10 },
  ],
  [
    "a refused certificate, no token: wait for its retry",
    { certificate: CERT, knowsConnectorUrl: true, certificateRefusal: refused("cert-a", NOW + 10) },
    { kind: "wait", why: "certificate-refused", retryAt: NOW + 10 },
  ],
  [
    "a refused certificate whose backoff is over: tried again",
    { certificate: CERT, knowsConnectorUrl: true, certificateRefusal: refused("cert-a", NOW), token: "t1", spentToken: "t1" },
    { kind: "maintain" },
  ],
  [
    "another certificate than the refused one (Secrets restored): used at once",
    { certificate: CERT, knowsConnectorUrl: true, certificateRefusal: refused("cert-b", NOW + 10) },
    { kind: "maintain" },
  ],
  ["a refused token in its backoff: wait", { token: "t1", tokenRefusal: refused("t1", NOW + 20) }, { kind: "wait", why: "token-refused", retryAt: NOW + 20 }],
  ["a refused token after its backoff: tried again", { token: "t1", tokenRefusal: refused("t1", NOW) }, { kind: "pair" }],
  ["a new token while the old one waits: used at once", { token: "t2", tokenRefusal: refused("t1", NOW + 20) }, { kind: "pair" }],
  [
    "both refused: the earlier retry",
    { certificate: CERT, knowsConnectorUrl: true, certificateRefusal: refused("cert-a", NOW + 30), token: "t1", tokenRefusal: refused("t1", NOW + 20) },
    { kind: "wait", why: "token-refused", retryAt: NOW + 20 },
  ],
  ["the spent token, no certificate: only a new token helps", { token: "t1", spentToken: "t1" }, { kind: "wait", why: "token-spent", retryAt: undefined }],
];

describe("decideConnection", () => {
  test.each(rows)("%s", (_name, observed, expected) => {
    expect(decideConnection({ ...base, ...observed })).toEqual(expected);
  });
});

describe("nextRefusal", () => {
  const delay = (attempts: number) => 1_000 * 2 ** (attempts - 1);
  test("the same credential refused again waits twice as long; another one starts over", () => {
    const first = nextRefusal(undefined, "t1", "r1", NOW, delay);
    expect(first).toEqual({ key: "t1", attempts: 1, notBefore: NOW + 1_000, reason: "r1" });
    const second = nextRefusal(first, "t1", "r2", NOW + 1_000, delay);
    expect(second).toEqual({ key: "t1", attempts: 2, notBefore: NOW + 3_000, reason: "r2" });
    expect(nextRefusal(second, "t2", "r3", NOW, delay)).toEqual({ key: "t2", attempts: 1, notBefore: NOW + 1_000, reason: "r3" });
  });
});
