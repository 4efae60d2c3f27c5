import { Hono } from "hono";
import type { AppEnv } from "../core/app-env";
import { ApiError, unauthorized } from "../core/errors";
import { isArchiveKey } from "../core/keys";
import { log } from "../core/log";
import { hasBearer } from "./auth";
import { verifyMediaLink } from "./media-links";
import { type ByteRange, parseRange } from "./range";

export const media = new Hono<AppEnv>();

const notFound = () => new ApiError(404, "not_found", "no such media object");

function objectHeaders(object: R2Object): Headers {
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  if (!headers.has("content-type")) headers.set("content-type", "application/octet-stream");
  headers.set("etag", object.httpEtag);
  headers.set("accept-ranges", "bytes");
  headers.set("cache-control", "private, max-age=3600");
  return headers;
}

/**
 * Serves an archived object: bearer or signed link, single byte ranges (206/416), and
 * If-None-Match (304). Only keys of the archive's layout are ever looked up.
 */
media.on(["GET", "HEAD"], "/*", async (c) => {
  const key = decodeURIComponent(new URL(c.req.url).pathname.replace(/^\/media\//, ""));
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
  const headers = objectHeaders(head);

  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch?.split(",").some((tag) => [head.httpEtag, "*"].includes(tag.trim()))) {
    return new Response(null, { status: 304, headers });
  }

  let range: ByteRange | null = null;
  const rangeHeader = c.req.header("range");
  if (rangeHeader) {
    const parsed = parseRange(rangeHeader, head.size);
    if (parsed === "unsatisfiable") {
      headers.set("content-range", `bytes */${head.size}`);
      headers.delete("content-type"); // the answer is the error JSON, not the object
      return c.json(
        { error: { code: "range_not_satisfiable", message: `the object has ${head.size} bytes` } },
        416,
        Object.fromEntries(headers),
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
