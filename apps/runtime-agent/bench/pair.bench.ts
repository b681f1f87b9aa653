// pnpm bench:pair — 10 pairings (RSA-4096) against the Compass simulator over real TLS.
// Prints a table, then one JSON record as the last line.
import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { generateKeyPair } from "@runtime-agent/cert-manager";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import { pairWithToken } from "@runtime-agent/connector-client";
import { SimAdmin } from "../test/support/admin.js";
import { percentile, round } from "./stats.js";

const RUNS = Number(process.env.BENCH_PAIR_RUNS ?? 10);
const KEY_SIZE = Number(process.env.BENCH_PAIR_KEY_SIZE ?? 4096);

const sim = await startCompassSimulator({});
try {
  const admin = new SimAdmin(sim.adminUrl);
  const caPem = await readFile(sim.serverCaFile, "utf8");
  const flow: number[] = [];
  const keygen: number[] = [];

  for (let i = 0; i < RUNS; i++) {
    const runtime = await admin.createRuntime(`bench-${i}`);
    const { token, connectorURL } = await admin.issueToken(runtime.id);
    const start = performance.now();
    const credentials = await pairWithToken(connectorURL, token, { tls: { caPem }, keySize: KEY_SIZE });
    flow.push(performance.now() - start);
    if (credentials.certificate.fingerprintSha256.length !== 64) throw new Error("pairing returned no certificate");
  }
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await generateKeyPair({ modulusLength: KEY_SIZE });
    keygen.push(performance.now() - start);
  }

  const record = {
    bench: "pair",
    runs: RUNS,
    keySize: KEY_SIZE,
    flowP50Seconds: round(percentile(flow, 50) / 1000),
    flowP95Seconds: round(percentile(flow, 95) / 1000),
    keygenP50Seconds: round(percentile(keygen, 50) / 1000),
    keygenP95Seconds: round(percentile(keygen, 95) / 1000),
    targetFlowP50Seconds: 3,
  };
  console.log("measure                  p50 (s)   p95 (s)");
  console.log(`pairing, whole flow      ${record.flowP50Seconds.toFixed(3).padStart(7)}   ${record.flowP95Seconds.toFixed(3).padStart(7)}`);
  console.log(`key generation alone     ${record.keygenP50Seconds.toFixed(3).padStart(7)}   ${record.keygenP95Seconds.toFixed(3).padStart(7)}`);
  console.log(JSON.stringify(record));
} finally {
  await sim.close();
}
