import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["development"] },
  ssr: { resolve: { conditions: ["development"] } },
  test: {
    name: "kube-testenv",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Builds kube-apiserver + etcd once (many minutes when the cache is cold; CI runs `kube-testenv build` first).
    // Then starts one shared control plane through the exported global setup (what other packages use).
    globalSetup: ["./test/global-setup.ts", "./src/vitest-global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
