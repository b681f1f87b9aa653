import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["development"] },
  ssr: { resolve: { conditions: ["development"] } },
  test: {
    name: "compass-sim",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Integration tests spawn openssl for RSA keys and CSRs; allow for slow machines.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
