import { describe, expect, test } from "vitest";
import { ConfigError, describeConfig, loadConfig } from "./load.js";

describe("loadConfig", () => {
  test("the defaults are those of Kyma's Go agent", () => {
    const config = loadConfig({});
    expect(config.agentConfigurationSecret).toEqual({ namespace: "kyma-system", name: "compass-agent-configuration" });
    expect(config.controllerSyncPeriod).toBe(20_000);
    expect(config.minimalCompassSyncTime).toBe(10_000);
    expect(config.certValidityRenewalThreshold).toBe(0.3);
    expect(config.clusterCertificatesSecret).toEqual({ namespace: "kyma-system", name: "cluster-client-certificates" });
    expect(config.caCertificatesSecret).toEqual({ namespace: "istio-system", name: "ca-certificates" });
    expect(config.skipCompassTlsVerify).toBe(false);
    expect(config.skipAppsTlsVerify).toBe(false);
    expect(config.centralGatewayServiceUrl).toBe("http://central-application-gateway.kyma-system.svc.cluster.local:8082");
    expect(config.queryLogging).toBe(false);
    expect(config.metricsLoggingTimeInterval).toBe(1_800_000);
    expect(config.healthPort).toBe(8090);
    expect(config.integrationNamespace).toBe("kyma-system");
    expect(config.runtimeEventsUrl).toBe("https://gateway.kyma.local");
    expect(config.runtimeConsoleUrl).toBe("https://console.kyma.local");
    expect(config.gatewayPort).toBe(8080);
    expect(config.compassCaFile).toBeUndefined();
  });

  test("environment variables override defaults and flags override both", () => {
    const config = loadConfig(
      { APP_CONTROLLER_SYNC_PERIOD: "180s", APP_CA_CERTIFICATES_SECRET: "istio-system/kyma-gateway-certs-cacert", APP_SKIP_COMPASS_TLS_VERIFY: "true" },
      { "controller-sync-period": "5s" },
    );
    expect(config.controllerSyncPeriod).toBe(5_000);
    expect(config.caCertificatesSecret).toEqual({ namespace: "istio-system", name: "kyma-gateway-certs-cacert" });
    expect(config.skipCompassTlsVerify).toBe(true);
  });

  test("every invalid value is reported, naming its variable", () => {
    let error: unknown;
    try {
      loadConfig({ APP_HEALTH_PORT: "99999", APP_CERT_VALIDITY_RENEWAL_THRESHOLD: "2", APP_CONTROLLER_SYNC_PERIOD: "soon", APP_RUNTIME_EVENTS_URL: "ftp://x" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of ["APP_HEALTH_PORT", "APP_CERT_VALIDITY_RENEWAL_THRESHOLD", "APP_CONTROLLER_SYNC_PERIOD", "APP_RUNTIME_EVENTS_URL"]) {
      expect(problems).toContain(name);
    }
  });

  test("leader election timings must nest", () => {
    expect(() => loadConfig({ APP_LEADER_ELECTION_RENEW_DEADLINE: "20s" })).toThrow(/RENEW_DEADLINE/);
  });

  // The elector's own rule (k8s-store's leaderElectionTimingProblems), with the variables named: a timing the
  // configuration accepts is one the elector accepts.
  test.each([
    [{}, []],
    [{ APP_LEADER_ELECTION_LEASE_DURATION: "4s", APP_LEADER_ELECTION_RENEW_DEADLINE: "3s", APP_LEADER_ELECTION_RETRY_PERIOD: "500ms" }, []],
    [{ APP_LEADER_ELECTION_RETRY_PERIOD: "9s" }, ["APP_LEADER_ELECTION_RETRY_PERIOD", "APP_LEADER_ELECTION_RENEW_DEADLINE"]],
    [{ APP_LEADER_ELECTION_LEASE_DURATION: "9s" }, ["APP_LEADER_ELECTION_RENEW_DEADLINE", "APP_LEADER_ELECTION_LEASE_DURATION"]],
    [{ APP_LEADER_ELECTION_LEASE_DURATION: "10s" }, ["APP_LEADER_ELECTION_RENEW_DEADLINE", "APP_LEADER_ELECTION_LEASE_DURATION"]],
  ])("leader election timings %j: problems name %j", (env, named) => {
    let problems: string[] = [];
    try {
      loadConfig(env);
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    if (named.length === 0) expect(problems).toEqual([]);
    for (const name of named) expect(problems.join("\n")).toContain(name);
  });

  test("describeConfig shows durations and names as written", () => {
    const shown = describeConfig(loadConfig({}));
    expect(shown.APP_CONTROLLER_SYNC_PERIOD).toBe("20s");
    expect(shown.APP_METRICS_LOGGING_TIME_INTERVAL).toBe("30m");
    expect(shown.APP_AGENT_CONFIGURATION_SECRET).toBe("kyma-system/compass-agent-configuration");
    expect(shown.APP_CERT_VALIDITY_RENEWAL_THRESHOLD).toBe(0.3);
  });
});
