import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../core/app-env";
import type { SourceCheck } from "../core/config";
import { safeEqualAny } from "../core/crypto";
import { ApiError, unauthorized } from "../core/errors";
import { ipAllowed } from "../core/ip-ranges";
import { log } from "../core/log";
import { checkTimestamp, verifyKieSignature } from "../providers/kie-signature";

/** Logs which check failed and why (never a secret), then answers a bare 401. */
function reject(c: Context, check: SourceCheck, reason: string): never {
  log.warn("callback_rejected", { check, reason, ip: c.req.header("cf-connecting-ip") ?? null });
  throw unauthorized();
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Everything that can be checked before the body is read: fail closed when the settings are
 * malformed or no check is configured, then the IP allowlist, the URL token, and the kie.ai
 * timestamp window.
 */
export const sourceGate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const cfg = c.get("config");
  if (cfg.problems.length > 0) {
    log.error("callback_rejected", { reason: "receiver_not_configured", problems: cfg.problems });
    throw new ApiError(
      503,
      "receiver_not_configured",
      `the receiver cannot accept callbacks: ${cfg.problems.join("; ")}`,
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
export async function verifySignature(c: Context<AppEnv>, taskId: string): Promise<void> {
  const cfg = c.get("config");
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
