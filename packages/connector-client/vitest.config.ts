import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["development"] },
  ssr: { resolve: { conditions: ["development"] } },
  test: {
    name: "connector-client",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
  },
});
