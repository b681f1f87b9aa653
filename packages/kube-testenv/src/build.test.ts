import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  binaryVersion,
  goModuleDir,
  KUBERNETES_VERSION,
  manifestReaderModuleDir,
  manifestReaderVersion,
} from "./build.js";

describe("build versions", () => {
  it("keys kube-apiserver/etcd and the manifest reader apart", () => {
    expect(binaryVersion()).toMatch(/^v1\.35\.4-etcd-v3\.6\.5-[0-9a-f]{12}$/);
    expect(manifestReaderVersion()).toMatch(/^manifests-[0-9a-f]{12}$/);
    expect(manifestReaderModuleDir()).toBe(join(goModuleDir(), "manifests"));
  });

  it("the manifest reader decodes with the apimachinery of kube-apiserver's Kubernetes release (as that kubectl)", () => {
    const goMod = readFileSync(join(manifestReaderModuleDir(), "go.mod"), "utf8");
    expect(goMod).toContain(`k8s.io/apimachinery ${KUBERNETES_VERSION.replace(/^v1\./, "v0.")}\n`);
    const serverGoMod = readFileSync(join(goModuleDir(), "go.mod"), "utf8");
    for (const mod of ["sigs.k8s.io/yaml", "go.yaml.in/yaml/v2"]) {
      const version = (text: string) => new RegExp(`\\t${mod.replace(/\./g, "\\.")} (v\\S+)`).exec(text)?.[1];
      expect(version(goMod), mod).toBe(version(serverGoMod));
    }
  });
});
