import { renewWithCertificate, revokeCertificate } from "@runtime-agent/connector-client";
import { readCertDir, writeCertDir } from "../cert-dir.js";
import { compassProxy, httpsUrlFlag, KEY_SIZE_USAGE, parseFlags, optionalIntFlag, requireFlag, TLS_FLAGS, tlsTrustFrom } from "./args.js";
import type { CommandIo } from "./io.js";
import { summarize } from "./io.js";
import { certDirContent } from "./pair.js";
import { UsageError } from "./exit-codes.js";

export const RENEW_USAGE = `runtime-agent renew --cert-dir DIR [--connector-url URL] [--ca-file F] [--insecure-skip-tls-verify] [--key-size N]
  Renews the client certificate in DIR over mTLS and replaces the files atomically.
  ${KEY_SIZE_USAGE}`;

export const REVOKE_USAGE = `runtime-agent revoke --cert-dir DIR [--connector-url URL] [--ca-file F] [--insecure-skip-tls-verify]
  Revokes the client certificate in DIR; Compass refuses it from then on.`;

async function loadCertDir(dir: string) {
  try {
    return await readCertDir(dir);
  } catch (error) {
    throw new UsageError(`--cert-dir: ${(error as Error).message}`);
  }
}

export async function renewCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parseFlags(argv, {
    "cert-dir": { type: "string" },
    "connector-url": { type: "string" },
    "key-size": { type: "string" },
    ...TLS_FLAGS,
  });
  const dir = requireFlag(flags["cert-dir"], "cert-dir");
  const tls = await tlsTrustFrom(flags, (line) => io.err(line));
  const current = await loadCertDir(dir);
  const url = httpsUrlFlag(flags["connector-url"] ?? current.connection.connectorUrl, "connector-url");
  const keySize = optionalIntFlag(flags["key-size"], "key-size", 2048, 8192);

  const credentials = await renewWithCertificate(url, { keyPem: current.keyPem, certificateChainPem: current.chainPem }, { tls, proxy: compassProxy(), keySize });
  await writeCertDir(dir, certDirContent(credentials));
  io.out(summarize("Renewed the client certificate", credentials, dir));
  return 0;
}

export async function revokeCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parseFlags(argv, {
    "cert-dir": { type: "string" },
    "connector-url": { type: "string" },
    ...TLS_FLAGS,
  });
  const dir = requireFlag(flags["cert-dir"], "cert-dir");
  const tls = await tlsTrustFrom(flags, (line) => io.err(line));
  const current = await loadCertDir(dir);
  const url = httpsUrlFlag(flags["connector-url"] ?? current.connection.connectorUrl, "connector-url");
  const revoked = await revokeCertificate(url, { keyPem: current.keyPem, certificateChainPem: current.chainPem }, { tls, proxy: compassProxy() });
  io.out(
    revoked
      ? `Revoked certificate ${current.connection.fingerprint} (${current.connection.subject}).\n`
      : `Compass did not revoke certificate ${current.connection.fingerprint}.\n`,
  );
  return revoked ? 0 : 5;
}
