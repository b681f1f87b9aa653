/**
 * Conformance: every exchange recorded against the REAL Compass (shared/reference/real-compass/transcripts, 47
 * transcripts) is replayed against the simulator, in recording order and on one simulator instance (state matters:
 * tokens get spent, certificate A2 gets revoked). Each exchange is one test: same status, same content type, and a
 * body with the same JSON paths, value types and values — volatile values excepted as the fixtures mark them.
 *
 * Fixtures: test/conformance/fixtures/ was derived once from the transcripts by `derive-fixtures.ts` (run by hand:
 * `pnpm exec tsx test/conformance/derive-fixtures.ts <transcripts folder>`); this test never reads ../shared. The
 * data set (dataset.json) is the transcripts' (tenant 3e64ebae-…, tenant "foo", rc-corpus-kyma with the 7 corpus
 * applications in rc-corpus-formation, rc-corpus-other with corpus-other-app), loaded through the public seed API
 * with the recorded ids, so ids compare exactly.
 *
 * A failing exchange prints every difference by JSON path (expected = real Compass, actual = simulator).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCompassSimulator, type CompassSimulator, type SeedData } from "../../src/index.js";
import { tempDir } from "../support/tools.js";
import { Bindings } from "./support/compare.js";
import type { FixtureFile } from "./support/fixture-types.js";
import { replayExchange, type ReplayContext } from "./support/replay.js";

const fixtures = join(import.meta.dirname, "fixtures");
const load = <T>(name: string): T => JSON.parse(readFileSync(join(fixtures, name), "utf8")) as T;
/** `file` or `file#i-j` (a part of a transcript, where the recording interleaved transcripts). */
const order = load<string[]>("order.json").map((entry) => {
  const [name, range] = entry.split("#") as [string, string | undefined];
  const [from, to] = (range ?? "").split("-").map(Number);
  return { name, from: range ? from! : 0, to: range ? (to ?? from!) : Number.MAX_SAFE_INTEGER };
});

let context: ReplayContext;
let sim: CompassSimulator;
let scratch: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  scratch = await tempDir("compass-sim-conformance-");
  // Compass quirk as recorded: every issued certificate has serial 2.
  sim = await startCompassSimulator({ seed: load<SeedData>("dataset.json"), serial2: true });
  context = { sim, bindings: new Bindings(), certificates: new Map(), dir: scratch.path };
});

afterAll(async () => {
  await sim?.close();
  await scratch?.remove();
});

describe("the simulator answers like real Compass", () => {
  for (const { name, from, to } of order) {
    const file = load<FixtureFile>(name);
    file.exchanges.forEach((exchange, index) => {
      if (index < from || index > to) return;
      it(`${name} #${index} ${exchange.label}`, async () => {
        const differences = await replayExchange(context, exchange);
        expect(differences, `${file.why}\n${differences.join("\n")}`).toEqual([]);
      });
    });
  }
});
