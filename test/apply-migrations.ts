import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Every test file starts with the index's schema, applied from migrations/ as wrangler would.
await applyD1Migrations(env.INDEX, env.INDEX_MIGRATIONS);
