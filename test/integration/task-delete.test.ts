import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { taskStub } from "../../src/tasks/stub";
import kieMusicComplete from "../../support/fixtures/kie.music.complete.json";
import { indexRow, waitForIndex, waitForIndexedStatus } from "../helpers/index";
import { atOrigin, originBytes, originHits } from "../helpers/media";
import { archiveUrl, runConsumer } from "../helpers/tasks";
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const del = (taskId: string) => request(`/tasks/${taskId}`, { method: "DELETE", headers: bearer });

async function r2Keys(prefix: string): Promise<string[]> {
  const listed = await env.MEDIA.list({ prefix });
  return listed.objects.map((object) => object.key);
}

type Tombstone = { removed: number; late_removed: number; sweep_until: number; next_purge_at: number | null };
const tombstone = (taskId: string) =>
  runInDurableObject(
    taskStub(env, taskId),
    (_, state) => state.storage.sql.exec<Tombstone>("SELECT * FROM tombstone").toArray()[0] ?? null,
  );

const storedRows = (taskId: string) =>
  runInDurableObject(taskStub(env, taskId), (_, state) => ({
    callbacks: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM callbacks").one().n,
    assets: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM assets").one().n,
    task: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM task").one().n,
  }));

/** An archived music task: 2 tracks × (audio, cover) and its manifest. */
async function archivedMusicTask() {
  // Sizes of their own: the origin counts requests per URL for every test file at once.
  const taskId = uniqueId("del");
  const { body } = atOrigin(withTaskId(kieMusicComplete, taskId), { size: 7_000 });
  expect((await postCallback(body)).status).toBe(200);
  const status = await waitForStatus(taskId, settled);
  expect(status.archive).toMatchObject({ state: "archived", stored: 4 });
  // The manifest is written once the task settles.
  for (let i = 0; i < 50 && !(await env.MEDIA.head(`music/${taskId}/manifest.json`)); i++) await sleep(50);
  await waitForIndexedStatus(taskId);
  return { taskId, body, status };
}

