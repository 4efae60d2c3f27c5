import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../core/app-env";
import type { Config } from "../core/config";
import { ApiError } from "../core/errors";
import { duplicateTally } from "../tasks/duplicate-tally";
import { TaskStatus } from "../tasks/status";
import { taskStub } from "../tasks/stub";
import { requireBearer } from "./auth";
import { bundleLink } from "./bundle-link";
import { signMediaLink } from "./media-links";
import { Deleted, errorResponses, Registration, RetryResult, TaskIdParam } from "./schemas";
import { validationHook } from "./validation";

export const tasks = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
tasks.use("*", requireBearer);

const notFound = (taskId: string) => new ApiError(404, "task_not_found", `no task ${taskId}`);
const gone = (taskId: string) => new ApiError(410, "task_deleted", `task ${taskId} was deleted`);

/** 410 for a deleted task, 404 for one that never existed. */
export const missingTask = async (env: Env, taskId: string) =>
  (await taskStub(env, taskId).isDeleted()) ? gone(taskId) : notFound(taskId);

const json = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/**
 * Adds a signed, expiring `/media/...` link to every stored asset, and the task's `bundle` (its
 * signed ZIP link and exact length) once a file is stored.
 */
async function withLinks(env: Env, cfg: Config, status: TaskStatus): Promise<TaskStatus> {
  const now = Math.floor(Date.now() / 1000);
  const [assets, bundle] = await Promise.all([
    Promise.all(
      status.assets.map(async (asset) => ({
        ...asset,
        url: asset.state === "stored" && asset.key ? await signMediaLink(cfg, asset.key, now) : null,
      })),
    ),
    bundleLink(env.MEDIA, cfg, status),
  ]);
  return { ...status, assets, ...(bundle && { bundle }) };
}

const getTask = createRoute({
  method: "get",
  path: "/{taskId}",
  summary: "A task's status: stage, callbacks, archive, tracks and assets with signed links",
  security: [{ bearer: [] }],
  request: { params: TaskIdParam },
  responses: { 200: json(TaskStatus, "the status JSON"), ...errorResponses(400, 401, 404, 410, 503) },
});

tasks.openapi(getTask, async (c) => {
  const { taskId } = c.req.valid("param");
  await duplicateTally.flush(c.env, taskId); // duplicates answered here a moment ago, counted
  const status = await taskStub(c.env, taskId).status();
  if (!status) throw await missingTask(c.env, taskId);
  return c.json(await withLinks(c.env, c.get("config"), status), 200);
});

const registerTask = createRoute({
  method: "post",
  path: "/",
  summary: "Register a task right after submitting it to the provider",
  security: [{ bearer: [] }],
  request: { body: { required: true, content: { "application/json": { schema: Registration } } } },
  responses: {
    200: json(TaskStatus, "the task was already known"),
    201: json(TaskStatus, "registered"),
    ...errorResponses(400, 401, 409, 410, 503),
  },
});

tasks.openapi(registerTask, async (c) => {
  const { taskId, kind } = c.req.valid("json");
  const origin = new URL(c.req.url).origin; // links in events, until a callback says otherwise
  const registered = await taskStub(c.env, taskId).register(taskId, kind, origin);
  if ("deleted" in registered) throw gone(taskId);
  const { created, status } = registered;
  if (status.kind !== kind) {
    throw new ApiError(409, "kind_conflict", `task ${taskId} is already registered as ${status.kind}`);
  }
  return c.json(await withLinks(c.env, c.get("config"), status), created ? 201 : 200);
});

const retryTask = createRoute({
  method: "post",
  path: "/{taskId}/retry",
  summary: "Re-enqueue every failed or stuck asset of a task, and parse its unrecognised callbacks again",
  security: [{ bearer: [] }],
  request: { params: TaskIdParam },
  responses: {
    202: json(RetryResult, "how many assets were re-enqueued"),
    ...errorResponses(400, 401, 404, 410, 503),
  },
});

tasks.openapi(retryTask, async (c) => {
  const { taskId } = c.req.valid("param");
  const report = await taskStub(c.env, taskId).retryAssets();
  if (report === null) throw await missingTask(c.env, taskId);
  const { requeued, untouched, reparsed } = report;
  return c.json({ taskId, requeued: requeued.length, requeuedAssets: requeued, untouched, reparsed }, 202);
});

const deleteTask = createRoute({
  method: "delete",
  path: "/{taskId}",
  summary: "Delete a task: its archived files and manifest, its index row and its stored callbacks",
  description:
    "Leaves a tombstone: afterwards GET answers 410, the media 404, and a late callback is " +
    "answered 200 and ignored. A download in flight at that moment leaves nothing behind.",
  security: [{ bearer: [] }],
  request: { params: TaskIdParam },
  responses: {
    200: json(Deleted, "deleted; `deleted` counts the R2 objects removed"),
    ...errorResponses(400, 401, 404, 410, 503),
  },
});

tasks.openapi(deleteTask, async (c) => {
  const { taskId } = c.req.valid("param");
  const result = await taskStub(c.env, taskId).deleteTask();
  if (result === "unknown") throw notFound(taskId);
  if (result === "gone") throw gone(taskId);
  if (!result.complete) {
    throw new ApiError(
      503,
      "delete_incomplete",
      `task ${taskId} is deleted, but ${result.deleted} of its files were removed before R2 failed; ` +
        "the rest are removed automatically, or by repeating this request",
    );
  }
  return c.json({ deleted: result.deleted }, 200);
});
