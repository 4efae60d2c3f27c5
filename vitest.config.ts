import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";
import { hideExpectedRuntimeNoise } from "./test/runtime-noise.ts";

hideExpectedRuntimeNoise();

/** The events project's two signing secrets (whsec_ + base64 of 32 bytes; test values only). */
export const TEST_EVENTS_SECRETS = [
  "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1BISE=",
  "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1CISE=",
] as const;

// wrangler's config reader warns about secrets it cannot find; the tests set their own below.
process.env.API_TOKEN ??= "test-api-token";

// The index's migrations, applied to each test file's fresh D1 by test/apply-migrations.ts.
const indexMigrations = await readD1Migrations("./migrations");

/**
 * A project of tests running inside workerd with the real local Durable Object, Queue and R2.
 * Fixed values so that a developer's .dev.vars never changes a test's outcome; `vars` differ
 * per project where a setting is read by the Durable Object or the consumer (their env comes
 * from here, not from the test).
 */
const workers = (
  name: string,
  include: string[],
  vars: Record<string, string> | ((originUrl: string) => Record<string, string>) = {},
): TestProjectInlineConfiguration => ({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          CALLBACK_TOKENS: "test-token-a,test-token-b",
          API_TOKEN: "test-api-token",
          WEBHOOK_HMAC_KEY: "",
          MEDIA_SIGNING_KEY: "",
          PROVIDER_API_KEY: "test-provider-key",
          PROVIDER_API_BASE: `${inject("originUrl")}/provider`,
          LOCAL_DEV: "true",
          RETRY_BASE_SECONDS: "0",
          PART_SIZE_BYTES: String(5 * 1024 * 1024),
          MEDIA_FETCH_TIMEOUT_MS: "5000",
          ORIGIN_URL: inject("originUrl"),
          ORIGIN_ALT_URL: inject("originAltUrl"),
          CLOSED_URL: inject("closedUrl"),
          INDEX_MIGRATIONS: indexMigrations,
          ...(typeof vars === "function" ? vars(inject("originUrl")) : vars),
        },
      },
    })),
  ],
  test: {
    name,
    include,
    globalSetup: ["./test/global-setup.ts"],
    // Every vi.spyOn is undone after its test.
    restoreMocks: true,
    setupFiles: ["./test/apply-migrations.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

export default defineConfig({
  test: {
    // Structured logs are shown only for failing tests.
    silent: "passed-only",
    projects: [
      workers("workers", ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"]),
      workers("confirmation", ["test/confirmation/**/*.test.ts"], { CONFIRM_WITH_PROVIDER: "true" }),
      // Bodies that go silent: a short idle timeout, so that the real queue path can show it.
      workers("idle", ["test/idle/**/*.test.ts"], { MEDIA_IDLE_TIMEOUT_SECONDS: "2" }),
      // Outbound events on, to the local origin's sink, signed with two secrets (a rotation).
      workers("events", ["test/events/**/*.test.ts"], (originUrl) => ({
        EVENTS_URL: `${originUrl}/events/sink`,
        EVENTS_SECRET: `${TEST_EVENTS_SECRETS[0]}, ${TEST_EVENTS_SECRETS[1]}`,
      })),
    ],
  },
});
