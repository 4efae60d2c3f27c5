/**
 * Settings that `wrangler types` cannot see, so they are declared here. All are optional strings
 * on purpose: config.ts validates them, supplies the defaults, and fails closed when a secret
 * the receiver needs is missing.
 */

/** Real secrets (`wrangler secret put`): never logged, never echoed. */
export interface Secrets {
  CALLBACK_TOKENS?: string;
  WEBHOOK_HMAC_KEY?: string;
  API_TOKEN?: string;
  MEDIA_SIGNING_KEY?: string;
  PROVIDER_API_KEY?: string;
  /** Standard Webhooks secret(s) of outbound events: `whsec_<base64>`, comma-separated. */
  EVENTS_SECRET?: string;
}

/** The contract's vars: defaults in config.ts, overridden in wrangler.toml `[vars]`. */
export interface Vars {
  SIGNATURE_TOLERANCE_SECONDS?: string;
  ALLOWED_SOURCE_IPS?: string;
  MEDIA_HOSTS?: string;
  MAX_MEDIA_BYTES?: string;
  MAX_CALLBACK_BYTES?: string;
  MAX_ASSETS_PER_TASK?: string;
  MEDIA_IDLE_TIMEOUT_SECONDS?: string;
  PROVIDER_API_BASE?: string;
  RECONCILE_AFTER_SECONDS?: string;
  CONFIRM_WITH_PROVIDER?: string;
  MEDIA_LINK_TTL_SECONDS?: string;
  /** Outbound events endpoint; empty: events off. */
  EVENTS_URL?: string;
  /** The Worker's public origin, for absolute links in events. */
  PUBLIC_URL?: string;
}

/** Knobs for local development and the tests; a deployment leaves them unset. */
export interface DevKnobs {
  /** "true" only under `npm run dev` and the tests: allows http media from 127.0.0.1/localhost. */
  LOCAL_DEV?: string;
  /** First retry delay of a transient media failure; doubles per attempt. Default 15. */
  RETRY_BASE_SECONDS?: string;
  /** Multipart part size for media without Content-Length. Default 10 MiB. */
  PART_SIZE_BYTES?: string;
  /** Per-request timeout of a media download's response headers. Default 30000. */
  MEDIA_FETCH_TIMEOUT_MS?: string;
  /** How long a submission waits for the provider's answer (then 504). Default 30000, the contract's. */
  SUBMIT_TIMEOUT_MS?: string;
}

declare global {
  interface Env extends Secrets, Vars, DevKnobs {}
  namespace Cloudflare {
    interface Env extends Secrets, Vars, DevKnobs {}
  }
}
