import { toBase64 } from "../core/crypto";

/**
 * Standard Webhooks signing (standardwebhooks.com, symmetric scheme): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, the signature `v1,` + base64(HMAC-SHA256) with the
 * bytes after `whsec_` as the key, and one signature per secret, space-separated, so that a
 * receiver that knows any one of them (during a rotation) verifies the delivery.
 */

const encoder = new TextEncoder();
const keyCache = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function hmacKey(bytes: Uint8Array): Promise<CryptoKey> {
  let key = keyCache.get(bytes);
  if (!key) {
    key = crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keyCache.set(bytes, key);
  }
  return key;
}

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
  "content-type": "application/json";
}

/** The headers of one attempt: `timestamp` is the attempt's, in unix seconds. */
export async function signEvent(
  id: string,
  timestampSeconds: number,
  body: string,
  keys: readonly Uint8Array[],
): Promise<SignedHeaders> {
  if (keys.length === 0) throw new Error("no signing key: an event is never sent unsigned");
  if (id.includes(".")) throw new Error("a webhook-id must not contain '.'");
  const content = encoder.encode(`${id}.${timestampSeconds}.${body}`);
  const signatures = await Promise.all(
    keys.map(async (bytes) => {
      const mac = await crypto.subtle.sign("HMAC", await hmacKey(bytes), content);
      return `v1,${toBase64(new Uint8Array(mac))}`;
    }),
  );
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": signatures.join(" "),
    "content-type": "application/json",
  };
}
