import type { Config } from "../core/config";
import { fromBase64Url, hmacSha256, importHmacKey, toBase64Url } from "../core/crypto";

const keyCache = new Map<string, Promise<CryptoKey | null>>();

/**
 * The link-signing key: MEDIA_SIGNING_KEY, or else one derived from API_TOKEN (so rotating the
 * API token also revokes every outstanding link). Null when neither is set.
 */
function signingKey(cfg: Config): Promise<CryptoKey | null> {
  const material = cfg.mediaSigningKey ?? cfg.apiToken;
  if (!material) return Promise.resolve(null);
  const cacheKey = `${cfg.mediaSigningKey ? "k" : "t"}:${material}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    key = cfg.mediaSigningKey
      ? importHmacKey(cfg.mediaSigningKey)
      : importHmacKey(cfg.apiToken as string).then(async (derivation) =>
          importHmacKey(toBase64Url(await hmacSha256(derivation, "stemvault media links v1"))),
        );
    keyCache.set(cacheKey, key);
  }
  return key;
}

/** What a link signs: the R2 key and the expiry, newline-separated (neither can contain one). */
const signedMessage = (key: string, expires: number) => `${key}\n${expires}`;

/** `/media/<key>?expires=<unix seconds>&sig=<base64url HMAC-SHA256>`, or null without a key. */
export async function signMediaLink(cfg: Config, key: string, nowSeconds: number): Promise<string | null> {
  const hmac = await signingKey(cfg);
  if (!hmac) return null;
  const expires = nowSeconds + cfg.mediaLinkTtlSeconds;
  const sig = toBase64Url(await hmacSha256(hmac, signedMessage(key, expires)));
  return `/media/${key}?expires=${expires}&sig=${sig}`;
}

export type LinkVerdict = "ok" | "missing" | "expired" | "bad_signature";

export async function verifyMediaLink(
  cfg: Config,
  key: string,
  expires: string | undefined,
  sig: string | undefined,
  nowSeconds: number,
): Promise<LinkVerdict> {
  if (!expires || !sig) return "missing";
  if (!/^\d{1,12}$/.test(expires)) return "bad_signature";
  if (Number(expires) < nowSeconds) return "expired";
  const hmac = await signingKey(cfg);
  const mac = fromBase64Url(sig);
  if (!hmac || !mac) return "bad_signature";
  const valid = await crypto.subtle.verify(
    "HMAC",
    hmac,
    mac,
    new TextEncoder().encode(signedMessage(key, Number(expires))),
  );
  return valid ? "ok" : "bad_signature";
}
