import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";

/** What `connection.json` in a certificate directory records. */
export interface ConnectionInfo {
  directorUrl: string;
  /** The certificate-secured Connector URL, used for renewal and revocation. */
  connectorUrl: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
}

export interface CertDirContent {
  /** PKCS#1 PEM private key (written with mode 0600). */
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  caPem: string;
  connection: ConnectionInfo;
}

export const CERT_DIR_FILES = {
  key: "key.pem",
  certificate: "crt.pem",
  chain: "chain.pem",
  ca: "ca.pem",
  connection: "connection.json",
} as const;

/**
 * Writes all files next to their final names first, then renames them into place, so a failure part-way leaves
 * the previous content untouched and readers never see half a file. connection.json is renamed last.
 */
export async function writeCertDir(dir: string, content: CertDirContent): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const suffix = `.tmp-${randomBytes(6).toString("hex")}`;
  const files: [string, string, number][] = [
    [CERT_DIR_FILES.key, content.keyPem, 0o600],
    [CERT_DIR_FILES.certificate, content.certificatePem, 0o644],
    [CERT_DIR_FILES.chain, content.chainPem, 0o644],
    [CERT_DIR_FILES.ca, content.caPem, 0o644],
    [CERT_DIR_FILES.connection, `${JSON.stringify(content.connection, null, 2)}\n`, 0o644],
  ];
  const written: string[] = [];
  try {
    for (const [name, text, mode] of files) {
      const temp = join(dir, name + suffix);
      written.push(temp);
      const handle = await open(temp, "wx", mode);
      try {
        await handle.writeFile(text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const [name] of files) await rename(join(dir, name + suffix), join(dir, name));
  } finally {
    await Promise.all(written.map((temp) => rm(temp, { force: true })));
  }
}

export class CertDirError extends Error {
  override readonly name = "CertDirError";
}

export async function readCertDir(dir: string): Promise<CertDirContent> {
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), "utf8");
    } catch (error) {
      throw new CertDirError(`cannot read ${join(dir, name)}: ${(error as Error).message}`, { cause: error });
    }
  };
  const [keyPem, certificatePem, chainPem, caPem, connectionText] = await Promise.all([
    read(CERT_DIR_FILES.key),
    read(CERT_DIR_FILES.certificate),
    read(CERT_DIR_FILES.chain),
    read(CERT_DIR_FILES.ca),
    read(CERT_DIR_FILES.connection),
  ]);
  let connection: unknown;
  try {
    connection = JSON.parse(connectionText);
  } catch (error) {
    throw new CertDirError(`${join(dir, CERT_DIR_FILES.connection)} is not JSON`, { cause: error });
  }
  const c = connection as Partial<ConnectionInfo>;
  if (typeof c.connectorUrl !== "string" || typeof c.directorUrl !== "string") {
    throw new CertDirError(`${join(dir, CERT_DIR_FILES.connection)} lacks connectorUrl or directorUrl`);
  }
  return { keyPem, certificatePem, chainPem, caPem, connection: connection as ConnectionInfo };
}
