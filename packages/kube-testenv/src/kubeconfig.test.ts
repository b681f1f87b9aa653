import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { firstKubeconfigPath, readKubeconfig, writeKubeconfig } from "./kubeconfig.js";

describe("kubeconfig", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kube-testenv-kc-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips what writeKubeconfig writes", async () => {
    const path = join(dir, "kc");
    await writeKubeconfig(path, {
      name: "admin",
      server: "https://127.0.0.1:6443",
      ca: "CA",
      cert: "CERT",
      key: "KEY",
    });
    expect(readKubeconfig(path)).toEqual({
      server: "https://127.0.0.1:6443",
      ca: "CA",
      cert: "CERT",
      key: "KEY",
    });
  });

  it("reads file references relative to the kubeconfig, tokens and insecure-skip-tls-verify", async () => {
    await writeFile(join(dir, "ca.pem"), "FILE-CA");
    await writeFile(join(dir, "token"), "tok-from-file\n");
    const path = join(dir, "kc");
    await writeFile(
      path,
      `apiVersion: v1
kind: Config
current-context: b
contexts:
- name: a
  context: {cluster: c1, user: u1}
- name: b
  context: {cluster: c2, user: u2}
clusters:
- name: c1
  cluster: {server: "https://one"}
- name: c2
  cluster: {server: "https://two", certificate-authority: ca.pem, insecure-skip-tls-verify: true}
users:
- name: u1
  user: {token: nope}
- name: u2
  user: {tokenFile: token}
`,
    );
    expect(readKubeconfig(path)).toEqual({
      server: "https://two",
      ca: "FILE-CA",
      insecureSkipTlsVerify: true,
      token: "tok-from-file",
    });
  });

  it("rejects exec plugins and broken files with KUBECONFIG_INVALID", async () => {
    const path = join(dir, "kc");
    await writeFile(
      path,
      `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {exec: {command: aws}}}]
`,
    );
    expect(() => readKubeconfig(path)).toThrow(expect.objectContaining({ code: "KUBECONFIG_INVALID" }));
    expect(() => readKubeconfig(join(dir, "missing"))).toThrow(
      expect.objectContaining({ code: "KUBECONFIG_INVALID" }),
    );
    await writeFile(path, "current-context: nope\n");
    expect(() => readKubeconfig(path)).toThrow(/context nope not found/);
  });

  it("takes the first entry of a KUBECONFIG list", () => {
    expect(firstKubeconfigPath("/a:/b")).toBe("/a");
    expect(firstKubeconfigPath("::/b")).toBe("/b");
    expect(() => firstKubeconfigPath("")).toThrow(expect.objectContaining({ code: "KUBECONFIG_INVALID" }));
  });
});
