import type { CompassConnectionStatus, Condition, ConnectionState } from "@runtime-agent/k8s-store";
import { setCondition } from "@runtime-agent/k8s-store";

export const STATE = {
  Connected: "Connected",
  ConnectionFailed: "ConnectionFailed",
  ConnectionMaintenanceFailed: "ConnectionMaintenanceFailed",
  SynchronizationFailed: "SynchronizationFailed",
  ResourceApplicationFailed: "ResourceApplicationFailed",
  MetadataUpdateFailed: "MetadataUpdateFailed",
  Synchronized: "Synchronized",
} as const satisfies Record<string, ConnectionState>;

export const ALL_STATES = Object.values(STATE);

/** RFC 3339 with seconds, as Go's metav1.Time writes it. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function emptyStatus(): CompassConnectionStatus {
  return {
    connectionState: STATE.ConnectionFailed,
    connectionStatus: null,
    synchronizationStatus: null,
  };
}

const CONNECTION_OK = new Set<string>([
  STATE.Connected,
  STATE.SynchronizationFailed,
  STATE.ResourceApplicationFailed,
  STATE.MetadataUpdateFailed,
  STATE.Synchronized,
]);

/**
 * Conditions derived from the state: `Connected` (a working client certificate) and `Synchronized` (every
 * application applied). They are an addition to Kyma's status; on a cluster with Kyma's own CRD the API server
 * prunes them, so nothing may depend on reading them back.
 */
export function withConditions(status: CompassConnectionStatus, message: string, now: Date): CompassConnectionStatus {
  const state = status.connectionState;
  let conditions: Condition[] | undefined = status.conditions;
  conditions = setCondition(
    conditions,
    CONNECTION_OK.has(state)
      ? { type: "Connected", status: "True", reason: "CertificateValid", message: "the client certificate is accepted by Compass" }
      : { type: "Connected", status: "False", reason: state, message },
    now,
  );
  conditions = setCondition(
    conditions,
    state === STATE.Synchronized
      ? { type: "Synchronized", status: "True", reason: STATE.Synchronized, message: "every application is applied" }
      : { type: "Synchronized", status: "False", reason: state, message: message || "not synchronized yet" },
    now,
  );
  return { ...status, conditions };
}

export function isFailure(state: string): boolean {
  return state.endsWith("Failed");
}
