import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { DuplicateTally } from "../../src/tasks/duplicate-tally";
import { taskStub } from "../../src/tasks/stub";
import kieMusicText from "../../support/fixtures/kie.music.text.json";
import { signKie } from "../helpers/kie";
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

  it("checks a repeat's kie.ai signature against the task it names", async () => {
    const taskId = uniqueId("tally-hmac");
    const body = withTaskId(kieMusicText, taskId);
    const hmacOnly = { CALLBACK_TOKENS: "", WEBHOOK_HMAC_KEY: "test-key" };
    const now = String(Math.floor(Date.now() / 1000));
    const signedFor = async (who: string, timestamp = now) => ({
      "x-webhook-timestamp": timestamp,
      "x-webhook-signature": await signKie("test-key", who, timestamp),
    });
    const send = async (headers: Record<string, string>) =>
      (await postCallback(body, { vars: hmacOnly, token: null, headers })).status;
    expect(await send(await signedFor(taskId))).toBe(200);
    expect(await send(await signedFor(taskId))).toBe(200);
    expect(await send(await signedFor("someone-else"))).toBe(401);
    expect(await send(await signedFor(taskId, String(Number(now) - 301)))).toBe(401);
    expect((await getStatus(taskId)).callbacks).toMatchObject({ received: 2, duplicates: 1 });
  });

  it("refuses a repeat sent to the route of another kind, as before", async () => {
    const taskId = uniqueId("tally-route");
    const body = withTaskId(kieMusicText, taskId);
    await answer(body);
    const elsewhere = await request("/callbacks/video?token=test-token-a", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(elsewhere.status).toBe(400);
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
    const known = (taskId: string) => ({ taskId, hash: "h", recognized: true });
    tally.remember("a", known("a"));
    tally.remember("b", known("b"));
    tally.remember("a", known("a")); // confirmed again: now the most recent
    tally.remember("c", known("c"));
    expect(["a", "b", "c"].map((key) => tally.recall(key)?.taskId)).toEqual(["a", undefined, "c"]);
    tally.clear();
    expect(tally.recall("a")).toBeUndefined();
  });
});
