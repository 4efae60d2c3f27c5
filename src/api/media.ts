import { Hono, type MiddlewareHandler } from "hono";
import type { AppEnv } from "../core/app-env";
import { ApiError, unauthorized } from "../core/errors";
import { isArchiveKey } from "../core/keys";
import { log } from "../core/log";
import { hasBearer } from "./auth";
import { verifyMediaLink } from "./media-links";
import { type ByteRange, parseRange } from "./range";

export const media = new Hono<AppEnv>();

const notFound = () => new ApiError(404, "not_found", "no such media object");

/**
 * What the archive is served with, whatever the answer (200, 206, 304, 416, 401, 404): the
 * browser must not guess a type (`nosniff`), and nothing in it may run or load anything: a
 * sandboxed document without any source, on the origin where the dashboard keeps its token.
 */
export const ARCHIVE_SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; sandbox",
} as const;

export const archiveSecurity: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(ARCHIVE_SECURITY_HEADERS)) c.res.headers.set(name, value);
};

/**
 * Types a browser may show in place: playable media and the common raster images (not MIDI,
 * which no browser plays: a notes.mid is downloaded, like the JSON files stemvault makes).
 */
const INLINE = /^(?:audio\/(?!(?:x-)?midi$)[\w.+-]+|video\/[\w.+-]+|image\/(?:jpeg|png|gif|webp|avif))$/;

/** `inline` for playable media; anything else is only ever downloaded. */
export function contentDisposition(contentType: string, key: string): string {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  const filename = key.slice(key.lastIndexOf("/") + 1);
  return `${INLINE.test(type) ? "inline" : "attachment"}; filename="${filename}"`;
}

function objectHeaders(object: R2Object, key: string): Headers {
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  if (!headers.has("content-type")) headers.set("content-type", "application/octet-stream");
  headers.set("content-disposition", contentDisposition(headers.get("content-type") as string, key));
  headers.set("etag", object.httpEtag);
  headers.set("accept-ranges", "bytes");
  headers.set("cache-control", "private, max-age=3600");
  return headers;
}

/** The opaque part of an entity tag, for the weak comparison of RFC 9110 §8.8.3.2. */
const opaqueTag = (tag: string) => tag.trim().replace(/^W\//, "");

/** True when `If-None-Match` names the object's ETag (weak comparison) or is `*`. */
export function matchesIfNoneMatch(header: string, etag: string): boolean {
  const tags = header.match(/\*|(?:W\/)?"[^"]*"/g) ?? [];
  return tags.some((tag) => tag === "*" || opaqueTag(tag) === opaqueTag(etag));
}

/** The R2 key of a `/media/...` path; a malformed percent-encoding is the client's error. */
function keyOf(url: string): string {
  const path = new URL(url).pathname.replace(/^\/media\//, "");
  try {
    return decodeURIComponent(path);
  } catch {
    throw new ApiError(400, "invalid_key", "the media key is not validly percent-encoded");
  }
}

media.use("*", archiveSecurity);

/**
 * Serves an archived object: bearer or signed link, single byte ranges (206/416), and
 * If-None-Match (304). Only keys of the archive's layout are ever looked up.
 */
media.on(["GET", "HEAD"], "/*", async (c) => {
  const key = keyOf(c.req.url);
  if (!isArchiveKey(key)) throw notFound();

  if (!(await hasBearer(c))) {
    const verdict = await verifyMediaLink(
      c.get("config"),
      key,
      c.req.query("expires"),
      c.req.query("sig"),
      Math.floor(Date.now() / 1000),
    );
    if (verdict !== "ok") {
      log.warn("media_link_rejected", { reason: verdict });
      throw unauthorized();
    }
  }

  const head = await c.env.MEDIA.head(key);
  if (!head) throw notFound();
  const headers = objectHeaders(head, key);

  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch && matchesIfNoneMatch(ifNoneMatch, head.httpEtag)) {
    return new Response(null, { status: 304, headers });
  }

  let range: ByteRange | null = null;
  const rangeHeader = c.req.header("range");
  if (rangeHeader) {
    const parsed = parseRange(rangeHeader, head.size);
    if (parsed === "unsatisfiable") {
      // The answer is the error JSON, not the object: none of the object's own headers.
      return c.json(
        { error: { code: "range_not_satisfiable", message: `the object has ${head.size} bytes` } },
        416,
        { "content-range": `bytes */${head.size}`, "accept-ranges": "bytes", "cache-control": "no-store" },
      );
    }
    range = parsed;
  }

  const status = range ? 206 : 200;
  const length = range ? range.end - range.start + 1 : head.size;
  headers.set("content-length", String(length));
  if (range) headers.set("content-range", `bytes ${range.start}-${range.end}/${head.size}`);
  if (c.req.method === "HEAD") return new Response(null, { status, headers });

  const object = await c.env.MEDIA.get(key, range ? { range: { offset: range.start, length } } : {});
  if (!object) throw notFound();
  return new Response(object.body, { status, headers });
});
