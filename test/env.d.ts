declare namespace Cloudflare {
  interface Env {
    /** Base URL of the local media origin started in globalSetup (127.0.0.1). */
    ORIGIN_URL: string;
    /** The same origin on 127.0.0.2: a host the URL policy must never let through. */
    ORIGIN_ALT_URL: string;
    /** A loopback URL nothing listens on (connection refused). */
    CLOSED_URL: string;
    /** migrations/*.sql as read by `readD1Migrations` (vitest.config.ts). */
    INDEX_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}
