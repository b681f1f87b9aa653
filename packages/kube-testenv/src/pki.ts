import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KubeTestenvError } from "./errors.js";

/** Paths of one throwaway PKI, all PEM files inside the control plane's temp directory. */
export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  adminCert: string;
  adminKey: string;
}

/** Identity of the agent's bearer token: a ServiceAccount as RBAC sees it. */
export const AGENT_USER = "system:serviceaccount:kyma-system:compass-runtime-agent";
export const AGENT_GROUPS = [
  "system:serviceaccounts",
  "system:serviceaccounts:kyma-system",
  "system:authenticated",
];
export const ADMIN_USER = "kube-testenv-admin";
export const ADMIN_GROUPS = ["system:masters"];

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      "openssl",
      args,
      { cwd, env: { ...process.env, OPENSSL_CONF: "/dev/null" } },
      (err, _stdout, stderr) => {
        if (err) {
          reject(
            new KubeTestenvError(
              "PKI_FAILED",
              `openssl ${args.join(" ")} failed: ${String(stderr).trim() || err.message}. kube-testenv needs the openssl command (1.1.1 or newer).`,
              { cause: err },
            ),
          );
        } else resolve();
      },
    );
  });
}

async function writeKey(path: string): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  await writeFile(path, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return publicKey.export({ type: "spki", format: "pem" }).toString();
}

const REQ_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

function subject(cn: string, orgs: string[]): string {
  const esc = (s: string) => s.replace(/([/\\=+,])/g, "\\$1");
  return orgs.map((o) => `/O=${esc(o)}`).join("") + `/CN=${esc(cn)}`;
}

async function leaf(
  dir: string,
  name: string,
  cn: string,
  orgs: string[],
  ext: "serving" | "client",
): Promise<void> {
  await writeKey(join(dir, `${name}.key`));
  await openssl(
    [
      "req",
      "-new",
      "-config",
      "openssl.cnf",
      "-key",
      `${name}.key`,
      "-subj",
      subject(cn, orgs),
      "-out",
      `${name}.csr`,
    ],
    dir,
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-set_serial",
      `0x${randomBytes(16)
        .toString("hex")
        .replace(/^[89a-f]/, "1")}`,
      "-days",
      "365",
      "-sha256",
      "-extfile",
      "openssl.cnf",
      "-extensions",
      ext,
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
}

async function createCa(dir: string): Promise<void> {
  await writeFile(join(dir, "openssl.cnf"), REQ_CONFIG);
  await writeKey(join(dir, "ca.key"));
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-config",
      "openssl.cnf",
      "-extensions",
      "v3_ca",
      "-key",
      "ca.key",
      "-subj",
      "/CN=kube-testenv-ca",
      "-days",
      "365",
      "-sha256",
      "-out",
      "ca.crt",
    ],
    dir,
  );
}

/**
 * Creates a fresh CA, a serving certificate for 127.0.0.1/localhost, a ServiceAccount signing key, an
 * admin client certificate (group system:masters), in `dir`.
 * Keys are ECDSA P-256 made with node:crypto; certificates are signed with the `openssl` command.
 */
export async function createPki(dir: string): Promise<Pki> {
  await createCa(dir);
  const saPub = await writeKey(join(dir, "sa.key"));
  await writeFile(join(dir, "sa.pub"), saPub);
  await Promise.all([
    leaf(dir, "serving", "kube-apiserver", [], "serving"),
    leaf(dir, "admin", ADMIN_USER, ADMIN_GROUPS, "client"),
  ]);
  const p = (f: string) => join(dir, f);
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
  };
}

/**
 * Only a fresh CA and a serving certificate for 127.0.0.1/localhost (the fault proxy's own TLS identity), in
 * `dir`. Returns the PEM contents.
 */
export async function createServingPki(
  dir: string,
  cn: string,
): Promise<{ caCert: string; servingCert: string; servingKey: string }> {
  await createCa(dir);
  await leaf(dir, "serving", cn, [], "serving");
  const [caCert, servingCert, servingKey] = await Promise.all(
    ["ca.crt", "serving.crt", "serving.key"].map((f) => readFile(join(dir, f), "utf8")),
  );
  return { caCert: caCert as string, servingCert: servingCert as string, servingKey: servingKey as string };
}
