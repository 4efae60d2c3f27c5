import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { DuplicateTally } from "../../src/tasks/duplicate-tally";
import { taskStub } from "../../src/tasks/stub";
import kieMusicText from "../../support/fixtures/kie.music.text.json";
import { bearer, getStatus, postCallback, request, uniqueId, withTaskId } from "../helpers/worker";

const answer = async (body: unknown) => {
  const response = await postCallback(body);
  expect(response.status).toBe(200);
  return response.json() as Promise<{ duplicate: boolean; recognized?: boolean }>;
};

/** The duplicate counts as the task object holds them, without going through GET /tasks/:id. */
const storedCounts = (taskId: string) =>
  runInDurableObject(env.TASKS.getByName(taskId), (_instance, state) => ({
    task: state.storage.sql.exec<{ duplicates: number }>("SELECT duplicates FROM task").one().duplicates,
    callbacks: state.storage.sql
      .exec<{ duplicates: number }>("SELECT duplicates FROM callbacks ORDER BY received_at")
      .toArray()
      .map((row) => row.duplicates),
  }));

describe("duplicates answered from the isolate's memory", () => {
  it("answers repeats as duplicates and adds them to the task object within a second, unasked", async () => {
    const taskId = uniqueId("tally");
    const body = withTaskId(kieMusicText, taskId);
    expect(await answer(body)).toMatchObject({ duplicate: false });
    for (let i = 0; i < 6; i++) expect(await answer(body)).toMatchObject({ duplicate: true });
    await vi.waitFor(async () => expect(await storedCounts(taskId)).toEqual({ task: 6, callbacks: [6] }), {
      timeout: 5000,
    });
  });

  it("flushes what it counted before GET /tasks/:id reads the status", async () => {
    const taskId = uniqueId("tally-read");
    const body = withTaskId(kieMusicText, taskId);
    await answer(body);
    await answer(body);
    await answer(body);
    const status = await getStatus(taskId);
    expect(status.callbacks).toMatchObject({ received: 3, distinct: 1, duplicates: 2 });
  });

  it("asks the task object for another body of the same task, which is recorded", async () => {
    const taskId = uniqueId("tally-other");
    const text = withTaskId(kieMusicText, taskId);
    await answer(text);
    const other = { ...text, msg: "Text generation completed successfully (again)." };
    expect(await answer(other)).toMatchObject({ duplicate: false });
    expect((await getStatus(taskId)).callbacks).toMatchObject({ distinct: 2, duplicates: 0 });
  });

  it("still refuses a repeat that fails the source check", async () => {
    const taskId = uniqueId("tally-auth");
    const body = withTaskId(kieMusicText, taskId);
    await answer(body);
    const forged = await postCallback(body, { token: "not-a-token" });
    expect(forged.status).toBe(401);
    expect((await getStatus(taskId)).callbacks).toMatchObject({ received: 1, duplicates: 0 });
  });

  it("keeps saying recognized: false for a repeat of a body of an unknown shape", async () => {
    const taskId = uniqueId("tally-unknown");
    const body = { code: 200, msg: "something new", data: { taskId, shinyNewField: [1, 2, 3] } };
    expect(await answer(body)).toMatchObject({ duplicate: false, recognized: false });
    expect(await answer(body)).toMatchObject({ duplicate: true, recognized: false });
    expect((await getStatus(taskId)).callbacks).toMatchObject({ unrecognized: 1, duplicates: 1 });
  });

  it("answers a repeat for a deleted task like the object does, and counts nothing on it", async () => {
    const taskId = uniqueId("tally-deleted");
    const body = withTaskId(kieMusicText, taskId);
    await answer(body);
    expect((await request(`/tasks/${taskId}`, { method: "DELETE", headers: bearer })).status).toBe(200);
    expect(await answer(body)).toMatchObject({ duplicate: true });
    expect(await taskStub(env, taskId).isDeleted()).toBe(true);
    expect(await taskStub(env, taskId).status()).toBeNull();
  });

  it("does not count a hash the task object does not hold", async () => {
    const taskId = uniqueId("tally-foreign");
    await answer(withTaskId(kieMusicText, taskId));
    await taskStub(env, taskId).countDuplicates([{ hash: "0".repeat(64), count: 3 }], Date.now());
    expect(await storedCounts(taskId)).toEqual({ task: 0, callbacks: [0] });
  });
});

describe("DuplicateTally", () => {
  it("forgets the least recently confirmed callback first", () => {
    const tally = new DuplicateTally(2);
    const counted: Promise<unknown>[] = [];
    const known = (taskId: string) => tally.countIfKnown(env, (p) => counted.push(p), taskId, "h");
    tally.remember("a", "h");
    tally.remember("b", "h");
    tally.remember("a", "h"); // confirmed again: now the most recent
    tally.remember("c", "h");
    expect([known("a"), known("b"), known("c")]).toEqual([true, false, true]);
    tally.clear();
    expect(known("a")).toBe(false);
  });
});
