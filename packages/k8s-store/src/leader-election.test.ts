import { describe, expect, it } from "vitest";
import { K8sStoreError } from "./errors.js";
import { LeaderElector, leaderElectionTimingProblems } from "./leader-election.js";
import type { K8sClient } from "./client.js";

// One rule for leader-election timings (client-go's): 0 < retryPeriod × 1.2 < renewDeadline < leaseDuration. The
// elector's constructor and the agent's configuration check both use leaderElectionTimingProblems, so a timing
// that passes one passes the other.
const s = (seconds: number) => seconds * 1000;

describe("leaderElectionTimingProblems", () => {
  it.each([
    ["the defaults (15 s / 10 s / 2 s)", s(15), s(10), s(2)],
    ["short test timings (4 s / 3 s / 0.5 s)", s(4), s(3), 500],
    ["a retry just inside the jitter (lease 15 s / renew 10 s / retry 8.3 s)", s(15), s(10), 8_300],
    ["fractional seconds", 9_500, 9_000, 1_000],
  ])("valid: %s", (_name, leaseDurationMs, renewDeadlineMs, retryPeriodMs) => {
    expect(leaderElectionTimingProblems({ leaseDurationMs, renewDeadlineMs, retryPeriodMs })).toEqual([]);
  });

  it.each([
    ["renew deadline equal to the lease", s(10), s(10), s(2), ["renewDeadlineMs", "leaseDurationMs"]],
    ["renew deadline longer than the lease (lease 9 s / renew 10 s)", s(9), s(10), s(2), ["renewDeadlineMs", "leaseDurationMs"]],
    ["retry within the jitter of the renew deadline (retry 9 s / renew 10 s)", s(15), s(10), s(9), ["retryPeriodMs", "renewDeadlineMs"]],
    ["retry equal to the renew deadline", s(15), s(10), s(10), ["retryPeriodMs", "renewDeadlineMs"]],
    ["a zero retry period", s(15), s(10), 0, ["retryPeriodMs"]],
    ["a negative lease", -1, s(10), s(2), ["leaseDurationMs"]],
  ])("invalid: %s", (_name, leaseDurationMs, renewDeadlineMs, retryPeriodMs, named) => {
    const problems = leaderElectionTimingProblems({ leaseDurationMs, renewDeadlineMs, retryPeriodMs });
    expect(problems.length).toBeGreaterThan(0);
    for (const name of named) expect(problems.join("\n")).toContain(name);
  });

  it("names each duration as the caller calls it (the agent: its APP_* variables)", () => {
    const problems = leaderElectionTimingProblems(
      { leaseDurationMs: s(15), renewDeadlineMs: s(10), retryPeriodMs: s(9) },
      { leaseDurationMs: "APP_LEADER_ELECTION_LEASE_DURATION", renewDeadlineMs: "APP_LEADER_ELECTION_RENEW_DEADLINE", retryPeriodMs: "APP_LEADER_ELECTION_RETRY_PERIOD" },
    );
    expect(problems).toEqual([
      "APP_LEADER_ELECTION_RETRY_PERIOD × 1.2 (jitter) must be shorter than APP_LEADER_ELECTION_RENEW_DEADLINE: the leader must get a renewal attempt in before it gives up",
    ]);
  });

  it("the elector refuses exactly the timings the rule refuses", () => {
    const client = {} as K8sClient; // the constructor sends nothing
    const cases = [
      { leaseDurationMs: s(15), renewDeadlineMs: s(10), retryPeriodMs: s(2) },
      { leaseDurationMs: s(15), renewDeadlineMs: s(10), retryPeriodMs: s(9) },
      { leaseDurationMs: s(9), renewDeadlineMs: s(10), retryPeriodMs: s(2) },
      { leaseDurationMs: s(4), renewDeadlineMs: s(3), retryPeriodMs: 500 },
    ];
    for (const timing of cases) {
      const problems = leaderElectionTimingProblems(timing);
      const construct = () => new LeaderElector(client, { namespace: "ns", name: "lease", identity: "me", ...timing });
      if (problems.length === 0) expect(construct).not.toThrow();
      else expect(construct).toThrow(new K8sStoreError("K8S_INVALID", `leader election: ${problems.join("; ")}`));
    }
  });
});
