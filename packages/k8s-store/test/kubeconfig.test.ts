import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { Authenticator } from "../src/auth.js";
import { createK8sStore, K8sStoreError, loadKubeConfig, type LoadedKubeConfig } from "../src/index.js";
import { adminKubeconfig, agentKubeconfig, uniqueName } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "k8s-store-kubeconfig-"));
let files = 0;
/** Writes a kubeconfig into its own directory and returns its path. */
function kubeconfig(doc: unknown): string {
  const sub = join(dir, String(files++));
  mkdirSync(sub);
  const path = join(sub, "config");
  writeFileSync(path, typeof doc === "string" ? doc : stringify(doc));
  return path;
}
const cluster = (name: string, fields: Record<string, unknown>) => ({ name, cluster: { server: `https://${name}.example:6443`, ...fields } });
const user = (name: string, fields: Record<string, unknown>) => ({ name, user: fields });
const context = (name: string, c: string, u?: string) => ({ name, context: { cluster: c, ...(u !== undefined ? { user: u } : {}) } });

/** The agent's real credentials, as kube-testenv wrote them. */
const agent = loadKubeConfig({ kubeconfigPath: agentKubeconfig() });
const admin = loadKubeConfig({ kubeconfigPath: adminKubeconfig() });
const tokenOf = (c: LoadedKubeConfig): string => (c.credentials.kind === "token" ? c.credentials.token : expect.unreachable("a token kubeconfig"));
const b64 = (data: Buffer | undefined): string => (data ?? expect.unreachable("TLS material")).toString("base64");

describe("loadKubeConfig", () => {
  it("merges a KUBECONFIG list as kubectl does: the first file that names a cluster, user, context or current-context wins", () => {
    const first = kubeconfig({
      "current-context": "one",
      clusters: [cluster("a", {})],
      users: [user("u", { token: "first" })],
      contexts: [context("one", "a", "u")],
    });
    const second = kubeconfig({
      "current-context": "two",
      clusters: [cluster("a", { server: "https://shadowed.example" }), cluster("b", {})],
      users: [user("u", { token: "second" }), user("v", { username: "admin", password: "pw" })],
      contexts: [context("two", "b", "v")],
    });
    const merged = loadKubeConfig({ env: { KUBECONFIG: `${first}:/nonexistent/config:${second}` } });
    expect(merged).toMatchObject({ source: "KUBECONFIG", server: "https://a.example:6443", credentials: { kind: "token", token: "first" } });
    const other = loadKubeConfig({ env: { KUBECONFIG: `${first}:${second}` }, context: "two" });
    expect(other).toMatchObject({ server: "https://b.example:6443", credentials: { kind: "basic", username: "admin", password: "pw" } });
  });

  it("reads files relative to the kubeconfig's directory, prefers -data, and takes the TLS switches", () => {
    const path = kubeconfig({
      "current-context": "c",
      clusters: [cluster("a", { "certificate-authority": "ca.pem", "insecure-skip-tls-verify": true, "tls-server-name": "api.internal" })],
      users: [user("u", { "client-certificate": "crt.pem", "client-key-data": Buffer.from("KEY").toString("base64"), tokenFile: "token" })],
      contexts: [context("c", "a", "u")],
    });
    writeFileSync(join(path, "..", "ca.pem"), "CA");
    writeFileSync(join(path, "..", "crt.pem"), "CRT");
    const loaded = loadKubeConfig({ kubeconfigPath: path });
    expect(loaded.tls).toEqual({ ca: Buffer.from("CA"), cert: Buffer.from("CRT"), key: Buffer.from("KEY"), rejectUnauthorized: false, servername: "api.internal" });
    expect(loaded.credentials).toEqual({ kind: "tokenFile", path: join(path, "..", "token") });
  });

  it("refuses with K8S_CONFIG what it cannot use, naming the problem", () => {
    const base = { clusters: [cluster("a", {})], contexts: [context("c", "a", "u")] };
    const cases: [unknown, RegExp][] = [
      [{ ...base }, /has no current-context/],
      [{ ...base, "current-context": "nope" }, /has no context nope/],
      [{ ...base, "current-context": "c", contexts: [context("c", "missing")] }, /context c names no cluster it defines/],
      [{ ...base, "current-context": "c", clusters: [{ name: "a", cluster: { "certificate-authority-data": "" } }] }, /cluster a has no server/],
      [{ ...base, "current-context": "c", clusters: [cluster("a", { "proxy-url": "http://proxy:3128" })] }, /proxy-url, which this client does not support/],
      [{ ...base, "current-context": "c", users: [user("u", { "auth-provider": { name: "oidc" } })] }, /auth-provider plugin, which Kubernetes removed in 1\.26/],
      [{ ...base, "current-context": "c", users: [user("u", { "client-certificate-data": "Q1JU" })] }, /client certificate without a key/],
      [{ ...base, "current-context": "c", users: [user("u", { exec: { args: ["x"] } })] }, /exec names no command/],
      [{ ...base, "current-context": "c", users: [{ user: {} }] }, /a user entry lacks a name/],
      ["- just\n- a list\n", /is not a YAML mapping/],
      ["clusters: [unclosed\n", /cannot load the Kubernetes configuration/],
    ];
    for (const [doc, message] of cases) {
      const path = kubeconfig(doc);
      let error: unknown;
      try {
        loadKubeConfig({ kubeconfigPath: path });
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).toBeInstanceOf(K8sStoreError);
      expect(error, String(message)).toMatchObject({ code: "K8S_CONFIG", message: expect.stringMatching(message) });
    }
    expect(() => loadKubeConfig({ inCluster: true, env: {} })).toThrow(/KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set/);
  });
});

