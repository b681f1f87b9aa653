import { formatDuration, parseBool, parseFraction, parseGoDuration, parseNamespacedName, parsePort, parseUrl } from "./values.js";
import type { NamespacedName } from "./values.js";

/**
 * Every setting of the agent, in one table: environment variable, flag, default, parser and meaning.
 * The APP_* variables and defaults are those of Kyma's Go agent; the README's configuration table is generated
 * from this list (a test fails when they drift).
 */
interface Setting<T> {
  env: string;
  flag: string;
  /** The default as a user would write it; undefined = unset. */
  default: string | undefined;
  parse: (text: string) => T;
  description: string;
  /** Accepted for compatibility but not used. */
  unused?: boolean;
  /** Added by this project (not in Kyma's Go agent). */
  added?: boolean;
  /** How the parsed value is shown in the start-up log; String(value) when absent. */
  show?: (value: T) => string;
}

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

const logLevel = (value: string): "trace" | "debug" | "info" | "warn" | "error" => {
  const level = value.trim().toLowerCase();
  if (level === "trace" || level === "debug" || level === "info" || level === "warn" || level === "error") return level;
  throw new Error(`"${value}" is not a log level (trace, debug, info, warn, error)`);
};
const logFormat = (value: string): "json" | "text" => {
  if (value === "json" || value === "text") return value;
  throw new Error(`"${value}" is not a log format (json or text)`);
};
const positiveDuration = (value: string): number => {
  const ms = parseGoDuration(value);
  if (ms <= 0) throw new Error(`"${value}" must be a positive duration`);
  return ms;
};
const optionalFile = (value: string): string | undefined => (value.trim() === "" ? undefined : value.trim());
const namespace = (value: string): string => {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 63) throw new Error(`"${value}" is not a valid namespace`);
  return value;
};

