import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface Readiness {
  ready: boolean;
  /** Why the agent is not ready, for people reading /readyz. */
  reasons: string[];
}

export interface ProbeServerOptions {
  host?: string;
  healthPort: number;
  metricsPort: number;
  readiness: () => Readiness;
  registry: Registry;
}

export interface ProbeServers {
  healthPort: number;
  metricsPort: number;
  close(): Promise<void>;
}

/**
 * /healthz (the process is alive), /readyz (what `readiness` says: see startAgent — the controller is up, not
 * whether Compass is reachable) and /metrics. Health and metrics share one server when they share a port.
 */
export async function startProbeServers(options: ProbeServerOptions): Promise<ProbeServers> {
  const handler = (health: boolean, metrics: boolean) =>
    createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (health && path === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      } else if (health && path === "/readyz") {
        const { ready, reasons } = options.readiness();
        res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(ready ? "ok" : `not ready: ${reasons.join("; ")}`);
      } else if (metrics && path === "/metrics") {
        options.registry
          .metrics()
          .then((text) => res.writeHead(200, { "content-type": options.registry.contentType }).end(text))
          .catch((error: unknown) => res.writeHead(500).end(String(error)));
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      }
    });
  const host = options.host ?? "0.0.0.0";
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  const servers: Server[] = [];
  let healthPort: number;
  let metricsPort: number;
  if (options.healthPort === options.metricsPort && options.healthPort !== 0) {
    const server = handler(true, true);
    servers.push(server);
    healthPort = metricsPort = await listen(server, options.healthPort);
  } else {
    const health = handler(true, false);
    const metrics = handler(false, true);
    servers.push(health, metrics);
    healthPort = await listen(health, options.healthPort);
    metricsPort = await listen(metrics, options.metricsPort);
  }
  return {
    healthPort,
    metricsPort,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}
