import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../core/app-env";
import { safeEqual } from "../core/crypto";
import { ApiError, unauthorized } from "../core/errors";

/** True when the request carries `Authorization: Bearer <API_TOKEN>`. Throws 503 if unset. */
export async function hasBearer(c: Context<AppEnv>): Promise<boolean> {
  const { apiToken } = c.get("config");
  if (!apiToken) throw new ApiError(503, "api_not_configured", "API_TOKEN is not set");
  const match = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "");
  return match?.[1] ? safeEqual(match[1].trim(), apiToken) : false;
}

export const requireBearer: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!(await hasBearer(c))) throw unauthorized();
  await next();
};
