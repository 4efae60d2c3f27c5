import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { deleteStatements, type IndexEntry, upsertStatement } from "../../src/index-db/entries";
import { taskStub } from "../../src/tasks/stub";
import kieMusicComplete from "../../support/fixtures/kie.music.complete.json";
import kieMusicText from "../../support/fixtures/kie.music.text.json";
import splitStem from "../../support/fixtures/sunoapi.separation.split-stem.json";
import { indexRow, listTasks, waitForIndex, waitForIndexedStatus } from "../helpers/index";
import { atOrigin, originBytes } from "../helpers/media";
import { pollNow, recordInfo, scriptRecordInfo } from "../helpers/provider";
import { archiveUrl } from "../helpers/tasks";
import {
  bearer,
  getStatus,
  postCallback,
  request,
  settled,
  uniqueId,
  waitForStatus,
  withTaskId,
} from "../helpers/worker";

afterEach(() => vi.restoreAllMocks());

/** The D1 binding's class: the task objects run in this isolate, so a spy here reaches them too. */
const d1Prototype = () => Object.getPrototypeOf(env.INDEX) as D1Database;

type SyncRow = {
  version: number;
  synced_version: number;
  due_at: number | null;
  attempts: number;
  writes: number;
};
const syncRow = (taskId: string) =>
  runInDurableObject(
    taskStub(env, taskId),
    (_, state) => state.storage.sql.exec<SyncRow>("SELECT * FROM index_sync").toArray()[0] ?? null,
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the index converges after every kind of change", () => {
  it("lists a task within moments of its first callback", async () => {
    const taskId = uniqueId("idx-text");
    expect((await postCallback(withTaskId(kieMusicText, taskId))).status).toBe(200);
    // Written once the task is quiet for a second (a burst of changes costs one write).
    const row = await waitForIndexedStatus(taskId, 6000);
    expect(row).toMatchObject({ kind: "music", state: "in_progress", stage: "text", archive_state: "none" });
    const { body } = await listTasks({ q: taskId });
    expect(body.tasks).toEqual([
      {
        taskId,
        kind: "music",
        state: "in_progress",
        stage: "text",
        archive: { state: "none", stored: 0, failed: 0, total: 0, bytes: 0 },
        createdAt: new Date(row.created_at).toISOString(),
        updatedAt: new Date(row.updated_at).toISOString(),
      },
    ]);
  });

  it("follows the archive's progress to archived, with every byte counted", async () => {
    const taskId = uniqueId("idx-archive");
    const { body, files } = atOrigin(withTaskId(kieMusicComplete, taskId), { size: 6_000 });
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    const row = await waitForIndexedStatus(taskId);
    const bytes = [...files.values()].reduce((sum, file) => sum + file.size, 0);
    expect(row).toMatchObject({ state: "succeeded", stage: "complete", archive_state: "archived" });
    expect([row.stored, row.failed, row.total, row.bytes]).toEqual([4, 0, 4, bytes]);
    expect(status.archive.bytes).toBe(bytes);
    // Written once per change, never more: one version per distinct summary.
    expect((await syncRow(taskId))?.synced_version).toBe(row.version);
  });

  it("writes a burst of changes as one row: 12 stems stored in a row cost D1 a few writes", async () => {
    const taskId = uniqueId("idx-burst");
    const { body } = atOrigin(withTaskId(splitStem, taskId), { size: 800 });
    expect((await postCallback(body)).status).toBe(200);
    await waitForStatus(taskId, settled);
    const row = await waitForIndexedStatus(taskId);
    expect(row).toMatchObject({ archive_state: "archived", stored: 12, total: 12 });
    const sync = await syncRow(taskId);
    // 13 versions (the callback, then each stem stored), written as far fewer rows.
    expect(sync?.version).toBe(13);
    expect(sync?.writes).toBeLessThanOrEqual(5);
  });

  it("records a failed asset, then the retry that archives it", async () => {
    const key = `idx-retry-${uniqueId()}`;
    const { taskId } = await archiveUrl(
      `${env.ORIGIN_URL}/flaky/${key}/a.mp3?fail=1&status=404&size=900&seed=4`,
    );
    const failed = await waitForIndexedStatus(taskId);
    expect(failed).toMatchObject({ archive_state: "failed", stored: 0, failed: 1, total: 1 });

    expect((await request(`/tasks/${taskId}/retry`, { method: "POST", headers: bearer })).status).toBe(202);
    await waitForStatus(taskId, (status) => status.archive.state === "archived");
    const archived = await waitForIndexedStatus(taskId);
    expect(archived).toMatchObject({ archive_state: "archived", stored: 1, failed: 0, bytes: 900 });
    expect(archived.version).toBeGreaterThan(failed.version);
    expect(archived.updated_at).toBeGreaterThanOrEqual(failed.updated_at);
  });

  it("records a provider's failure callback", async () => {
    const taskId = uniqueId("idx-error");
    const answer = await postCallback({
      code: 501,
      msg: "Audio generation failed.",
      data: { callbackType: "error", task_id: taskId, data: null },
    });
    expect(answer.status).toBe(200);
    expect(await waitForIndexedStatus(taskId)).toMatchObject({ state: "failed", stage: "error" });
  });

  it("writes a poll's result from the alarm that polled", async () => {
    const taskId = uniqueId("idx-poll");
    const registered = await request("/tasks", {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json" },
      body: JSON.stringify({ taskId, kind: "video" }),
    });
    expect(registered.status).toBe(201);
    expect(await waitForIndexedStatus(taskId)).toMatchObject({ state: "awaiting_callback", stage: null });
    await scriptRecordInfo("video", taskId, [
      recordInfo({
        taskId,
        successFlag: "SUCCESS",
        response: { videoUrl: originBytes("polled.mp4", 1500, 9, { type: "video/mp4" }) },
        errorCode: null,
        errorMessage: null,
      }),
    ]);
    expect(await pollNow(taskId)).toBe(true);
    // The alarm itself wrote the row before it returned.
    expect(await indexRow(taskId)).toMatchObject({ state: "succeeded", stage: "complete" });
    await waitForStatus(taskId, settled);
    expect(await waitForIndexedStatus(taskId)).toMatchObject({ archive_state: "archived", bytes: 1500 });
  });

  it("removes the row of a deleted task", async () => {
    const { taskId } = await archiveUrl(originBytes("idx-delete.mp3", 700, 2));
    await waitForIndexedStatus(taskId);
    expect((await request(`/tasks/${taskId}`, { method: "DELETE", headers: bearer })).status).toBe(200);
    await waitForIndex(taskId, (row) => row === null);
    expect((await listTasks({ q: taskId })).body.tasks).toEqual([]);
    const tombstone = await env.INDEX.prepare("SELECT task_id FROM deleted_tasks WHERE task_id = ?")
      .bind(taskId)
      .first();
    expect(tombstone).toEqual({ task_id: taskId });
  });
});

