/**
 * Secrets and development-only vars are not in wrangler.toml, so `wrangler types` cannot see them.
 * They are optional on purpose: the receiver must fail closed when they are missing.
 */
export interface Secrets {
  CALLBACK_TOKENS?: string;
  WEBHOOK_HMAC_KEY?: string;
  API_TOKEN?: string;
  MEDIA_SIGNING_KEY?: string;
  PROVIDER_API_KEY?: string;
  /** "true" only under `npm run dev` and the tests: allows http media from 127.0.0.1/localhost. */
  LOCAL_DEV?: string;
  /** First retry delay of a transient media failure; doubles per attempt. Default 15. */
  RETRY_BASE_SECONDS?: string;
  /** Multipart part size for media without Content-Length. Default 10 MiB. */
  PART_SIZE_BYTES?: string;
  /** Per-request timeout of a media download's response headers. Default 30000. */
  MEDIA_FETCH_TIMEOUT_MS?: string;
  /** Benchmarks only: enables the bare fetch+put baseline route. */
  BENCH_BASELINE?: string;
}

declare global {
  interface Env extends Secrets {}
  namespace Cloudflare {
    interface Env extends Secrets {}
  }
}
