import { pairWithToken } from "@runtime-agent/connector-client";
import type { RuntimeCredentials } from "@runtime-agent/connector-client";
import { writeCertDir } from "../cert-dir.js";
import type { CertDirContent } from "../cert-dir.js";
import { compassProxy, httpsUrlFlag, KEY_SIZE_USAGE, parseFlags, optionalIntFlag, requireFlag, TLS_FLAGS, tlsTrustFrom } from "./args.js";
import { UsageError } from "./exit-codes.js";
import type { CommandIo } from "./io.js";
import { summarize } from "./io.js";

export const PAIR_USAGE = `runtime-agent pair --connector-url URL --token TOKEN --out DIR [--ca-file F] [--insecure-skip-tls-verify] [--key-size N]
  Pairs with Compass using a one-time token and writes key.pem (0600), crt.pem, chain.pem, ca.pem and connection.json to DIR.
  ${KEY_SIZE_USAGE}`;

export async function pairCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parseFlags(argv, {
    "connector-url": { type: "string" },
    token: { type: "string" },
    out: { type: "string" },
    "key-size": { type: "string" },
    ...TLS_FLAGS,
  });
  const connectorUrl = httpsUrlFlag(requireFlag(flags["connector-url"], "connector-url"), "connector-url");
  const token = requireFlag(flags.token, "token").trim();
  if (/[\s\p{Cc}]/u.test(token)) throw new UsageError("--token contains whitespace or control characters");
  const out = requireFlag(flags.out, "out");
  const keySize = optionalIntFlag(flags["key-size"], "key-size", 2048, 8192);
  const tls = await tlsTrustFrom(flags, (line) => io.err(line));

  const credentials = await pairWithToken(connectorUrl, token, { tls, proxy: compassProxy(), keySize });
  await writeCertDir(out, certDirContent(credentials));
  io.out(summarize("Paired with Compass", credentials, out));
  return 0;
}

export function certDirContent(credentials: RuntimeCredentials): CertDirContent {
  return {
    keyPem: credentials.privateKeyPem,
    certificatePem: credentials.clientCertificatePem,
    chainPem: credentials.certificateChainPem,
    caPem: credentials.caCertificatePem,
    connection: {
      directorUrl: credentials.configuration.directorUrl,
      connectorUrl: credentials.configuration.certificateSecuredConnectorUrl,
      subject: credentials.certificate.subject,
      notBefore: credentials.certificate.notBefore.toISOString(),
      notAfter: credentials.certificate.notAfter.toISOString(),
      fingerprint: credentials.certificate.fingerprintSha256,
    },
  };
}
