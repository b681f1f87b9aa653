/** JSON views of state objects for the admin API (credentials included: the admin API is for tests only). */
import type { Application, JsonValue } from "./state.js";

/** JSON view of an application (credentials included). */
export function applicationJson(application: Application) {
  return {
    id: application.id,
    tenant: application.tenant,
    name: application.name,
    ...(application.systemNumber !== undefined ? { systemNumber: application.systemNumber } : {}),
    ...(application.providerName !== undefined ? { providerName: application.providerName } : {}),
    ...(application.description !== undefined ? { description: application.description } : {}),
    ...(application.baseUrl !== undefined ? { baseUrl: application.baseUrl } : {}),
    labels: Object.fromEntries(application.labels) as Record<string, JsonValue>,
    status: { condition: application.status.condition, timestamp: application.status.timestamp.toISOString() },
    createdAt: application.createdAt.toISOString(),
    updatedAt: application.updatedAt.toISOString(),
    auths: application.systemAuthIds.map((id) => ({ id })),
    bundles: application.bundles.map((bundle) => ({
      id: bundle.id,
      name: bundle.name,
      ...(bundle.description !== undefined ? { description: bundle.description } : {}),
      ...(bundle.instanceAuthRequestInputSchema !== undefined
        ? { instanceAuthRequestInputSchema: bundle.instanceAuthRequestInputSchema }
        : {}),
      ...(bundle.defaultInstanceAuth ? { defaultInstanceAuth: bundle.defaultInstanceAuth } : {}),
      apiDefinitions: bundle.apiDefinitions.map(({ createdAt: _created, ...api }) => api),
      eventDefinitions: bundle.eventDefinitions.map(({ createdAt: _created, ...event }) => event),
    })),
  };
}

export type ApplicationJson = ReturnType<typeof applicationJson>;
