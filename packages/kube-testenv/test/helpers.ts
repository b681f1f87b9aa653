import { execFileSync } from "node:child_process";
import { createConnection } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeClient } from "../src/client.js";
import { readKubeconfig } from "../src/kubeconfig.js";

export const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

export function clientFor(kubeconfigPath: string): KubeClient {
  return new KubeClient(readKubeconfig(kubeconfigPath));
}

export function hasKubectl(): boolean {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Resolves true when something accepts TCP connections on the port. */
export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
