import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { taskStub } from "../../src/tasks/stub";
import type { TaskObject } from "../../src/tasks/task-object";
import { uniqueId } from "../helpers/worker";

it("never announces a task that had settled before events existed (the migration marks them)", async () => {
  const taskId = uniqueId("old");
  const result = await runInDurableObject(taskStub(env, taskId), async (instance: TaskObject, state) => {
    await instance.register(taskId, "music");
    // As the migration leaves a task that settled before: a provider failure, marked.
    state.storage.sql.exec("UPDATE task SET state = 'failed', stage = 'error', event_mark = 'before-events'");
    await instance.retryAssets(); // any change makes the object look at the task again
    return {
      events: state.storage.sql.exec("SELECT COUNT(*) AS n FROM events").one().n,
      mark: state.storage.sql.exec("SELECT event_mark FROM task").one().event_mark,
    };
  });
  expect(result).toEqual({ events: 0, mark: "task.failed:error:0:0:0" });
});
