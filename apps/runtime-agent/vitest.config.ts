import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["development"] },
  ssr: { resolve: { conditions: ["development"] } },
  test: {
    name: "runtime-agent",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // A real kube-apiserver + etcd for the end-to-end tests; the CompassConnection is a cluster-wide singleton,
    // so test files run one after another.
    globalSetup: ["./test/e2e/global-setup.ts"],
    fileParallelism: false,
  },
});
