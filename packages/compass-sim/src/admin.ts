/**
 * Admin API (plain HTTP, JSON, test-only; not part of Compass). Errors are `{"error": "..."}` with 400/404/405/413.
 *
 * | Route                              | Body                                              | Answer                                  |
 * |------------------------------------|---------------------------------------------------|-----------------------------------------|
 * | `POST /admin/tenants`              | `{"externalId"?, "name"?}`                        | `{"externalId","internalId"}`           |
 * | `POST /admin/runtimes`             | `{"name","tenant"?,"id"?,"description"?,"labels"?,"formations"?,"runtimeType"?}` | `{"id","tenant","name"}` |
 * | `POST /admin/runtimes/{id}/tokens` | `{"systemAuthId"?}` (optional)                     | `{"token","connectorURL","expiresAt",…}`|
 * | `GET  /admin/clock`                |                                                   | `{"now"}`                               |
 * | `POST /admin/clock`                | `{"advanceSeconds": n}`                           | `{"now"}`                               |
 * | `POST /admin/revoke`               | `{"fingerprint"}` or `{"commonName"}`             | `{"revoked": n}`                        |
 * | `GET  /admin/state`                |                                                   | StateSnapshot + URLs                    |
 * | `GET  /admin/healthz`              |                                                   | `{"status":"ok"}`                       |
 * | `POST /admin/applications`         | application (applications.ts)                     | `{"id"}`                                |
 * | `GET  /admin/applications[/{id}]`  |                                                   | the application(s) with bundles         |
 * | `PATCH /admin/applications/{id}`   | partial application                               | `{"id"}`                                |
 * | `DELETE /admin/applications/{id}`  | (409 while the application is in a formation)     | `{"id"}`                                |
 * | `POST /admin/formations/assign`    | `{"formation","runtimeId"}` / `{"formation","applicationId"}` | `{"formation","tenant",…}`  |
 * | `POST /admin/formations/unassign`  | the same                                          | the same                                |
 * | `PUT  /admin/hide-selectors`       | `{labelKey: [values]}`                            | `{"hideSelectors"}`                     |
 * | `POST /admin/faults`               | fault rule (faults.ts)                            | the rule with `id`, `remaining`         |
 * | `GET  /admin/faults`               |                                                   | `{"faultRules"}`                        |
 * | `DELETE /admin/faults`             |                                                   | `{"cleared": n}`                        |
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { InputError, parseApplicationInput, parseApplicationPatch } from "./applications.js";
import { FaultInputError, parseFaultRule } from "./faults.js";
import { BodyTooLargeError, readBody, sendJson } from "./http-util.js";
import type { CompassSimulator } from "./simulator.js";
import { StateError, type JsonValue } from "./state.js";
import { applicationJson } from "./views.js";

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function readJson(req: IncomingMessage, limit: number, allowEmpty: boolean): Promise<Record<string, unknown>> {
  let raw: Buffer;
  try {
    raw = await readBody(req, limit);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new AdminError(413, error.message);
    throw error;
  }
  const text = raw.toString("utf8").trim();
  if (text === "") {
    if (allowEmpty) return {};
    throw new AdminError(400, "request body must be a JSON object");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AdminError(400, `invalid JSON: ${(error as Error).message}`);
  }
  if (!isObject(json)) throw new AdminError(400, "request body must be a JSON object");
  return json;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value === "") throw new AdminError(400, `"${key}" must be a non-empty string`);
  return value;
}

function mapStateError(error: unknown): never {
  if (error instanceof StateError) {
    // InvalidOperation (Compass code 27, e.g. deleting an application still in a formation) → 409 with Compass's text.
    const status = error.code === "NotFound" ? 404 : error.code === "Conflict" || error.code === "InvalidOperation" ? 409 : 400;
    throw new AdminError(status, error.message);
  }
  if (error instanceof RangeError || error instanceof InputError || error instanceof FaultInputError) {
    throw new AdminError(400, error.message);
  }
  throw error;
}

/** Runs `work`, mapping input and state errors to admin answers. */
function mapped<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    return mapStateError(error);
  }
}

function formationTarget(body: Record<string, unknown>): { formation: string; target: { runtimeId: string } | { applicationId: string } } {
  const formation = optionalString(body, "formation");
  if (formation === undefined) throw new AdminError(400, '"formation" is required');
  const runtimeId = optionalString(body, "runtimeId");
  const applicationId = optionalString(body, "applicationId");
  if ((runtimeId === undefined) === (applicationId === undefined)) {
    throw new AdminError(400, 'give exactly one of "runtimeId" or "applicationId"');
  }
  return { formation, target: runtimeId !== undefined ? { runtimeId } : { applicationId: applicationId! } };
}

