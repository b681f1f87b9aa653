import { createK8sStore, DEFAULT_COMPASS_CONNECTION_NAME } from "@runtime-agent/k8s-store";
import { configFromArgs } from "./config-flags.js";
import { UsageError } from "./exit-codes.js";
import type { CommandIo } from "./io.js";

export const STATUS_USAGE = `runtime-agent status [--kubeconfig FILE] [--output text|json] [settings...]
  Reads the CompassConnection and the agent's Secrets through KUBECONFIG and prints the connection state, URLs,
  certificate expiry, last synchronization and the number of managed applications. The settings (the flags of
  \`runtime-agent run --help\`, or their APP_* variables) name the Secrets and the namespace to read.`;

export async function statusCommand(argv: string[], io: CommandIo): Promise<number> {
  const { config, values } = configFromArgs(argv, { kubeconfig: { type: "string" }, output: { type: "string" } });
  const output = (values.output as string | undefined) ?? "text";
  if (output !== "text" && output !== "json") throw new UsageError("--output must be text or json");
  const store = createK8sStore({
    ...(typeof values.kubeconfig === "string" ? { kubeconfigPath: values.kubeconfig } : {}),
    integrationNamespace: config.integrationNamespace,
  });
  try {
    const [cc, credentials, applications] = await Promise.all([
      store.compassConnections.find(DEFAULT_COMPASS_CONNECTION_NAME),
      store.secrets.readCredentials({ clientCertificate: config.clusterCertificatesSecret, caCertificate: config.caCertificatesSecret }),
      store.applications.listManaged(),
    ]);
    const report = {
      compassConnection: cc ? DEFAULT_COMPASS_CONNECTION_NAME : null,
      state: cc?.status?.connectionState ?? null,
      error: cc?.status?.connectionStatus?.error ?? cc?.status?.synchronizationStatus?.error ?? null,
      connectorUrl: cc?.spec.managementInfo.connectorUrl ?? null,
      directorUrl: cc?.spec.managementInfo.directorUrl ?? null,
      certificateNotAfter: cc?.status?.connectionStatus?.certificateStatus.notAfter ?? null,
      certificateRenewed: cc?.status?.connectionStatus?.renewed ?? null,
      credentialSecrets: credentials.state,
      lastConnectorSync: cc?.status?.connectionStatus?.lastSync ?? null,
      lastSuccessfulApplication: cc?.status?.synchronizationStatus?.lastSuccessfulApplication ?? null,
      applicationsManaged: applications.length,
    };
    if (output === "json") {
      io.out(`${JSON.stringify(report, null, 2)}\n`);
    } else if (!cc) {
      io.out(`No CompassConnection ${DEFAULT_COMPASS_CONNECTION_NAME}: the agent has not connected yet.\n`);
    } else {
      io.out(
        [
          `state:                ${report.state ?? "unknown"}`,
          ...(report.error ? [`error:                ${report.error}`] : []),
          `connector:            ${report.connectorUrl || "-"}`,
          `director:             ${report.directorUrl || "-"}`,
          `certificate expires:  ${report.certificateNotAfter ?? "-"}${report.certificateRenewed ? ` (renewed ${report.certificateRenewed})` : ""}`,
          `credential Secrets:   ${report.credentialSecrets}`,
          `last Connector sync:  ${report.lastConnectorSync ?? "-"}`,
          `last applied:         ${report.lastSuccessfulApplication ?? "-"}`,
          `applications managed: ${report.applicationsManaged}`,
          "",
        ].join("\n"),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}