describe("DELETE /tasks/:taskId", () => {
  it("removes every R2 object of the task, its manifest, its index row and its callbacks", async () => {
    const { taskId, status } = await archivedMusicTask();
    const keys = await r2Keys(`music/${taskId}/`);
    expect(keys).toHaveLength(5);
    expect(keys).toContain(`music/${taskId}/manifest.json`);

    const answer = await del(taskId);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ deleted: 5 });

    expect(await r2Keys(`music/${taskId}/`)).toEqual([]);
    expect(await storedRows(taskId)).toEqual({ callbacks: 0, assets: 0, task: 0 });
    await waitForIndex(taskId, (row) => row === null);

    const get = await request(`/tasks/${taskId}`, { headers: bearer });
    expect(get.status).toBe(410);
    expect(await get.json()).toEqual({ error: { code: "task_deleted", message: expect.any(String) } });
    const asset = status.assets[0];
    expect((await request(`/media/${asset?.key}`, { headers: bearer })).status).toBe(404);
    expect((await request(asset?.url as string)).status).toBe(404);
  });

  it("answers 410 to everything that would touch the deleted task again", async () => {
    const { taskId } = await archiveUrl(originBytes("del-410.mp3", 300, 3));
    expect((await del(taskId)).status).toBe(200);
    expect((await del(taskId)).status).toBe(410);
    expect((await request(`/tasks/${taskId}/retry`, { method: "POST", headers: bearer })).status).toBe(410);
    const register = await request("/tasks", {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json" },
      body: JSON.stringify({ taskId, kind: "separation" }),
    });
    expect(register.status).toBe(410);
    expect(await storedRows(taskId)).toEqual({ callbacks: 0, assets: 0, task: 0 });
  });

  it("answers 404 for an unknown task and 400 for a malformed id, creating nothing", async () => {
    const taskId = uniqueId("del-unknown");
    const answer = await del(taskId);
    expect(answer.status).toBe(404);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("task_not_found");
    expect((await request(`/tasks/${taskId}`, { headers: bearer })).status).toBe(404);
    expect((await request("/tasks/a.b", { method: "DELETE", headers: bearer })).status).toBe(400);
    expect((await request(`/tasks/${taskId}`, { method: "DELETE" })).status).toBe(401);
  });

  it("answers a late or duplicate callback 200 and ignores it: nothing recorded, nothing downloaded", async () => {
    const { taskId, body } = await archivedMusicTask();
    expect((await del(taskId)).status).toBe(200);
    const hitsBefore = await originHits();

    const duplicate = await postCallback(body);
    expect(duplicate.status).toBe(200);
    expect(await duplicate.json()).toEqual({ status: "received", taskId, duplicate: true });
    // A new callback for it (another stage, new URLs) is ignored just the same.
    const { body: later } = atOrigin(withTaskId(kieMusicComplete, taskId), { size: 7_500 });
    (later as { msg: string }).msg = "a late redelivery";
    expect((await postCallback(later)).status).toBe(200);

    await sleep(1500); // the local queue would have delivered anything sent by now
    expect(await originHits()).toEqual(hitsBefore);
    expect(await r2Keys(`music/${taskId}/`)).toEqual([]);
    expect(await storedRows(taskId)).toEqual({ callbacks: 0, assets: 0, task: 0 });
    expect((await request(`/tasks/${taskId}`, { headers: bearer })).status).toBe(410);
    expect(await indexRow(taskId)).toBeNull();
  });

  it("acknowledges a queued message of the deleted task without downloading", async () => {
    const { taskId, asset } = await archiveUrl(originBytes("del-queued.mp3", 400, 6));
    expect((await del(taskId)).status).toBe(200);
    const hitsBefore = await originHits();
    const result = await runConsumer([{ taskId, asset: asset.name }]);
    expect(result.explicitAcks).toEqual(result.ids);
    expect(await originHits()).toEqual(hitsBefore);
  });

  it("leaves nothing behind of a download that was in flight", async () => {
    const taskId = uniqueId("del-inflight");
    // About 2.5 s of body: 25 pieces of 16 KiB, 100 ms apart.
    const url = originBytes("slow.mp3", 25 * 16_384, 8, {
      type: "audio/mpeg",
      chunk: "16384",
      chunkDelayMs: "100",
    });
    const answer = await postCallback({
      code: 200,
      msg: "vocal Removal generated successfully.",
      data: { task_id: taskId, vocal_removal_info: { origin_url: "", drums_url: url } },
    });
    expect(answer.status).toBe(200);
    await waitForStatus(taskId, (status) => status.assets[0]?.state === "downloading");

    const deleted = await del(taskId);
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ deleted: 0 }); // nothing was stored yet
    const atDeletion = await tombstone(taskId);
    // The sweep waits for the download's lease to end (a minute after its last heartbeat).
    expect(atDeletion?.sweep_until).toBeGreaterThan(Date.now() + 50_000);

    // The consumer's lease died with the task: at its last renewal, right before R2 would
    // commit the object, it learns so and stores nothing. Wait past the body's end.
    await sleep(4000);
    expect(await r2Keys(`separation/${taskId}/`)).toEqual([]);
    expect(await tombstone(taskId)).toMatchObject({ removed: 0 });
    expect((await request(`/tasks/${taskId}`, { headers: bearer })).status).toBe(410);
    expect(await storedRows(taskId)).toEqual({ callbacks: 0, assets: 0, task: 0 });
  });

  it("sweeps the prefix again from the alarm, for an object whose report never came", async () => {
    const { taskId } = await archiveUrl(originBytes("del-sweep.mp3", 500, 7));
    expect((await del(taskId)).status).toBe(200);
    // As a consumer that crashed after its put would leave it:
    await env.MEDIA.put(`separation/${taskId}/drums.mp3`, "orphan");
    const stub = taskStub(env, taskId);
    await runInDurableObject(stub, async (_, state) => {
      state.storage.sql.exec("UPDATE tombstone SET next_purge_at = ?", Date.now() - 1);
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await r2Keys(`separation/${taskId}/`)).toEqual([]);
    // One sweep is still to come, once the settle time after the deletion has passed.
    const after = await tombstone(taskId);
    expect(after).toMatchObject({ removed: 3, next_purge_at: after?.sweep_until });
  });

  it("answers 503 when R2 fails midway, and finishes on the next DELETE", async () => {
    const { taskId } = await archivedMusicTask();
    const bucket = Object.getPrototypeOf(env.MEDIA) as R2Bucket;
    vi.spyOn(bucket, "delete").mockRejectedValueOnce(new Error("R2 unavailable"));
    const first = await del(taskId);
    expect(first.status).toBe(503);
    expect(((await first.json()) as { error: { code: string } }).error.code).toBe("delete_incomplete");
    // Deleted all the same: the tombstone is there, and the archive is removed later.
    expect((await request(`/tasks/${taskId}`, { headers: bearer })).status).toBe(410);
    expect(await r2Keys(`music/${taskId}/`)).toHaveLength(5);

    const second = await del(taskId);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ deleted: 5 });
    expect(await r2Keys(`music/${taskId}/`)).toEqual([]);
    expect((await del(taskId)).status).toBe(410);
  });

  it("keeps the status of other tasks whose ids share a prefix", async () => {
    const { taskId } = await archiveUrl(originBytes("del-a.mp3", 200, 1));
    const neighbour = `${taskId}0`;
    await env.MEDIA.put(`separation/${neighbour}/drums.mp3`, "not mine");
    expect((await del(taskId)).status).toBe(200);
    expect(await r2Keys(`separation/${neighbour}/`)).toEqual([`separation/${neighbour}/drums.mp3`]);
    expect(await getStatus(taskId).catch((error: Error) => error.message)).toMatch(/410/);
  });
});
