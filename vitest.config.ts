import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// wrangler's config reader warns about secrets it cannot find; the tests set their own below.
process.env.API_TOKEN ??= "test-api-token";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // Fixed values so that a developer's .dev.vars never changes a test's outcome.
        bindings: {
          CALLBACK_TOKENS: "test-token-a,test-token-b",
          API_TOKEN: "test-api-token",
          WEBHOOK_HMAC_KEY: "",
          MEDIA_SIGNING_KEY: "",
          PROVIDER_API_KEY: "",
          LOCAL_DEV: "true",
          RETRY_BASE_SECONDS: "0",
          PART_SIZE_BYTES: String(5 * 1024 * 1024),
          MEDIA_FETCH_TIMEOUT_MS: "5000",
          ORIGIN_URL: inject("originUrl"),
          ORIGIN_ALT_URL: inject("originAltUrl"),
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
    // Structured logs are shown only for failing tests.
    silent: "passed-only",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
