import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../core/app-env";
import type { Config } from "../core/config";
import { ApiError } from "../core/errors";
import { TaskStatus } from "../tasks/status";
import { taskStub } from "../tasks/stub";
import { requireBearer } from "./auth";
import { signMediaLink } from "./media-links";
import { errorResponses, Registration, RetryResult, TaskIdParam } from "./schemas";
import { validationHook } from "./validation";

export const tasks = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
tasks.use("*", requireBearer);

const notFound = (taskId: string) => new ApiError(404, "task_not_found", `no task ${taskId}`);

const json = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** Adds a signed, expiring `/media/...` link to every stored asset. */
async function withLinks(cfg: Config, status: TaskStatus): Promise<TaskStatus> {
  const now = Math.floor(Date.now() / 1000);
  const assets = await Promise.all(
    status.assets.map(async (asset) => ({
      ...asset,
      url: asset.state === "stored" && asset.key ? await signMediaLink(cfg, asset.key, now) : null,
    })),
  );
  return { ...status, assets };
}

const getTask = createRoute({
  method: "get",
  path: "/{taskId}",
  summary: "A task's status: stage, callbacks, archive, tracks and assets with signed links",
  security: [{ bearer: [] }],
  request: { params: TaskIdParam },
  responses: { 200: json(TaskStatus, "the status JSON"), ...errorResponses(400, 401, 404, 503) },
});

tasks.openapi(getTask, async (c) => {
  const { taskId } = c.req.valid("param");
  const status = await taskStub(c.env, taskId).status();
  if (!status) throw notFound(taskId);
  return c.json(await withLinks(c.get("config"), status), 200);
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
    ...errorResponses(400, 401, 409, 503),
  },
});

tasks.openapi(registerTask, async (c) => {
  const { taskId, kind } = c.req.valid("json");
  const origin = new URL(c.req.url).origin; // links in events, until a callback says otherwise
  const { created, status } = await taskStub(c.env, taskId).register(taskId, kind, origin);
  if (status.kind !== kind) {
    throw new ApiError(409, "kind_conflict", `task ${taskId} is already registered as ${status.kind}`);
  }
  return c.json(await withLinks(c.get("config"), status), created ? 201 : 200);
});

const retryTask = createRoute({
  method: "post",
  path: "/{taskId}/retry",
  summary: "Re-enqueue every failed or stuck asset of a task",
  security: [{ bearer: [] }],
  request: { params: TaskIdParam },
  responses: {
    202: json(RetryResult, "how many assets were re-enqueued"),
    ...errorResponses(400, 401, 404, 503),
  },
});

tasks.openapi(retryTask, async (c) => {
  const { taskId } = c.req.valid("param");
  const report = await taskStub(c.env, taskId).retryAssets();
  if (report === null) throw notFound(taskId);
  const { requeued, untouched } = report;
  return c.json({ taskId, requeued: requeued.length, requeuedAssets: requeued, untouched }, 202);
});