describe("when D1 fails", () => {
  it("answers the callback at once and converges within seconds once D1 is back", async () => {
    const batch = vi.spyOn(d1Prototype(), "batch").mockRejectedValue(new Error("D1_ERROR: injected outage"));
    const taskId = uniqueId("idx-outage");
    const started = Date.now();
    expect((await postCallback(withTaskId(kieMusicText, taskId))).status).toBe(200);
    for (let i = 0; i < 60 && batch.mock.calls.length === 0; i++) await sleep(100);
    expect(batch).toHaveBeenCalled();
    expect(await indexRow(taskId)).toBeNull();
    const pending = await syncRow(taskId);
    expect(pending).toMatchObject({ version: 1, synced_version: 0 });
    expect(pending?.attempts).toBeGreaterThanOrEqual(1);
    // The task's alarm is armed for the retry, seconds away.
    const alarm = await runInDurableObject(taskStub(env, taskId), (_, state) => state.storage.getAlarm());
    expect((alarm ?? Infinity) - Date.now()).toBeLessThan(31_000);

    batch.mockRestore();
    // No further change to the task: its own alarm writes the row.
    const row = await waitForIndex(taskId, (candidate) => candidate !== null, 20_000);
    expect(row).toMatchObject({ state: "in_progress", stage: "text", version: 1 });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await syncRow(taskId)).toMatchObject({ synced_version: 1, due_at: null, attempts: 0 });
  });

  it("is written by the alarm after a failed write (runDurableObjectAlarm)", async () => {
    const batch = vi.spyOn(d1Prototype(), "batch").mockRejectedValue(new Error("D1_ERROR: injected"));
    const taskId = uniqueId("idx-alarm");
    expect((await postCallback(withTaskId(kieMusicText, taskId))).status).toBe(200);
    for (let i = 0; i < 60 && batch.mock.calls.length === 0; i++) await sleep(100);
    expect(batch).toHaveBeenCalled();
    batch.mockRestore();
    // Make the retry due now, then run the alarm as the runtime would.
    await runInDurableObject(taskStub(env, taskId), async (_, state) => {
      state.storage.sql.exec("UPDATE index_sync SET due_at = ?", Date.now() - 1);
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(taskStub(env, taskId))).toBe(true);
    expect(await indexRow(taskId)).toMatchObject({ state: "in_progress", version: 1 });
  });

  it("never makes the callback's answer wait for D1", async () => {
    const original = d1Prototype().batch;
    vi.spyOn(d1Prototype(), "batch").mockImplementation(async function (this: D1Database, statements) {
      await sleep(3000);
      return original.call(this, statements);
    });
    const taskId = uniqueId("idx-slow");
    const started = Date.now();
    const answer = await postCallback(withTaskId(kieMusicText, taskId));
    const answeredIn = Date.now() - started;
    expect(answer.status).toBe(200);
    expect(answeredIn).toBeLessThan(1500);
    expect(await indexRow(taskId)).toBeNull();
    await waitForIndex(taskId, (row) => row !== null, 15_000);
  });
});

