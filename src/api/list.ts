import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../core/app-env";
import { ApiError } from "../core/errors";
import { TaskKind } from "../core/ids";
import type { IndexEntry } from "../index-db/entries";
import { type ListFilters, listEntries } from "../index-db/query";
import { ensureLocalSchema } from "../index-db/schema";
import { ArchiveState, ArchiveSummary, Stage, TaskState } from "../tasks/status";
import { requireBearer } from "./auth";
import { decodeCursor, encodeCursor } from "./list-cursor";
import { errorResponses } from "./schemas";
import { validationHook } from "./validation";

export const list = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
list.use("/", requireBearer);

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

/** ISO-8601: a date-time with `Z` or an offset, or a plain date (its midnight, UTC). */
const IsoInstant = z
  .string()
  .refine(
    (value) =>
      (z.iso.datetime({ offset: true }).safeParse(value).success || z.iso.date().safeParse(value).success) &&
      !Number.isNaN(Date.parse(value)),
    "must be an ISO-8601 date-time with Z or an offset (2026-11-30T12:00:00Z), or a date (2026-11-30)",
  )
  .openapi({ format: "date-time", example: "2026-11-30T12:00:00Z" });

export const ListQuery = z
  .strictObject({
    kind: TaskKind.optional().openapi({ description: "only tasks of this kind" }),
    state: TaskState.optional().openapi({ description: "only tasks in this state" }),
    archive: ArchiveState.optional().openapi({ description: "only tasks whose archive is in this state" }),
    since: IsoInstant.optional().openapi({ description: "only tasks updated at or after this instant" }),
    until: IsoInstant.optional().openapi({ description: "only tasks updated before this instant" }),
    q: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,128}$/, "a task id prefix: 1-128 characters of A-Z, a-z, 0-9, '_' or '-'")
      .optional()
      .openapi({ description: "only tasks whose id starts with this", example: "2fac" }),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, "must be a whole number")
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_LIMIT))
      .optional()
      .openapi({
        type: "integer",
        minimum: 1,
        maximum: MAX_LIMIT,
        default: DEFAULT_LIMIT,
        description: "tasks per page",
      }),
    cursor: z
      .string()
      .max(1024)
      .optional()
      .openapi({ description: "`nextCursor` of the previous page, with the same filters" }),
  })
  .refine((query) => !query.since || !query.until || Date.parse(query.since) < Date.parse(query.until), {
    path: ["until"],
    message: "must be later than since",
  });

const Iso = z.iso.datetime().openapi({ example: "2026-11-30T12:00:00.000Z" });

export const TaskSummary = z
  .object({
    taskId: z.string().openapi({ example: "2fac9f72" }),
    kind: TaskKind,
    state: TaskState,
    stage: Stage.nullable(),
    archive: ArchiveSummary,
    createdAt: Iso,
    /** When anything listed here last changed. */
    updatedAt: Iso,
  })
  .openapi("TaskSummary");

export const TaskList = z
  .object({
    tasks: z.array(TaskSummary),
    nextCursor: z.string().nullable().openapi({ description: "null on the last page" }),
  })
  .openapi("TaskList");

const summaryOf = (entry: IndexEntry): z.infer<typeof TaskSummary> => ({
  taskId: entry.taskId,
  kind: entry.kind,
  state: entry.state,
  stage: entry.stage,
  archive: entry.archive,
  createdAt: new Date(entry.createdAt).toISOString(),
  updatedAt: new Date(entry.updatedAt).toISOString(),
});

const listTasks = createRoute({
  method: "get",
  path: "/",
  summary: "List and search tasks, newest update first",
  description:
    "Backed by the D1 index, which reflects a task's change within a few seconds. Pages are " +
    "keyset pages on (updatedAt, taskId): paging through a set that does not change yields every task once.",
  security: [{ bearer: [] }],
  request: { query: ListQuery },
  responses: {
    200: { description: "one page of tasks", content: { "application/json": { schema: TaskList } } },
    ...errorResponses(400, 401, 503),
  },
});

list.openapi(listTasks, async (c) => {
  const query = c.req.valid("query");
  const cfg = c.get("config");
  const filters: ListFilters = {
    kind: query.kind,
    state: query.state,
    archive: query.archive,
    since: query.since ? Date.parse(query.since) : undefined,
    until: query.until ? Date.parse(query.until) : undefined,
    q: query.q,
  };
  const limit = query.limit ?? DEFAULT_LIMIT;
  let after = null;
  if (query.cursor !== undefined) {
    const decoded = await decodeCursor(cfg, query.cursor, filters);
    if ("error" in decoded) {
      throw new ApiError(400, "invalid_query", "a query parameter is not valid", [
        { path: "cursor", message: decoded.error },
      ]);
    }
    after = decoded;
  }
  let entries: IndexEntry[];
  try {
    await ensureLocalSchema(c.env.INDEX, cfg.localDev);
    entries = await listEntries(c.env.INDEX, filters, after, limit + 1);
  } catch (error) {
    if (error instanceof Error && /no such table/.test(error.message)) {
      throw new ApiError(
        503,
        "index_not_ready",
        "the task index has no schema: run `wrangler d1 migrations apply stemvault-index --remote`",
      );
    }
    throw error;
  }
  const page = entries.slice(0, limit);
  const last = page.at(-1);
  const nextCursor =
    entries.length > limit && last
      ? await encodeCursor(cfg, { updatedAt: last.updatedAt, taskId: last.taskId }, filters)
      : null;
  return c.json({ tasks: page.map(summaryOf), nextCursor }, 200);
});
