import { defineProject } from "vitest/config";

// Tests of the repository scripts (scripts/test). They import the Compass simulator and the Connector client from
// their sources, hence the "development" condition like the packages' own configs.
export default defineProject({
  resolve: { conditions: ["development"] },
  ssr: { resolve: { conditions: ["development"] } },
  test: {
    name: "scripts",
    include: ["**/*.test.ts"],
    // Pairing generates an RSA key; a full refresh runs graphql-codegen twice.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