describe("the version guard", () => {
  const entry = (taskId: string, version: number, state: IndexEntry["state"]): IndexEntry => ({
    taskId,
    kind: "music",
    state,
    stage: state === "succeeded" ? "complete" : "first",
    archive: { state: "archiving", stored: version, failed: 0, total: 4, bytes: 100 * version },
    createdAt: 1_000,
    updatedAt: 1_000 + version,
    version,
  });

  it("never lets an older write overwrite a newer one", async () => {
    const taskId = uniqueId("idx-guard");
    await env.INDEX.batch([upsertStatement(env.INDEX, entry(taskId, 3, "succeeded"))]);
    await env.INDEX.batch([upsertStatement(env.INDEX, entry(taskId, 2, "in_progress"))]);
    expect(await indexRow(taskId)).toMatchObject({ version: 3, state: "succeeded", stored: 3 });
    await env.INDEX.batch([upsertStatement(env.INDEX, entry(taskId, 4, "succeeded"))]);
    expect(await indexRow(taskId)).toMatchObject({ version: 4, stored: 4 });
  });

  it("costs 6 rows written for a task's first write and 5 for each later one (D1's billing unit)", async () => {
    // The row and its entries in the four indexes that hold updated_at (plus the primary key's
    // on insert). BENCHMARKS.md's ceiling of one database is computed from these figures.
    const taskId = uniqueId("idx-cost");
    const [first] = await env.INDEX.batch([upsertStatement(env.INDEX, entry(taskId, 1, "in_progress"))]);
    const [later] = await env.INDEX.batch([upsertStatement(env.INDEX, entry(taskId, 2, "in_progress"))]);
    const [stale] = await env.INDEX.batch([upsertStatement(env.INDEX, entry(taskId, 1, "in_progress"))]);
    expect([first?.meta.rows_written, later?.meta.rows_written, stale?.meta.rows_written]).toEqual([6, 5, 0]);
  });

  it("never brings a deleted task's row back", async () => {
    const taskId = uniqueId("idx-undead");
    await env.INDEX.batch([upsertStatement(env.INDEX, entry(taskId, 1, "in_progress"))]);
    await env.INDEX.batch(deleteStatements(env.INDEX, taskId, Date.now()));
    await env.INDEX.batch([upsertStatement(env.INDEX, entry(taskId, 9, "succeeded"))]);
    expect(await indexRow(taskId)).toBeNull();
  });

  it("keeps one version per distinct summary: a duplicate callback writes nothing", async () => {
    const taskId = uniqueId("idx-dup");
    const body = withTaskId(kieMusicText, taskId);
    await postCallback(body);
    const first = await waitForIndexedStatus(taskId);
    expect((await postCallback(body)).status).toBe(200);
    expect((await getStatus(taskId)).callbacks.duplicates).toBe(1);
    await sleep(200);
    expect(await indexRow(taskId)).toEqual(first);
    expect(await syncRow(taskId)).toMatchObject({ version: 1, synced_version: 1 });
  });
});
