import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import type { PendingWork } from "../../src/tasks/pending-work";
import { TaskRows } from "../../src/tasks/rows";
import { taskStub } from "../../src/tasks/stub";
import { TaskAlarm } from "../../src/tasks/task-alarm";
import type { TaskObject } from "../../src/tasks/task-object";
import { seedQueuedAsset } from "../helpers/tasks";

it("asks every capability in one statement and gets the earliest of what each one says", async () => {
  const taskId = await seedQueuedAsset("separation", "drums", "https://cdn1.suno.ai/drums.mp3");
  const seen = await runInDurableObject(taskStub(env, taskId), (instance: TaskObject, state) => {
    const sql = state.storage.sql;
    const pending = (instance as unknown as { pending: PendingWork[] }).pending;
    const alarm = new TaskAlarm(state.storage, new TaskRows(sql), pending);
    const earliestOfEach = () => {
      const due = pending.map((work) => work.nextDueAt()).filter((at): at is number => at !== null);
      return due.length === 0 ? null : Math.min(...due);
    };
    const step = () => ({ combined: alarm.nextDueAt(), each: earliestOfEach() });
    const steps = [];
    // Work due in several capabilities at once, each in turn the earliest.
    sql.exec("UPDATE assets SET message_due_at = 5000000, queued_at = 5000000"); // the outbox
    steps.push(step());
    sql.exec("INSERT INTO replaced_objects (key, due_at) VALUES ('separation/x/old.wav', 4000000)");
    steps.push(step());
    sql.exec(
      `INSERT INTO assets (name, role, url, via, state, position, lease_until, created_at, updated_at)
         VALUES ('bass', 'stem', 'https://cdn1.suno.ai/bass.mp3', 'callback', 'downloading', 1, 3000000, 1, 1)`,
    ); // a download lease
    steps.push(step());
    sql.exec("DELETE FROM replaced_objects");
    sql.exec("DELETE FROM assets");
    steps.push(step()); // none of theirs left (the index row's write may still be due)
    return steps;
  });
  const grace = 60_000; // MESSAGE_GRACE_MS, for a message sent once
  expect(seen.slice(0, 3).map((s) => s.combined)).toEqual([5_000_000 + grace, 4_000_000, 3_000_000]);
  expect(seen.map((s) => s.each)).toEqual(seen.map((s) => s.combined));
});
