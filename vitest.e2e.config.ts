import { defineConfig } from "vitest/config";

// The end-to-end suite: plain Node (not the Workers pool). It starts a real `wrangler dev` of the
// Worker on a free port with its own persistence folder, plays the provider against it
// (support/scenario.ts) and downloads every archived file back. See test/e2e/.
export default defineConfig({
  test: {
    name: "e2e",
    environment: "node",
    // test/node/: checks of committed files that need Node (e.g. Ajv, which workerd forbids).
    include: ["test/node/**/*.test.ts", "test/e2e/**/*.test.ts", "test/browser/**/*.test.ts"],
    // One wrangler per file is plenty for two cores.
    fileParallelism: false,
    restoreMocks: true,
    testTimeout: 90_000,
    hookTimeout: 90_000,
  },
});
