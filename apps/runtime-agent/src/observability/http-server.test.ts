import { afterEach, expect, test } from "vitest";
import { startProbeServers } from "./http-server.js";
import type { ProbeServers } from "./http-server.js";
import { AgentMetrics } from "./metrics.js";

let servers: ProbeServers | undefined;
afterEach(async () => {
  await servers?.close();
  servers = undefined;
});

test("/healthz, /readyz and /metrics over real sockets", async () => {
  const metrics = new AgentMetrics({ defaultMetrics: false });
  let ready = false;
  servers = await startProbeServers({
    host: "127.0.0.1",
    healthPort: 0,
    metricsPort: 0,
    registry: metrics.registry,
    readiness: () => ({ ready, reasons: ready ? [] : ["informers not synced"] }),
  });
  const base = `http://127.0.0.1:${servers.healthPort}`;
  expect(await (await fetch(`${base}/healthz`)).text()).toBe("ok");
  const notReady = await fetch(`${base}/readyz`);
  expect(notReady.status).toBe(503);
  expect(await notReady.text()).toContain("informers not synced");
  ready = true;
  expect((await fetch(`${base}/readyz`)).status).toBe(200);

  metrics.reconcileTotal.inc({ result: "Synchronized" });
  await metrics.timeCompass("configuration", async () => "ok");
  await metrics.timeCompass("listApplications", async () => Promise.reject(Object.assign(new Error("x"), { code: "DIRECTOR_TIMEOUT" }))).catch(() => undefined);
  const text = await (await fetch(`http://127.0.0.1:${servers.metricsPort}/metrics`)).text();
  expect(text).toContain('cra_reconcile_total{result="Synchronized"} 1');
  expect(text).toContain('cra_compass_request_duration_seconds_count{operation="configuration",outcome="ok"} 1');
  expect(text).toContain('outcome="DIRECTOR_TIMEOUT"');
  expect((await fetch(`${base}/metrics`)).status).toBe(404);
});
