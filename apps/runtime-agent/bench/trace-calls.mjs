// Preload for the agent process of the benchmark (BENCH_AGENT_ENTRY=dist BENCH_AGENT_NODE_ARGS="--import ./bench/trace-calls.mjs"):
// logs every call of the store, the Director and the Connector clients with its start and duration (ms since
// the process started) to stderr, to see where a cycle's time goes. Diagnostics only; it changes nothing else.
import { performance } from "node:perf_hooks";

const root = new URL("../../../", import.meta.url);
const k8s = await import(new URL("packages/k8s-store/dist/index.js", root).href);
const director = await import(new URL("packages/director-client/dist/index.js", root).href);
const connector = await import(new URL("packages/connector-client/dist/index.js", root).href);

function wrap(proto, cls, names) {
  for (const name of names) {
    const original = proto[name];
    if (typeof original !== "function") continue;
    proto[name] = async function (...args) {
      const start = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        const end = performance.now();
        process.stderr.write(`[trace] ${start.toFixed(0).padStart(7)} ${(end - start).toFixed(0).padStart(5)} ms  ${cls}.${name}\n`);
      }
    };
  }
}
wrap(k8s.SecretStore.prototype, "secrets", ["get", "find", "readCredentials", "listMetadata", "listWhere", "upsertSecretKeys", "readAgentConfiguration"]);
wrap(k8s.CompassConnectionStore.prototype, "compassConnections", ["find", "get", "mutate", "update", "create"]);
wrap(k8s.ApplicationStore.prototype, "applications", ["listMetadata", "listManaged", "get", "find"]);
wrap(k8s.EventRecorder.prototype, "events", ["recordEvent"]);
wrap(director.DirectorClient.prototype, "director", ["getRuntimeLabels", "listApplicationsForRuntime", "setRuntimeLabel"]);
wrap(connector.ConnectorClient.prototype, "connector", ["configuration", "signCertificateSigningRequest"]);
