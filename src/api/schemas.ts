import { z } from "@hono/zod-openapi";
import { Kind, TaskId } from "../core/ids";

/** The contract's error JSON, for every 4xx and 5xx. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "task_not_found" }),
      message: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi("Error");

export const TaskIdParam = z.object({
  taskId: TaskId.openapi({ param: { name: "taskId", in: "path" }, example: "2fac9f72" }),
});

export const Registration = z
  .object({ taskId: TaskId, kind: Kind })
  .openapi("Registration", { example: { taskId: "2fac9f72", kind: "music" } });

export const RetryResult = z
  .object({
    taskId: z.string(),
    requeued: z.number().int(),
    reparsed: z.number().int().openapi({
      description: "unrecognised callbacks this version now recognises, applied as if just received",
    }),
  })
  .openapi("RetryResult");

export const Deleted = z
  .object({ deleted: z.number().int().openapi({ description: "R2 objects removed (media and manifest)" }) })
  .openapi("Deleted");

/** The standard error answers of a bearer route, by status. */
export const errorResponses = (...statuses: (400 | 401 | 404 | 409 | 410 | 503)[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status], content: { "application/json": { schema: ErrorBody } } },
    ]),
  );

const ERROR_DESCRIPTIONS = {
  400: "invalid request (`issues` names the offending fields)",
  401: "missing or invalid bearer token",
  404: "unknown task",
  409: "conflict",
  410: "the task was deleted",
  503: "not available: API_TOKEN is not configured, or the index or R2 failed",
} as const;
