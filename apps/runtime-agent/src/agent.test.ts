import { expect, test } from "vitest";
import { stopGraceMs } from "./agent.js";
import { loadConfig } from "./config/load.js";

// A replica that lost its Lease must be gone before another may take the Lease over (leaseDuration - renewDeadline
// after its step-down, at the earliest): its stop waits for the aborted cycle for less than that.
test.each([
  ["the defaults (15 s / 10 s / 2 s)", {}],
  ["short leases (4 s / 3 s / 0.5 s)", { APP_LEADER_ELECTION_LEASE_DURATION: "4s", APP_LEADER_ELECTION_RENEW_DEADLINE: "3s", APP_LEADER_ELECTION_RETRY_PERIOD: "500ms" }],
  ["a thin margin (10 s / 9.9 s / 2 s)", { APP_LEADER_ELECTION_LEASE_DURATION: "10s", APP_LEADER_ELECTION_RENEW_DEADLINE: "9900ms" }],
  ["a wide margin (60 s / 10 s / 2 s)", { APP_LEADER_ELECTION_LEASE_DURATION: "60s" }],
])("stop grace < lease duration - renew deadline: %s", (_name, env) => {
  const config = loadConfig(env);
  const grace = stopGraceMs(config);
  expect(grace).toBeGreaterThan(0);
  expect(grace).toBeLessThan(config.leaseDuration - config.renewDeadline);
  // And within the CLI's 10 s shutdown deadline, with room for releasing the Lease and closing connections.
  expect(grace).toBeLessThanOrEqual(5_000);
});
