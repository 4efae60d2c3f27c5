import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../core/app-env";
import { fromBase64Url, toBase64Url } from "../core/crypto";
import { ApiError } from "../core/errors";
import { QUARANTINE_KEY, QUARANTINE_PREFIX } from "../core/keys";
import { requireBearer } from "./auth";
import { ARCHIVE_SECURITY_HEADERS } from "./media";
import { errorResponses } from "./schemas";
import { validationHook } from "./validation";

/**
 * The quarantine: callback bodies that passed the source checks but name no valid task id (or
 * contradict the kind their URL names), kept in R2 by the callback route for QUARANTINE_DAYS.
 */
export const quarantineApi = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
quarantineApi.use("*", requireBearer);

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;

export const QuarantineItem = z
  .object({
    key: z.string().openapi({ example: `quarantine/2026-11-30/${"ab".repeat(32)}.json` }),
    receivedAt: z.iso.datetime(),
    route: z.string().openapi({ example: "/callbacks" }),
    bytes: z.number().int(),
    sha256: z.string(),
  })
  .openapi("QuarantineItem");
type QuarantineItem = z.infer<typeof QuarantineItem>;

const QuarantineList = z
  .object({ items: z.array(QuarantineItem), nextCursor: z.string().nullable() })
  .openapi("QuarantineList");

const ListQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_LIMIT))
    .optional()
    .openapi({ type: "integer", minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }),
  cursor: z.string().max(256).optional().openapi({ description: "`nextCursor` of the previous page" }),
});

/** A place in the list: a day, and how many of its items (newest first) came before. */
type Position = { day: string; offset: number };

const encodeCursor = (position: Position) => toBase64Url(new TextEncoder().encode(JSON.stringify(position)));

function decodeCursor(cursor: string): Position {
  const bytes = fromBase64Url(cursor);
  try {
    const position = JSON.parse(new TextDecoder().decode(bytes ?? new Uint8Array())) as Position;
    if (
      /^\d{4}-\d{2}-\d{2}$/.test(position.day) &&
      Number.isInteger(position.offset) &&
      position.offset >= 0
    ) {
      return position;
    }
  } catch {}
  throw new ApiError(400, "invalid_query", "a query parameter is not valid", [
    { path: "cursor", message: "not a cursor of this list" },
  ]);
}

/** Every page of a listing of `prefix`. */
async function listAll(bucket: R2Bucket, options: R2ListOptions) {
  const objects: R2Object[] = [];
  const prefixes: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ ...options, cursor });
    objects.push(...page.objects);
    prefixes.push(...page.delimitedPrefixes);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return { objects, prefixes };
}

const itemOf = (object: R2Object): QuarantineItem => ({
  key: object.key,
  receivedAt: object.customMetadata?.receivedAt ?? object.uploaded.toISOString(),
  route: object.customMetadata?.route ?? "",
  bytes: object.size,
  sha256: object.key.slice(object.key.lastIndexOf("/") + 1, -".json".length),
});

const listQuarantine = createRoute({
  method: "get",
  path: "/",
  summary: "List quarantined callback bodies, newest first",
  description:
    "Bodies that passed the source checks but named no valid task id (answered 400 invalid_payload), " +
    "kept for QUARANTINE_DAYS. One per distinct body and day.",
  security: [{ bearer: [] }],
  request: { query: ListQuery },
  responses: {
    200: { description: "one page", content: { "application/json": { schema: QuarantineList } } },
    ...errorResponses(400, 401, 503),
  },
});

/**
 * R2 lists keys in ascending order; the days are few (a lifecycle rule removes old ones), so the
 * days are listed first and walked newest first, each day's items sorted by receive time.
 */
quarantineApi.openapi(listQuarantine, async (c) => {
  const query = c.req.valid("query");
  const limit = query.limit ?? DEFAULT_LIMIT;
  const from = query.cursor ? decodeCursor(query.cursor) : null;
  const bucket = c.env.MEDIA;
  const oldest = new Date(Date.now() - c.get("config").quarantineDays * 86_400_000)
    .toISOString()
    .slice(0, 10);
  const days = (await listAll(bucket, { prefix: QUARANTINE_PREFIX, delimiter: "/" })).prefixes
    .map((prefix) => prefix.slice(QUARANTINE_PREFIX.length, -1))
    // Older days are the lifecycle rule's to delete; should it be missing, they are not listed.
    .filter((day) => day >= oldest && (!from || day <= from.day))
    .sort()
    .reverse();
  const items: QuarantineItem[] = [];
  for (const day of days) {
    const { objects } = await listAll(bucket, {
      prefix: `${QUARANTINE_PREFIX}${day}/`,
      include: ["customMetadata"],
    });
    const sorted = objects
      .map(itemOf)
      .sort((a, b) => b.receivedAt.localeCompare(a.receivedAt) || a.key.localeCompare(b.key));
    const offset = from && day === from.day ? from.offset : 0;
    const room = limit - items.length;
    items.push(...sorted.slice(offset, offset + room));
    if (sorted.length - offset > room) {
      return c.json({ items, nextCursor: encodeCursor({ day, offset: offset + room }) }, 200);
    }
  }
  return c.json({ items, nextCursor: null }, 200);
});

/** One body as it arrived, as an attachment, with the archive's security headers (documented in openapi.ts). */
quarantineApi.get("/:day/:file", async (c) => {
  const key = `${QUARANTINE_PREFIX}${c.req.param("day")}/${c.req.param("file")}`;
  if (!QUARANTINE_KEY.test(key)) throw new ApiError(404, "not_found", "no such quarantined body");
  const file = key.slice(key.lastIndexOf("/") + 1);
  const object = await c.env.MEDIA.get(key);
  if (!object) throw new ApiError(404, "not_found", "no such quarantined body");
  return new Response(object.body, {
    status: 200,
    headers: {
      "content-type": "application/json",
      "content-length": String(object.size),
      "content-disposition": `attachment; filename="${file}"`,
      "cache-control": "private, no-store",
      ...ARCHIVE_SECURITY_HEADERS,
    },
  });
});
