import type { RuntimeCredentials } from "@runtime-agent/connector-client";

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** A short human summary of new credentials; never includes the key. */
export function summarize(title: string, credentials: RuntimeCredentials, dir: string): string {
  const c = credentials.certificate;
  return [
    `${title}.`,
    `  subject:     ${c.subject}`,
    `  valid:       ${c.notBefore.toISOString()} -> ${c.notAfter.toISOString()}`,
    `  fingerprint: ${c.fingerprintSha256}`,
    `  director:    ${credentials.configuration.directorUrl}`,
    `  connector:   ${credentials.configuration.certificateSecuredConnectorUrl}`,
    `  written to:  ${dir}`,
    "",
  ].join("\n");
}
