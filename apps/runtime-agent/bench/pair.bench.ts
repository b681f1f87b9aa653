// pnpm bench:pair — pairings against the Compass simulator over real TLS, two rows:
//  1. the default: no key size given, as the agent pairs unless --key-size is set, so the key has the size the
//     Connector's `keyAlgorithm` names (the simulator answers "rsa2048", as real Compass does) and is generated
//     once `configuration` has named it;
//  2. RSA-4096 given explicitly (--key-size 4096; the size Kyma's Go agent always uses), generated while the
//     `configuration` call is in flight.
// BENCH_PAIR_RUNS pairings per row (default 10), the rows alternating so other load on the machine hits both alike;
// then key generation alone, as many times per size. Every pairing's key is checked to have the size its row
// names. Prints a table, then one JSON record as the last line: the default row's figures at the top level (the
// fields as before, plus `keyAlgorithm`), the explicit row's under `explicit`.
import { createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { generateKeyPair, modulusLengthFor } from "@runtime-agent/cert-manager";
import { startCompassSimulator } from "@runtime-agent/compass-sim";
import { pairWithToken } from "@runtime-agent/connector-client";
import { SimAdmin } from "../test/support/admin.js";
import { percentile, round } from "./stats.js";

const RUNS = Number(process.env.BENCH_PAIR_RUNS ?? 10);
/** The explicit size of the second row. */
const PINNED_KEY_SIZE = Number(process.env.BENCH_PAIR_KEY_SIZE ?? 4096);

interface Row {
  label: string;
  /** undefined: the agent's default (the Connector's keyAlgorithm decides). */
  keySize: number | undefined;
  /** The size the keys must have; known for the default row after the first pairing. */
  bits: number | undefined;
  keyAlgorithm: string;
  flow: number[];
  keygen: number[];
}

const rows: Row[] = [
  { label: "default, as Compass says", keySize: undefined, bits: undefined, keyAlgorithm: "", flow: [], keygen: [] },
  { label: `RSA-${PINNED_KEY_SIZE}, given (--key-size ${PINNED_KEY_SIZE})`, keySize: PINNED_KEY_SIZE, bits: PINNED_KEY_SIZE, keyAlgorithm: "", flow: [], keygen: [] },
];

const sim = await startCompassSimulator({});
try {
  const admin = new SimAdmin(sim.adminUrl);
  const caPem = await readFile(sim.serverCaFile, "utf8");

  for (let i = 0; i < RUNS; i++) {
    // Alternate which row goes first (ABBA), so that a burst of load elsewhere does not favour one row.
    for (const row of i % 2 === 0 ? rows : [...rows].reverse()) {
      const runtime = await admin.createRuntime(`bench-${i}-${row.keySize ?? "default"}`);
      const { token, connectorURL } = await admin.issueToken(runtime.id);
      const start = performance.now();
      const credentials = await pairWithToken(connectorURL, token, { tls: { caPem }, keySize: row.keySize });
      row.flow.push(performance.now() - start);
      if (credentials.certificate.fingerprintSha256.length !== 64) throw new Error("pairing returned no certificate");
      row.keyAlgorithm = credentials.configuration.keyAlgorithm;
      row.bits ??= modulusLengthFor(row.keyAlgorithm);
      const bits = createPrivateKey(credentials.privateKeyPem).asymmetricKeyDetails?.modulusLength;
      if (bits !== row.bits) throw new Error(`${row.label}: the pairing made a ${bits}-bit key, not ${row.bits} bits`);
    }
  }
  for (let i = 0; i < RUNS; i++) {
    for (const row of i % 2 === 0 ? rows : [...rows].reverse()) {
      const start = performance.now();
      await generateKeyPair({ modulusLength: row.bits });
      row.keygen.push(performance.now() - start);
    }
  }

  const figures = (row: Row) => ({
    keySize: row.bits as number,
    flowP50Seconds: round(percentile(row.flow, 50) / 1000),
    flowP95Seconds: round(percentile(row.flow, 95) / 1000),
    keygenP50Seconds: round(percentile(row.keygen, 50) / 1000),
    keygenP95Seconds: round(percentile(row.keygen, 95) / 1000),
  });
  const [main, pinned] = rows.map(figures) as [ReturnType<typeof figures>, ReturnType<typeof figures>];
  const record = {
    bench: "pair",
    runs: RUNS,
    keyAlgorithm: rows[0]?.keyAlgorithm,
    ...main,
    targetFlowP50Seconds: 3,
    explicit: pinned,
    loadAverage1m: round(loadavg()[0] ?? 0, 2),
  };
  const n = (x: number) => x.toFixed(3).padStart(7);
  const lines = [
    [rows[0] as Row, main],
    [rows[1] as Row, pinned],
  ].map(([row, f]) => {
    const r = row as Row;
    const x = f as ReturnType<typeof figures>;
    return [r.keySize === undefined ? `${r.label}: ${r.keyAlgorithm} → RSA-${x.keySize}` : r.label, x] as const;
  });
  const w = Math.max(...lines.map(([what]) => what.length));
  console.log(`${"key".padEnd(w)}   pairing p50     p95   key generation p50     p95   (seconds)`);
  for (const [what, f] of lines) console.log(`${what.padEnd(w)}       ${n(f.flowP50Seconds)} ${n(f.flowP95Seconds)}              ${n(f.keygenP50Seconds)} ${n(f.keygenP95Seconds)}`);
  console.log(`(${RUNS} runs per row; machine load average ${loadavg().map((l) => l.toFixed(2)).join(" ")})`);
  console.log(JSON.stringify(record));
} finally {
  await sim.close();
}
