import { Hono } from "hono";
import { z } from "zod";
import { config } from "../config";
import { ApiError } from "../errors";
import { Kind, TaskId } from "../ids";
import type { TaskStatus } from "../tasks/status";
import { taskStub } from "../tasks/stub";
import { requireBearer } from "./auth";
import { signMediaLink } from "./media-links";

export const tasks = new Hono<{ Bindings: Env }>();
tasks.use("*", requireBearer);

const taskIdParam = (value: string | undefined) => {
  const parsed = TaskId.safeParse(value);
  if (!parsed.success)
    throw new ApiError(400, "invalid_task_id", "a task id is 1-128 characters of [A-Za-z0-9_-]");
  return parsed.data;
};

const notFound = (taskId: string) => new ApiError(404, "task_not_found", `no task ${taskId}`);

/** Adds a signed, expiring `/media/...` link to every stored asset. */
async function withLinks(env: Env, status: TaskStatus): Promise<TaskStatus> {
  const cfg = config(env);
  const now = Math.floor(Date.now() / 1000);
  const assets = await Promise.all(
    status.assets.map(async (asset) => ({
      ...asset,
      url: asset.state === "stored" && asset.key ? await signMediaLink(cfg, asset.key, now) : null,
    })),
  );
  return { ...status, assets };
}

tasks.get("/:taskId", async (c) => {
  const taskId = taskIdParam(c.req.param("taskId"));
  const status = await taskStub(c.env, taskId).status();
  if (!status) throw notFound(taskId);
  return c.json(await withLinks(c.env, status));
});

const Registration = z.object({ taskId: TaskId, kind: Kind });

tasks.post("/", async (c) => {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
  const parsed = Registration.safeParse(body);
  if (!parsed.success) {
    throw new ApiError(
      400,
      "invalid_payload",
      'expected {"taskId": "...", "kind": "music|separation|video"}',
      parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
    );
  }
  const { taskId, kind } = parsed.data;
  const { created, status } = await taskStub(c.env, taskId).register(taskId, kind);
  if (status.kind !== kind) {
    throw new ApiError(409, "kind_conflict", `task ${taskId} is already registered as ${status.kind}`);
  }
  return c.json(await withLinks(c.env, status), created ? 201 : 200);
});

tasks.post("/:taskId/retry", async (c) => {
  const taskId = taskIdParam(c.req.param("taskId"));
  const requeued = await taskStub(c.env, taskId).retryAssets();
  if (requeued === null) throw notFound(taskId);
  return c.json({ taskId, requeued }, 202);
});
