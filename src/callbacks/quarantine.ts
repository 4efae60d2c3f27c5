import { sha256Hex } from "../core/crypto";
import { ApiError } from "../core/errors";
import { quarantineKey } from "../core/keys";
import { log } from "../core/log";

/**
 * `quarantine/<YYYY-MM-DD>/<sha256>.json`: the raw body of an authenticated callback refused with
 * a 400 — it names no valid task id, contradicts the kind its URL or its task names, or would
 * exceed MAX_ASSETS_PER_TASK — so that nothing a provider was paid for is thrown away even when
 * stemvault cannot file it. One object per distinct body and day
 * (the provider's retries of it land on the same key); the route and the receive time are its
 * custom metadata. An R2 lifecycle rule deletes them after QUARANTINE_DAYS.
 */
export async function quarantine(
  bucket: R2Bucket,
  raw: string,
  route: string,
  now = new Date(),
): Promise<string> {
  const sha256 = await sha256Hex(raw);
  const key = quarantineKey(now, sha256);
  try {
    if (!(await bucket.head(key))) {
      await bucket.put(key, raw, {
        httpMetadata: { contentType: "application/json" },
        customMetadata: { route, receivedAt: now.toISOString(), sha256 },
      });
    }
  } catch (error) {
    // The body could not be kept: a 5xx makes the provider send it again.
    log.error("quarantine_failed", { route, error });
    throw new ApiError(503, "quarantine_failed", "the callback could not be kept; please retry");
  }
  log.warn("callback_quarantined", { route, key });
  return key;
}
