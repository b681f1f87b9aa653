import { defineConfig } from "vitest/config";

// Each package and app carries its own vitest.config.ts; the root just collects them.
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "scripts"],
  },
});
