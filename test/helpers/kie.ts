import { hmacSha256, importHmacKey, toBase64 } from "../../src/core/crypto";
import { signedString } from "../../src/providers/kie-signature";

/** What kie.ai sends as X-Webhook-Signature: base64(HMAC-SHA256(key, `${taskId}.${timestamp}`)). */
export async function signKie(key: string, taskId: string, timestamp: string): Promise<string> {
  return toBase64(await hmacSha256(await importHmacKey(key), signedString(taskId, timestamp)));
}
