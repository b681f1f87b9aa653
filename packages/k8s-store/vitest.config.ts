import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["development"] },
  ssr: { resolve: { conditions: ["development"] } },
  test: {
    name: "k8s-store",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // A real kube-apiserver + etcd (kube-testenv) with schemas/crds installed, shared by all test files.
    globalSetup: ["./test/global-setup.ts"],
    hookTimeout: 120_000,
    testTimeout: 60_000,
  },
});
