import { Hono } from "hono";
import { config } from "../config";
import { ApiError } from "../errors";

/**
 * Benchmarks only (BENCH_BASELINE=true): the bare `fetch` then `R2.put(body)` that the real
 * consumer is measured against. No checks, no hashing; off and 404 everywhere else.
 */
export const benchBaseline = new Hono<{ Bindings: Env }>();

benchBaseline.post("/baseline-put", async (c) => {
  if (!config(c.env).benchBaseline) throw new ApiError(404, "not_found", "no such route");
  const url = c.req.query("url");
  if (!url) throw new ApiError(400, "invalid_payload", "url is required");
  const started = Date.now();
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new ApiError(502, "origin_failed", `HTTP ${response.status}`);
  const key = `.bench/${crypto.randomUUID()}`;
  const object = await c.env.MEDIA.put(key, response.body);
  await c.env.MEDIA.delete(key);
  return c.json({ bytes: object?.size ?? 0, ms: Date.now() - started });
});
