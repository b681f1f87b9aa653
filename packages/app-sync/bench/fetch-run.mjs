// The measured process of bench/fetch.bench.ts: plain Node.js on the built libraries (dist/, Node's default export
// conditions — no tsx, no TypeScript in memory), started with the runtime agent's Node flags and environment, so its
// peak RSS is what fetching and converting costs in the agent. Reads its input as JSON from stdin:
// { directorUrl, tenant, runtimeId, caPem, keyPem, certificateChainPem, runs }; prints one JSON line:
// { rssBeforeFetchMb, peakRssMb, runs: [{ seconds, requests, bytes, fetched, applications, secrets, conflicts }] }.
import { text } from "node:stream/consumers";
import { performance } from "node:perf_hooks";
import { DirectorClient } from "@runtime-agent/director-client";
import { buildDesiredState } from "@runtime-agent/app-sync";

const input = JSON.parse(await text(process.stdin));
const maxRssMb = () => Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
const rssBeforeFetchMb = maxRssMb();
const runs = [];
for (let i = 0; i < input.runs; i++) {
  const client = new DirectorClient({
    url: input.directorUrl,
    tenant: input.tenant,
    tls: { caPem: input.caPem },
    clientCertificate: { keyPem: input.keyPem, certificateChainPem: input.certificateChainPem },
  });
  const start = performance.now();
  // As the agent does: the labels next to the listing, then the desired state.
  const [labels, listing] = await Promise.all([client.getRuntimeLabels(input.runtimeId), client.listApplicationsForRuntime(input.runtimeId)]);
  const desired = buildDesiredState(listing.applications, labels, {
    centralGatewayUrl: "http://central-application-gateway.kyma-system.svc.cluster.local:8082",
    skipAppsTlsVerify: false,
    integrationNamespace: "kyma-system",
  });
  const seconds = (performance.now() - start) / 1000;
  await client.close();
  runs.push({
    seconds,
    // +1: the getRuntimeLabels request next to the listing.
    requests: listing.stats.requests + 1,
    bytes: listing.stats.bytesReceived,
    fetched: listing.applications.length,
    applications: desired.applications.length,
    secrets: desired.secrets.length,
    conflicts: desired.conflicts.length,
  });
}
process.stdout.write(`${JSON.stringify({ rssBeforeFetchMb, peakRssMb: maxRssMb(), runs })}\n`);
