import type { Context, MiddlewareHandler } from "hono";
import { type Config, config } from "../config";
import { safeEqualAny } from "../crypto";
import { ApiError, unauthorized } from "../errors";
import { ipAllowed } from "./ip-allowlist";
import { checkTimestamp, verifyKieSignature } from "./kie-signature";

export type SourceCheck = "token" | "hmac" | "ip";

/** The source checks this deployment has configured, in the order they run. */
export function configuredChecks(cfg: Config): SourceCheck[] {
  const checks: SourceCheck[] = [];
  if (cfg.callbackTokens.length > 0) checks.push("token");
  if (cfg.hmacKey) checks.push("hmac");
  if (cfg.allowedSourceIps.length > 0) checks.push("ip");
  return checks;
}

/** Logs which check failed and why (never a secret), then answers a bare 401. */
function reject(c: Context, check: SourceCheck, reason: string): never {
  console.warn(
    JSON.stringify({
      event: "callback_rejected",
      check,
      reason,
      ip: c.req.header("cf-connecting-ip") ?? null,
    }),
  );
  throw unauthorized();
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Everything that can be checked before the body is read: fail closed when nothing is
 * configured, then the IP allowlist, the URL token, and the kie.ai timestamp window.
 */
export const sourceGate: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const cfg = config(c.env);
  if (configuredChecks(cfg).length === 0) {
    console.error(JSON.stringify({ event: "callback_rejected", reason: "receiver_not_configured" }));
    throw new ApiError(
      503,
      "receiver_not_configured",
      "no source check is configured (CALLBACK_TOKENS, WEBHOOK_HMAC_KEY or ALLOWED_SOURCE_IPS)",
    );
  }
  if (cfg.allowedSourceIps.length > 0 && !ipAllowed(c.req.header("cf-connecting-ip"), cfg.allowedSourceIps)) {
    reject(c, "ip", "address not in ALLOWED_SOURCE_IPS");
  }
  if (cfg.callbackTokens.length > 0) {
    const token = c.req.query("token");
    if (!token) reject(c, "token", "missing token");
    if (!(await safeEqualAny(token, cfg.callbackTokens))) reject(c, "token", "unknown token");
  }
  if (cfg.hmacKey) {
    const verdict = checkTimestamp(
      c.req.header("x-webhook-timestamp"),
      cfg.signatureToleranceSeconds,
      nowSeconds(),
    );
    if (verdict !== "ok") reject(c, "hmac", verdict);
  }
  await next();
};

/** The kie.ai signature binds the task id, so it is verified once the body is parsed. */
export async function verifySignature(c: Context<{ Bindings: Env }>, taskId: string): Promise<void> {
  const cfg = config(c.env);
  if (!cfg.hmacKey) return;
  const verdict = await verifyKieSignature({
    key: cfg.hmacKey,
    taskId,
    timestamp: c.req.header("x-webhook-timestamp"),
    signature: c.req.header("x-webhook-signature"),
    toleranceSeconds: cfg.signatureToleranceSeconds,
    nowSeconds: nowSeconds(),
  });
  if (verdict !== "ok") reject(c, "hmac", verdict);
}