describe("authentication against the real API server", () => {
  const stores: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });
  /** A kubeconfig for the test API server (its CA) with the given user. */
  const forServer = (userFields: Record<string, unknown>): string =>
    kubeconfig({
      "current-context": "c",
      clusters: [{ name: "kube", cluster: { server: agent.server, "certificate-authority-data": b64(agent.tls.ca) } }],
      users: [user("u", userFields)],
      contexts: [context("c", "kube", "u")],
    });
  const store = (path: string) => {
    const s = createK8sStore({ kubeconfigPath: path, requestTimeoutMs: 10_000 });
    stores.push(s);
    return s;
  };

  it("runs an exec plugin as kubectl does and uses the token it prints", async () => {
    const marker = join(dir, uniqueName("exec-info"));
    const plugin = join(dir, uniqueName("plugin") + ".mjs");
    writeFileSync(
      plugin,
      `import { writeFileSync } from "node:fs";
writeFileSync(${JSON.stringify(marker)}, JSON.stringify({ info: JSON.parse(process.env.KUBERNETES_EXEC_INFO), extra: process.env.PLUGIN_EXTRA, args: process.argv.slice(2) }));
console.log(JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: ${JSON.stringify(tokenOf(agent))} } }));`,
    );
    const s = store(forServer({ exec: { apiVersion: "client.authentication.k8s.io/v1", command: process.execPath, args: [plugin, "--flag"], env: [{ name: "PLUGIN_EXTRA", value: "yes" }] } }));
    await expect(s.compassConnections.find("does-not-exist")).resolves.toBeUndefined();
    expect(JSON.parse(readFileSync(marker, "utf8"))).toEqual({
      info: { apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", spec: { interactive: false } },
      extra: "yes",
      args: ["--flag"],
    });
  });

  it("uses the client certificate an exec plugin prints (the admin's here: it may list Secrets in default, the agent may not)", async () => {
    const plugin = join(dir, uniqueName("plugin") + ".mjs");
    const status = { clientCertificateData: admin.tls.cert?.toString("utf8"), clientKeyData: admin.tls.key?.toString("utf8") };
    writeFileSync(plugin, `console.log(${JSON.stringify(JSON.stringify({ kind: "ExecCredential", status }))});`);
    const s = store(forServer({ exec: { command: process.execPath, args: [plugin] } }));
    await expect(s.secrets.list("default")).resolves.toBeInstanceOf(Array);
  });

  it("reports a failing exec plugin as K8S_UNAUTHORIZED with the plugin's own reason", async () => {
    const plugin = join(dir, uniqueName("plugin") + ".mjs");
    writeFileSync(plugin, `console.error("login expired: run 'login' again"); process.exit(1);`);
    const s = store(forServer({ exec: { command: process.execPath, args: [plugin] } }));
    await expect(s.compassConnections.find("x")).rejects.toMatchObject({ code: "K8S_UNAUTHORIZED", message: expect.stringContaining("login expired: run 'login' again") });
  });

  it("re-reads a token file as it rotates (after the memo's lifetime), and an invalid token is K8S_UNAUTHORIZED", async () => {
    const tokenFile = join(dir, uniqueName("token"));
    writeFileSync(tokenFile, `${tokenOf(agent)}\n`);
    const s = store(forServer({ tokenFile }));
    await expect(s.compassConnections.find("x")).resolves.toBeUndefined();

    const loaded = loadKubeConfig({ kubeconfigPath: forServer({ tokenFile }) });
    const never = new Authenticator(loaded, Number.POSITIVE_INFINITY);
    const always = new Authenticator(loaded, -1);
    try {
      expect((await never.current()).headers).toEqual({ authorization: `Bearer ${tokenOf(agent)}` });
      expect((await always.current()).headers).toEqual({ authorization: `Bearer ${tokenOf(agent)}` });
      writeFileSync(tokenFile, "rotated");
      expect((await always.current()).headers).toEqual({ authorization: "Bearer rotated" });
      expect((await never.current()).headers).toEqual({ authorization: `Bearer ${tokenOf(agent)}` });
    } finally {
      never.close();
      always.close();
    }
    const refused = store(forServer({ token: "not-a-token" }));
    await expect(refused.compassConnections.find("x")).rejects.toMatchObject({ code: "K8S_UNAUTHORIZED" });
  });
});
