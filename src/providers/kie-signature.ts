import { fromBase64, importHmacKey } from "../core/crypto";

/** kie.ai allows no clock skew documentation; a sender clock this far ahead is rejected. */
export const MAX_FUTURE_SKEW_SECONDS = 60;

/**
 * The string kie.ai signs: `${taskId}.${timestamp}`, with the timestamp header exactly as sent.
 * The body is not covered; the task id is the only payload field bound to the signature.
 */
export const signedString = (taskId: string, timestamp: string) => `${taskId}.${timestamp}`;

export type SignatureVerdict =
  | "ok"
  | "missing_headers"
  | "malformed_timestamp"
  | "stale_timestamp"
  | "future_timestamp"
  | "malformed_signature"
  | "bad_signature";

export interface SignatureInput {
  key: string;
  taskId: string;
  timestamp: string | null | undefined;
  signature: string | null | undefined;
  toleranceSeconds: number;
  nowSeconds: number;
}

/** Checks the freshness window first (cheap), then the HMAC with a constant-time verify. */
export function checkTimestamp(
  timestamp: string | null | undefined,
  toleranceSeconds: number,
  nowSeconds: number,
): SignatureVerdict {
  if (!timestamp) return "missing_headers";
  if (!/^\d{1,12}$/.test(timestamp)) return "malformed_timestamp";
  const sentAt = Number(timestamp);
  if (nowSeconds - sentAt > toleranceSeconds) return "stale_timestamp";
  if (sentAt - nowSeconds > MAX_FUTURE_SKEW_SECONDS) return "future_timestamp";
  return "ok";
}

export async function verifyKieSignature(input: SignatureInput): Promise<SignatureVerdict> {
  if (!input.signature || !input.timestamp) return "missing_headers";
  const freshness = checkTimestamp(input.timestamp, input.toleranceSeconds, input.nowSeconds);
  if (freshness !== "ok") return freshness;
  const mac = fromBase64(input.signature.trim());
  if (mac?.length !== 32) return "malformed_signature";
  const key = await importHmacKey(input.key);
  const valid = await crypto.subtle.verify(
    "HMAC",
    key,
    mac,
    new TextEncoder().encode(signedString(input.taskId, input.timestamp)),
  );
  return valid ? "ok" : "bad_signature";
}
