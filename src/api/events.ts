import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../core/app-env";
import { ApiError } from "../core/errors";
import { EventStatus } from "../tasks/event-status";
import { taskStub } from "../tasks/stub";
import { requireBearer } from "./auth";
import { errorResponses, TaskIdParam } from "./schemas";
import { validationHook } from "./validation";

/** The outbound events' routes (see src/events/ and tasks/events.ts). */
export const events = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
events.use("/:taskId/events/*", requireBearer);

const EventParams = TaskIdParam.extend({
  eventId: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: "eventId", in: "path" }, example: "evt_3f0c6d0e8b9a4c1d9e2f3a4b5c6d7e8f" }),
});

const Redelivery = z.object({ taskId: z.string(), event: EventStatus }).openapi("Redelivery");

const redeliver = createRoute({
  method: "post",
  path: "/{taskId}/events/{eventId}/redeliver",
  summary: "Send an event again: same webhook-id and payload, fresh timestamp and signature",
  security: [{ bearer: [] }],
  request: { params: EventParams },
  responses: {
    202: { description: "queued for delivery", content: { "application/json": { schema: Redelivery } } },
    ...errorResponses(400, 401, 404, 503),
  },
});

events.openapi(redeliver, async (c) => {
  const { taskId, eventId } = c.req.valid("param");
  const stub = taskStub(c.env, taskId);
  const event = await stub.redeliverEvent(eventId);
  if (!event) {
    const known = (await stub.status()) !== null;
    throw known
      ? new ApiError(404, "event_not_found", `task ${taskId} has no event ${eventId}`)
      : new ApiError(404, "task_not_found", `no task ${taskId}`);
  }
  return c.json({ taskId, event }, 202);
});
