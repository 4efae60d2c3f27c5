import type { Context, MiddlewareHandler } from "hono";
import { config } from "../config";
import { safeEqual } from "../crypto";
import { ApiError, unauthorized } from "../errors";

/** True when the request carries `Authorization: Bearer <API_TOKEN>`. Throws 503 if unset. */
export async function hasBearer(c: Context<{ Bindings: Env }>): Promise<boolean> {
  const { apiToken } = config(c.env);
  if (!apiToken) throw new ApiError(503, "api_not_configured", "API_TOKEN is not set");
  const match = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "");
  return match?.[1] ? safeEqual(match[1].trim(), apiToken) : false;
}

export const requireBearer: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  if (!(await hasBearer(c))) throw unauthorized();
  await next();
};