type Route = (sim: CompassSimulator, req: IncomingMessage, limit: number, params: string[]) => Promise<unknown>;

const routes: Array<{ method: string; pattern: RegExp; run: Route }> = [
  {
    method: "GET",
    pattern: /^\/admin\/healthz$/,
    run: async () => ({ status: "ok" }),
  },
  {
    method: "GET",
    pattern: /^\/admin\/state$/,
    run: async (sim) => ({
      connectorUrl: sim.connectorUrl,
      certSecuredConnectorUrl: sim.certSecuredConnectorUrl,
      directorUrl: sim.directorUrl,
      ...sim.state.snapshot(),
    }),
  },
  {
    method: "POST",
    pattern: /^\/admin\/tenants$/,
    run: async (sim, req, limit) => {
      const body = await readJson(req, limit, true);
      const tenant = sim.state.ensureTenant(
        optionalString(body, "externalId") ?? randomUUID(),
        optionalString(body, "internalId"),
        optionalString(body, "name"),
      );
      return { ...tenant };
    },
  },
  {
    method: "POST",
    pattern: /^\/admin\/runtimes$/,
    run: async (sim, req, limit) => {
      const body = await readJson(req, limit, false);
      const name = optionalString(body, "name");
      if (name === undefined) throw new AdminError(400, '"name" is required');
      const labels = body["labels"];
      if (labels !== undefined && !isObject(labels)) throw new AdminError(400, '"labels" must be an object');
      const formations = body["formations"];
      if (formations !== undefined && !(Array.isArray(formations) && formations.every((f) => typeof f === "string"))) {
        throw new AdminError(400, '"formations" must be an array of strings');
      }
      const tenant = optionalString(body, "tenant");
      const id = optionalString(body, "id");
      const description = optionalString(body, "description");
      const runtimeType = body["runtimeType"];
      if (runtimeType !== undefined && runtimeType !== null && (typeof runtimeType !== "string" || runtimeType === "")) {
        throw new AdminError(400, '"runtimeType" must be a non-empty string or null');
      }
      try {
        const runtime = sim.createRuntime({
          name,
          ...(tenant !== undefined ? { tenant } : {}),
          ...(id !== undefined ? { id } : {}),
          ...(description !== undefined ? { description } : {}),
          ...(labels !== undefined ? { labels: labels as Record<string, JsonValue> } : {}),
          ...(formations !== undefined ? { formations: formations as string[] } : {}),
          ...(runtimeType !== undefined ? { runtimeType: runtimeType as string | null } : {}),
        });
        return { id: runtime.id, tenant: runtime.tenant, name: runtime.name };
      } catch (error) {
        return mapStateError(error);
      }
    },
  },
  {
    method: "POST",
    pattern: /^\/admin\/runtimes\/([^/]+)\/tokens$/,
    run: async (sim, req, limit, [runtimeId]) => {
      const body = await readJson(req, limit, true);
      const systemAuthId = optionalString(body, "systemAuthId");
      try {
        return sim.issueToken(decodeURIComponent(runtimeId!), systemAuthId !== undefined ? { systemAuthId } : {});
      } catch (error) {
        return mapStateError(error);
      }
    },
  },
  {
    method: "GET",
    pattern: /^\/admin\/clock$/,
    run: async (sim) => ({ now: sim.now().toISOString(), offsetSeconds: sim.clock.offsetMs / 1000 }),
  },
  {
    method: "POST",
    pattern: /^\/admin\/clock$/,
    run: async (sim, req, limit) => {
      const body = await readJson(req, limit, false);
      const seconds = body["advanceSeconds"];
      if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
        throw new AdminError(400, '"advanceSeconds" must be a non-negative number');
      }
      return { now: sim.advanceClock(seconds).toISOString(), offsetSeconds: sim.clock.offsetMs / 1000 };
    },
  },
  {
    method: "POST",
    pattern: /^\/admin\/revoke$/,
    run: async (sim, req, limit) => {
      const body = await readJson(req, limit, false);
      const fingerprint = optionalString(body, "fingerprint");
      const commonName = optionalString(body, "commonName");
      if ((fingerprint === undefined) === (commonName === undefined)) {
        throw new AdminError(400, 'give exactly one of "fingerprint" or "commonName"');
      }
      try {
        return { revoked: fingerprint !== undefined ? sim.revoke(fingerprint) : sim.revokeCommonName(commonName!) };
      } catch (error) {
        return mapStateError(error);
      }
    },
  },
  {
    method: "POST",
    pattern: /^\/admin\/applications$/,
    run: async (sim, req, limit) => {
      const body = await readJson(req, limit, false);
      return mapped(() => ({ id: sim.createApplication(parseApplicationInput(body)).id }));
    },
  },
  {
    method: "GET",
    pattern: /^\/admin\/applications$/,
    run: async (sim) => ({ applications: sim.state.sortedApplications().map(applicationJson) }),
  },
  {
    method: "GET",
    pattern: /^\/admin\/applications\/([^/]+)$/,
    run: async (sim, _req, _limit, [id]) => {
      const application = sim.state.applications.get(decodeURIComponent(id!).toLowerCase());
      if (!application) throw new AdminError(404, `application ${decodeURIComponent(id!)} not found`);
      return applicationJson(application);
    },
  },
  {
    method: "PATCH",
    pattern: /^\/admin\/applications\/([^/]+)$/,
    run: async (sim, req, limit, [id]) => {
      const body = await readJson(req, limit, false);
      return mapped(() => ({ id: sim.updateApplication(decodeURIComponent(id!), parseApplicationPatch(body)).id }));
    },
  },
  {
    method: "DELETE",
    pattern: /^\/admin\/applications\/([^/]+)$/,
    run: async (sim, _req, _limit, [id]) => {
      const applicationId = decodeURIComponent(id!).toLowerCase();
      mapped(() => sim.deleteApplication(applicationId));
      return { id: applicationId };
    },
  },
  {
    method: "POST",
    pattern: /^\/admin\/formations\/assign$/,
    run: async (sim, req, limit) => {
      const { formation, target } = formationTarget(await readJson(req, limit, false));
      const assigned = mapped(() => sim.assignFormation(formation, target));
      return { formation: assigned.name, tenant: assigned.tenant, ...target };
    },
  },
  {
    method: "POST",
    pattern: /^\/admin\/formations\/unassign$/,
    run: async (sim, req, limit) => {
      const { formation, target } = formationTarget(await readJson(req, limit, false));
      mapped(() => sim.state.unassignFormation(formation, target));
      return { formation, ...target };
    },
  },
  {
    method: "PUT",
    pattern: /^\/admin\/hide-selectors$/,
    run: async (sim, req, limit) => {
      const body = await readJson(req, limit, false);
      for (const [key, values] of Object.entries(body)) {
        if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) {
          throw new AdminError(400, `"${key}" must be an array of strings`);
        }
      }
      sim.state.hideSelectors.clear();
      for (const [key, values] of Object.entries(body)) sim.state.hideSelectors.set(key, [...(values as string[])]);
      return { hideSelectors: Object.fromEntries(sim.state.hideSelectors) };
    },
  },
  {
    method: "POST",
    pattern: /^\/admin\/faults$/,
    run: async (sim, req, limit) => {
      const body = await readJson(req, limit, false);
      return mapped(() => sim.addFault(parseFaultRule(body)));
    },
  },
  {
    method: "GET",
    pattern: /^\/admin\/faults$/,
    run: async (sim) => ({ faultRules: sim.state.faultRules.map((rule) => ({ ...rule })) }),
  },
  {
    method: "DELETE",
    pattern: /^\/admin\/faults$/,
    run: async (sim) => ({ cleared: sim.clearFaults() }),
  },
];

export async function handleAdminRequest(
  sim: CompassSimulator,
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
): Promise<void> {
  const path = new URL(req.url ?? "/", "http://compass-sim").pathname;
  const method = req.method ?? "GET";
  const matching = routes.filter((route) => route.pattern.test(path));
  const route = matching.find((candidate) => candidate.method === method);
  let status = 200;
  try {
    if (!route) {
      if (matching.length > 0) {
        throw new AdminError(405, `method ${method} not allowed on ${path}; use ${matching.map((r) => r.method).join(", ")}`);
      }
      throw new AdminError(404, `no admin route ${method} ${path}`);
    }
    const params = route.pattern.exec(path)!.slice(1);
    const answer = await route.run(sim, req, maxBodyBytes, params);
    sendJson(res, 200, answer);
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    status = error.status;
    const headers: Record<string, string> =
      status === 405 ? { allow: matching.map((r) => r.method).join(", ") } : status === 413 ? { connection: "close" } : {};
    sendJson(res, status, { error: error.message }, headers);
  }
  sim.state.logRequest({
    time: sim.now(),
    listener: "admin",
    method,
    path,
    operations: [],
    status,
    errors: [],
  });
}
