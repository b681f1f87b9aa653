// pnpm --filter @runtime-agent/cert-manager bench — RSA key generation (WebCrypto) and CSR creation times.
// Prints a table, then one JSON record as the last line. Runs per size: BENCH_KEYGEN_RUNS (default 10).
import { performance } from "node:perf_hooks";
import { createCsr, generateKeyPair } from "../src/index.js";

const RUNS = Number(process.env.BENCH_KEYGEN_RUNS ?? 10);
const SUBJECT = "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=a0aa0faf-4ac5-44c3-8e79-9a551eeaac75";

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

const rows: {
  modulusLength: number;
  keygenP50Ms: number;
  keygenP95Ms: number;
  keygenMaxMs: number;
  csrP50Ms: number;
}[] = [];
for (const modulusLength of [2048, 4096]) {
  const keygen: number[] = [];
  const csr: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let start = performance.now();
    const key = await generateKeyPair({ modulusLength });
    keygen.push(performance.now() - start);
    start = performance.now();
    await createCsr(SUBJECT, key);
    csr.push(performance.now() - start);
  }
  rows.push({
    modulusLength,
    keygenP50Ms: Math.round(percentile(keygen, 50)),
    keygenP95Ms: Math.round(percentile(keygen, 95)),
    keygenMaxMs: Math.round(Math.max(...keygen)),
    csrP50Ms: Math.round(percentile(csr, 50) * 10) / 10,
  });
}

console.log("bits   keygen p50 (ms)   p95 (ms)   max (ms)   createCsr p50 (ms)");
for (const r of rows) {
  console.log(
    `${String(r.modulusLength).padEnd(6)} ${String(r.keygenP50Ms).padStart(15)}   ${String(r.keygenP95Ms).padStart(8)}   ` +
      `${String(r.keygenMaxMs).padStart(8)}   ${String(r.csrP50Ms).padStart(18)}`,
  );
}
console.log(JSON.stringify({ bench: "keygen", runs: RUNS, node: process.version, results: rows }));
