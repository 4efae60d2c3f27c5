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

/**
 * What a link signs: the R2 key (media) or the path (`/tasks/<id>/bundle.zip`), and the expiry,
 * newline-separated (none can contain one). A path starts with `/` and a key never does, so a
 * bundle link's signature is never valid for a media key, nor the reverse.
 */
const signedMessage = (subject: string, expires: number) => `${subject}\n${expires}`;

/** `?expires=<unix seconds>&sig=<base64url HMAC-SHA256>` for `subject`, or null without a key. */
async function signedQuery(cfg: Config, subject: string, nowSeconds: number): Promise<string | null> {
  const hmac = await signingKey(cfg);
  if (!hmac) return null;
  const expires = nowSeconds + cfg.mediaLinkTtlSeconds;
  const sig = toBase64Url(await hmacSha256(hmac, signedMessage(subject, expires)));
  return `?expires=${expires}&sig=${sig}`;
}

/** `/media/<key>?expires=<unix seconds>&sig=<base64url HMAC-SHA256>`, or null without a key. */
export async function signMediaLink(cfg: Config, key: string, nowSeconds: number): Promise<string | null> {
  const query = await signedQuery(cfg, key, nowSeconds);
  return query && `/media/${key}${query}`;
}

/** The path a task's bundle is served at, and what its link signs. */
export const bundlePath = (taskId: string) => `/tasks/${taskId}/bundle.zip`;

/** `/tasks/<taskId>/bundle.zip?expires=…&sig=…`: same key and lifetime as media links. */
export async function signBundleLink(
  cfg: Config,
  taskId: string,
  nowSeconds: number,
): Promise<string | null> {
  const query = await signedQuery(cfg, bundlePath(taskId), nowSeconds);
  return query && `${bundlePath(taskId)}${query}`;
}

export type LinkVerdict = "ok" | "missing" | "expired" | "bad_signature";

/** Checks a link's `expires` and `sig` against what it signs: a media key or a bundle path. */
export async function verifyMediaLink(
  cfg: Config,
  subject: string,
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
    new TextEncoder().encode(signedMessage(subject, Number(expires))),
  );
  return valid ? "ok" : "bad_signature";
}
