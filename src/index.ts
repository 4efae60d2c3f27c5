import { app } from "./app";
import { handleEventsBatch, isEventsQueue } from "./events/consumer";
import { handleMediaBatch } from "./media/consumer";

export { SubmissionObject } from "./submit/submission-object";
export { TaskObject } from "./tasks/task-object";

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) =>
    isEventsQueue(batch.queue) ? handleEventsBatch(batch, env, ctx) : handleMediaBatch(batch, env, ctx),
} satisfies ExportedHandler<Env, unknown>;
