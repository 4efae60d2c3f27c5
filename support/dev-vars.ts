/**
 * The development settings of `npm run dev` (tools/dev.ts) and of every `wrangler dev` the e2e
 * test and the benchmarks start: `--var` flags, never in wrangler.toml, so `wrangler deploy`
 * never sees them.
 */
export const DEV_VARS = {
  CALLBACK_TOKENS: "dev-callback-token",
  API_TOKEN: "dev-api-token",
  /** Lets the Worker fetch plain-http media from 127.0.0.1 and localhost. */
  LOCAL_DEV: "true",
} as const;

/**
 * Where `npm run simulate -- --submit` runs its fake provider, and the key it accepts. Not
 * development defaults: `npm run dev` calls a provider only when started with
 * `--var PROVIDER_API_BASE:<DEV_PROVIDER.base> --var PROVIDER_API_KEY:<DEV_PROVIDER.key>`.
 */
export const DEV_PROVIDER = {
  port: 8791,
  base: "http://127.0.0.1:8791/provider",
  key: "dev-provider-key",
} as const;