export const SETTINGS = {
  agentConfigurationSecret: setting<NamespacedName>({
    env: "APP_AGENT_CONFIGURATION_SECRET",
    flag: "agent-configuration-secret",
    default: "kyma-system/compass-agent-configuration",
    parse: parseNamespacedName,
    show: (v) => `${v.namespace}/${v.name}`,
    description: "Secret with CONNECTOR_URL, TOKEN, RUNTIME_ID and TENANT (namespace/name).",
  }),
  controllerSyncPeriod: setting<number>({
    env: "APP_CONTROLLER_SYNC_PERIOD",
    flag: "controller-sync-period",
    default: "20s",
    parse: positiveDuration,
    show: formatDuration,
    description: "How often the connection is checked and applications are synchronized.",
  }),
  minimalCompassSyncTime: setting<number>({
    env: "APP_MINIMAL_COMPASS_SYNC_TIME",
    flag: "minimal-compass-sync-time",
    default: "10s",
    parse: positiveDuration,
    show: formatDuration,
    description: "Least time between two calls to Compass (unless spec.resyncNow); also used by the renewal rule.",
  }),
  certValidityRenewalThreshold: setting<number>({
    env: "APP_CERT_VALIDITY_RENEWAL_THRESHOLD",
    flag: "cert-validity-renewal-threshold",
    default: "0.3",
    parse: parseFraction,
    description: "Renew when less than this fraction of the certificate's validity remains.",
  }),
  clusterCertificatesSecret: setting<NamespacedName>({
    env: "APP_CLUSTER_CERTIFICATES_SECRET",
    flag: "cluster-certificates-secret",
    default: "kyma-system/cluster-client-certificates",
    parse: parseNamespacedName,
    show: (v) => `${v.namespace}/${v.name}`,
    description: "Secret for the client certificate: keys crt, key (PKCS#1) and crtChain.",
  }),
  caCertificatesSecret: setting<NamespacedName>({
    env: "APP_CA_CERTIFICATES_SECRET",
    flag: "ca-certificates-secret",
    default: "istio-system/ca-certificates",
    parse: parseNamespacedName,
    show: (v) => `${v.namespace}/${v.name}`,
    description: "Secret for Compass's CA certificate: key cacert.",
  }),
  skipCompassTlsVerify: setting<boolean>({
    env: "APP_SKIP_COMPASS_TLS_VERIFY",
    flag: "skip-compass-tls-verify",
    default: "false",
    parse: parseBool,
    description: "Do not verify Compass's server certificates (logged as a warning at start-up).",
  }),
  skipAppsTlsVerify: setting<boolean>({
    env: "APP_SKIP_APPS_TLS_VERIFY",
    flag: "skip-apps-tls-verify",
    default: "false",
    parse: parseBool,
    description: "Written to spec.skipVerify of every Application.",
  }),
  centralGatewayServiceUrl: setting<string>({
    env: "APP_CENTRAL_GATEWAY_SERVICE_URL",
    flag: "central-gateway-service-url",
    default: "http://central-application-gateway.kyma-system.svc.cluster.local:8082",
    parse: (value) => parseUrl(value, ["http:", "https:"]),
    description: "Prefix of every API entry's centralGatewayUrl.",
  }),
  queryLogging: setting<boolean>({
    env: "APP_QUERY_LOGGING",
    flag: "query-logging",
    default: "false",
    parse: parseBool,
    description: "Log every Compass call (operation, duration, outcome; never credentials) at info level.",
  }),
  metricsLoggingTimeInterval: setting<number>({
    env: "APP_METRICS_LOGGING_TIME_INTERVAL",
    flag: "metrics-logging-time-interval",
    default: "30m",
    parse: positiveDuration,
    show: formatDuration,
    description: "How often a summary of the agent's metrics is logged.",
  }),
  healthPort: setting<number>({
    env: "APP_HEALTH_PORT",
    flag: "health-port",
    default: "8090",
    parse: parsePort,
    description: "Port of /healthz and /readyz.",
  }),
  integrationNamespace: setting<string>({
    env: "APP_INTEGRATION_NAMESPACE",
    flag: "integration-namespace",
    default: "kyma-system",
    parse: namespace,
    description: "Namespace of the applications' credential and request-parameter Secrets.",
  }),
  runtimeEventsUrl: setting<string>({
    env: "APP_RUNTIME_EVENTS_URL",
    flag: "runtime-events-url",
    default: "https://gateway.kyma.local",
    parse: (value) => parseUrl(value, ["http:", "https:"]),
    description: "Reported to Compass as runtime label runtime_eventServiceUrl.",
  }),
  runtimeConsoleUrl: setting<string>({
    env: "APP_RUNTIME_CONSOLE_URL",
    flag: "runtime-console-url",
    default: "https://console.kyma.local",
    parse: (value) => parseUrl(value, ["http:", "https:"]),
    description: "Reported to Compass as runtime label runtime_consoleUrl.",
  }),
  gatewayPort: setting<number>({
    env: "APP_GATEWAY_PORT",
    flag: "gateway-port",
    default: "8080",
    parse: parsePort,
    description: "Accepted for compatibility with Kyma's agent; unused.",
    unused: true,
  }),
  compassCaFile: setting<string | undefined>({
    env: "APP_COMPASS_CA_FILE",
    flag: "compass-ca-file",
    default: undefined,
    parse: optionalFile,
    description: "PEM bundle trusted for Compass's server certificates, in addition to the system roots and NODE_EXTRA_CA_CERTS.",
    added: true,
  }),
  compassRequestTimeout: setting<number>({
    env: "APP_COMPASS_REQUEST_TIMEOUT",
    flag: "compass-request-timeout",
    default: "30s",
    parse: positiveDuration,
    show: formatDuration,
    description: "How long one request to Compass (Connector or Director) may take; then it fails with CONNECTOR_TIMEOUT or DIRECTOR_TIMEOUT.",
    added: true,
  }),
  metricsPort: setting<number>({
    env: "APP_METRICS_PORT",
    flag: "metrics-port",
    default: "8080",
    parse: parsePort,
    description: "Port of /metrics (Prometheus).",
    added: true,
  }),
  logLevel: setting({
    env: "APP_LOG_LEVEL",
    flag: "log-level",
    default: "info",
    parse: logLevel,
    description: "trace, debug, info, warn or error.",
    added: true,
  }),
  logFormat: setting({
    env: "APP_LOG_FORMAT",
    flag: "log-format",
    default: "json",
    parse: logFormat,
    description: "json (one object per line) or text.",
    added: true,
  }),
  leaderElection: setting<boolean>({
    env: "APP_LEADER_ELECTION",
    flag: "leader-election",
    default: "false",
    parse: parseBool,
    description: "Run several replicas; only the holder of the Lease talks to Compass and writes.",
    added: true,
  }),
  leaderElectionLease: setting<NamespacedName>({
    env: "APP_LEADER_ELECTION_LEASE",
    flag: "leader-election-lease",
    default: "kyma-system/compass-runtime-agent-leader",
    parse: parseNamespacedName,
    show: (v) => `${v.namespace}/${v.name}`,
    description: "The Lease used for leader election (namespace/name).",
    added: true,
  }),
  leaseDuration: setting<number>({
    env: "APP_LEADER_ELECTION_LEASE_DURATION",
    flag: "leader-election-lease-duration",
    default: "15s",
    parse: positiveDuration,
    show: formatDuration,
    description: "How long a Lease is valid without renewal.",
    added: true,
  }),
  renewDeadline: setting<number>({
    env: "APP_LEADER_ELECTION_RENEW_DEADLINE",
    flag: "leader-election-renew-deadline",
    default: "10s",
    parse: positiveDuration,
    show: formatDuration,
    description: "The leader gives up when it cannot renew within this time.",
    added: true,
  }),
  retryPeriod: setting<number>({
    env: "APP_LEADER_ELECTION_RETRY_PERIOD",
    flag: "leader-election-retry-period",
    default: "2s",
    parse: positiveDuration,
    show: formatDuration,
    description: "How often candidates try to acquire or renew the Lease.",
    added: true,
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type AgentConfig = { [K in SettingName]: ReturnType<(typeof SETTINGS)[K]["parse"]> };
