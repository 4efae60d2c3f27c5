import type { Config } from "../core/config";
import { fromBase64Url, hmacSha256, importHmacKey, toBase64Url } from "../core/crypto";
import type { ListFilters, ListPosition } from "../index-db/query";

/**
 * The list's opaque cursor: `<payload>.<mac>`, both base64url. The payload is the JSON
 * `[updatedAt, taskId, filters]` — the last row of the page (the keyset position) and the query
 * it belongs to; the mac is HMAC-SHA256 over the payload (first 16 bytes) with a key derived from
 * API_TOKEN. So a cursor that was altered, or that is used with other filters, is refused (400)
 * instead of silently skipping or repeating tasks.
 */

const MAC_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const keys = new Map<string, Promise<CryptoKey>>();

function cursorKey(cfg: Config): Promise<CryptoKey> {
  const token = cfg.apiToken ?? "";
  let key = keys.get(token);
  if (!key) {
    key = importHmacKey(token).then(async (base) =>
      importHmacKey(toBase64Url(await hmacSha256(base, "stemvault list cursor v1"))),
    );
    keys.set(token, key);
  }
  return key;
}

/** The filters in a fixed order, so that equal queries give equal cursors. */
const canonical = (filters: ListFilters) =>
  [filters.kind, filters.state, filters.archive, filters.since, filters.until, filters.q].map(
    (v) => v ?? null,
  );

export async function encodeCursor(cfg: Config, at: ListPosition, filters: ListFilters): Promise<string> {
  const payload = toBase64Url(encoder.encode(JSON.stringify([at.updatedAt, at.taskId, canonical(filters)])));
  const mac = (await hmacSha256(await cursorKey(cfg), payload)).slice(0, MAC_BYTES);
  return `${payload}.${toBase64Url(mac)}`;
}

/** The position a cursor stands for; a message saying why when it is not one of ours for this query. */
export async function decodeCursor(
  cfg: Config,
  cursor: string,
  filters: ListFilters,
): Promise<ListPosition | { error: string }> {
  const [payload, macText, extra] = cursor.split(".");
  const mac = macText === undefined ? null : fromBase64Url(macText);
  const bytes = payload === undefined ? null : fromBase64Url(payload);
  if (extra !== undefined || !payload || !bytes || !mac || mac.length !== MAC_BYTES) {
    return { error: "not a cursor of this list" };
  }
  const expected = (await hmacSha256(await cursorKey(cfg), payload)).slice(0, MAC_BYTES);
  if (!crypto.subtle.timingSafeEqual(expected, mac)) return { error: "not a cursor of this list" };
  const [updatedAt, taskId, query] = JSON.parse(decoder.decode(bytes)) as [number, string, unknown];
  if (JSON.stringify(query) !== JSON.stringify(canonical(filters))) {
    return { error: "the cursor belongs to a query with other filters" };
  }
  return { updatedAt, taskId };
}
