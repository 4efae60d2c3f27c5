import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { taskStub } from "../../src/tasks/stub";
import kieFirst from "../../support/fixtures/kie.music.first.json";
import { atOrigin, expectedSha256, originBytes, originHits } from "../helpers/media";
import { pollNow, providerRequests, recordInfo, scriptRecordInfo } from "../helpers/provider";
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

const MINUTE = 60_000;

async function register(taskId: string, kind: "music" | "separation" | "video") {
  const response = await request("/tasks", {
    method: "POST",
    headers: { ...bearer, "content-type": "application/json" },
    body: JSON.stringify({ taskId, kind }),
  });
  expect(response.status).toBe(201);
}

/** A sunoData track (record-info is camelCase) whose media the local origin serves. */
function sunoTrack(id: string, seed: number) {
  return {
    id,
    audioUrl: originBytes(`${id}.mp3`, 4000 + seed, seed, { type: "audio/mpeg" }),
    sourceAudioUrl: originBytes(`src-${id}.mp3`, 4000 + seed, seed),
    streamAudioUrl: "https://audiostream.api.box/stream",
    imageUrl: originBytes(`${id}.jpeg`, 900 + seed, seed + 1, { type: "image/jpeg" }),
    sourceImageUrl: "",
    prompt: "[Verse] polled",
    modelName: "chirp-v4",
    title: `Polled ${id}`,
    tags: "ambient",
    createTime: 1764690794449,
    duration: 120.5,
  };
}

const nextAtIn = async (taskId: string) => {
  const { reconcile } = await getStatus(taskId);
  return reconcile.nextAt ? Date.parse(reconcile.nextAt) - Date.now() : null;
};

describe("reconciliation with the provider's record-info", () => {
  it("archives a registered task that never gets a callback", async () => {
    const taskId = uniqueId("silent");
    await register(taskId, "music");
    const status = await getStatus(taskId);
    expect(status.state).toBe("awaiting_callback");
    expect(Date.parse(status.reconcile.nextAt ?? "")).toBeGreaterThan(Date.now() + 9 * MINUTE);

    const tracks = [sunoTrack("trk-a", 1), sunoTrack("trk-b", 2)];
    await scriptRecordInfo("music", taskId, [
      recordInfo({
        taskId,
        status: "SUCCESS",
        response: { taskId, sunoData: tracks },
        errorCode: null,
        errorMessage: null,
      }),
    ]);
    expect(await pollNow(taskId)).toBe(true);

    const archived = await waitForStatus(taskId, settled);
    expect(archived).toMatchObject({
      state: "succeeded",
      stage: "complete",
      archive: { state: "archived", stored: 4 },
    });
    expect(archived.reconcile).toMatchObject({
      attempts: 1,
      lastStatus: "SUCCESS",
      nextAt: null,
      error: null,
    });
    expect(archived.assets.map((asset) => [asset.name, asset.via])).toEqual([
      ["trk-a/audio", "poll"],
      ["trk-a/cover", "poll"],
      ["trk-b/audio", "poll"],
      ["trk-b/cover", "poll"],
    ]);
    expect(archived.tracks.map((track) => track.title)).toEqual(["Polled trk-a", "Polled trk-b"]);
    const audio = archived.assets[0];
    expect(audio?.sha256).toBe(await expectedSha256({ name: "trk-a.mp3", size: 4001, seed: 1 }));
    const requests = await providerRequests(taskId);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.auth).toBe(true);
  });

  it("completes a task that got `first` and then silence", async () => {
    const taskId = uniqueId("first");
    const { body } = atOrigin(withTaskId(kieFirst, taskId));
    expect((await postCallback(body)).status).toBe(200);
    const [one, two] = body.data.data as [(typeof body.data.data)[0], (typeof body.data.data)[0]];
    expect((await getStatus(taskId)).reconcile.nextAt).not.toBeNull();

    const polledTwo = { ...sunoTrack(two.id, 7) };
    const polledOne = { ...sunoTrack(one.id, 8), audioUrl: one.audio_url, imageUrl: one.image_url };
    await scriptRecordInfo("music", taskId, [
      recordInfo({ taskId, status: "SUCCESS", response: { sunoData: [polledOne, polledTwo] } }),
    ]);
    await pollNow(taskId);
    const status = await waitForStatus(taskId, settled);
    expect(status).toMatchObject({
      state: "succeeded",
      stage: "complete",
      archive: { state: "archived", stored: 4 },
    });
    expect(Object.fromEntries(status.assets.map((asset) => [asset.name, asset.via]))).toEqual({
      [`${one.id}/audio`]: "callback",
      [`${one.id}/cover`]: "callback",
      [`${two.id}/audio`]: "poll",
      [`${two.id}/cover`]: "poll",
    });
    const hits = await originHits();
    expect(hits.get(one.audio_url)).toBe(1);
  });

  it.each([
    [
      "music",
      { status: "GENERATE_AUDIO_FAILED", errorCode: 501, errorMessage: "Audio generation failed" },
      501,
    ],
    ["music", { status: "SENSITIVE_WORD_ERROR", errorCode: null, errorMessage: "Lyrics flagged" }, 500],
    ["separation", { successFlag: "CREATE_TASK_FAILED", errorCode: "400", errorMessage: "bad audio" }, 400],
    ["video", { successFlag: "GENERATE_MP4_FAILED", errorCode: 500, errorMessage: "Internal Error" }, 500],
  ] as const)("fails a %s task whose record-info says %o", async (kind, data, code) => {
    const taskId = uniqueId("failed");
    await register(taskId, kind);
    await scriptRecordInfo(kind, taskId, [recordInfo({ taskId, response: null, ...data })]);
    await pollNow(taskId);
    const status = await getStatus(taskId);
    expect(status).toMatchObject({
      state: "failed",
      stage: "error",
      providerCode: code,
      providerMessage: data.errorMessage,
      archive: { state: "none" },
      reconcile: { attempts: 1, nextAt: null },
    });
  });

  it("keeps waiting on PENDING and FIRST_SUCCESS, archiving what is there, on a growing schedule", async () => {
    const taskId = uniqueId("pending");
    await register(taskId, "music");
    const first = sunoTrack("trk-p", 11);
    await scriptRecordInfo("music", taskId, [
      recordInfo({ taskId, status: "PENDING", response: null }),
      recordInfo({ taskId, status: "FIRST_SUCCESS", response: { sunoData: [first] } }),
      recordInfo({ taskId, status: "SUCCESS", response: { sunoData: [first, sunoTrack("trk-q", 12)] } }),
    ]);
    await pollNow(taskId);
    let status = await getStatus(taskId);
    expect(status).toMatchObject({
      state: "awaiting_callback",
      reconcile: { attempts: 1, lastStatus: "PENDING" },
    });
    expect(await nextAtIn(taskId)).toBeGreaterThan(0.9 * MINUTE);
    expect(await nextAtIn(taskId)).toBeLessThanOrEqual(MINUTE);

    await pollNow(taskId);
    status = await waitForStatus(taskId, (s) => s.assets.every((asset) => asset.state === "stored"));
    expect(status).toMatchObject({
      state: "in_progress",
      stage: "first",
      archive: { state: "archiving", stored: 2 },
    });
    expect(await nextAtIn(taskId)).toBeGreaterThan(1.9 * MINUTE);

    await pollNow(taskId);
    status = await waitForStatus(taskId, settled);
    expect(status).toMatchObject({ state: "succeeded", archive: { state: "archived", stored: 4 } });
  });

  it("treats CALLBACK_EXCEPTION with results as a success, not a failure", async () => {
    const taskId = uniqueId("cbex");
    await register(taskId, "video");
    const videoUrl = originBytes("polled.mp4", 5000, 4, { type: "video/mp4" });
    await scriptRecordInfo("video", taskId, [
      recordInfo({ taskId, successFlag: "CALLBACK_EXCEPTION", response: { videoUrl } }),
    ]);
    await pollNow(taskId);
    const status = await waitForStatus(taskId, settled);
    expect(status).toMatchObject({ state: "succeeded", archive: { state: "archived" } });
    expect(status.assets[0]).toMatchObject({ name: "video", via: "poll", key: `video/${taskId}/video.mp4` });
  });

  it("maps a kie.ai separation record-info (camelCase stems, originData) onto stems", async () => {
    const taskId = uniqueId("sep");
    await register(taskId, "separation");
    await scriptRecordInfo("separation", taskId, [
      recordInfo({
        taskId,
        musicIndex: 0,
        successFlag: "SUCCESS",
        response: {
          id: "x1",
          originUrl: null,
          instrumentalUrl: originBytes("Instrumental.mp3", 3000, 21),
          vocalUrl: originBytes("Vocals.mp3", 3000, 22),
          backingVocalsUrl: null,
          drumsUrl: null,
          pianoUrl: null,
          originData: [
            { duration: 10, audio_url: "https://example.com/x.mp3", stem_type_group_name: "Vocals", id: "a" },
          ],
        },
        createTime: "2025-01-01 00:10:00",
      }),
    ]);
    await pollNow(taskId);
    const status = await waitForStatus(taskId, settled);
    expect(status.assets.map((asset) => asset.name).sort()).toEqual(["instrumental", "vocal"]);
    expect(status).toMatchObject({ separationType: "separate_vocal", archive: { state: "archived" } });
  });

  it("reports a 401 on the task and waits an hour instead of hammering the provider", async () => {
    const warn = vi.spyOn(console, "warn");
    const taskId = uniqueId("unauth");
    await register(taskId, "music");
    await scriptRecordInfo("music", taskId, [
      { status: 401, body: { code: 401, msg: "You do not have access permissions" } },
    ]);
    await pollNow(taskId);
    const status = await getStatus(taskId);
    expect(status.state).toBe("awaiting_callback");
    expect(status.reconcile).toMatchObject({ attempts: 1, lastStatus: "unauthorized" });
    expect(status.reconcile.error).toMatch(/rejected PROVIDER_API_KEY \(401/);
    expect(await nextAtIn(taskId)).toBeGreaterThan(59 * MINUTE);
    expect(warn.mock.calls.some((call) => String(call[0]).includes("reconcile_failed"))).toBe(true);
    expect(warn.mock.calls.some((call) => String(call[0]).includes("test-provider-key"))).toBe(false);
  });

  it("treats a 401 inside a 200 envelope the same way", async () => {
    const taskId = uniqueId("unauth2");
    await register(taskId, "video");
    await scriptRecordInfo("video", taskId, [{ status: 200, body: { code: 401, msg: "Unauthorized" } }]);
    await pollNow(taskId);
    expect((await getStatus(taskId)).reconcile.lastStatus).toBe("unauthorized");
  });

  it("backs off on 429 and 5xx with growing pauses, then recovers", async () => {
    const taskId = uniqueId("backoff");
    await register(taskId, "video");
    const videoUrl = originBytes("late.mp4", 3000, 31, { type: "video/mp4" });
    await scriptRecordInfo("video", taskId, [
      { status: 429, body: { code: 429, msg: "Too many requests" } },
      { status: 503, body: "maintenance" },
      { status: 200, body: { code: 455, msg: "maintenance" } },
      recordInfo({ taskId, successFlag: "SUCCESS", response: { videoUrl } }),
    ]);
    const pauses: (number | null)[] = [];
    for (let i = 0; i < 3; i++) {
      await pollNow(taskId);
      pauses.push(await nextAtIn(taskId));
    }
    const status = await getStatus(taskId);
    expect(status.reconcile).toMatchObject({ attempts: 3, lastStatus: "unavailable" });
    const [a, b, c] = pauses as [number, number, number];
    expect(a).toBeGreaterThan(0.9 * MINUTE);
    expect(b).toBeGreaterThan(1.9 * MINUTE);
    expect(c).toBeGreaterThan(4.9 * MINUTE);
    await pollNow(taskId);
    expect(await waitForStatus(taskId, settled)).toMatchObject({
      archive: { state: "archived" },
      reconcile: { error: null },
    });
  });

  it("gives up after 24 hours of polling, failing the task with a clear reason", async () => {
    const taskId = uniqueId("giveup");
    await register(taskId, "video");
    await scriptRecordInfo("video", taskId, [recordInfo({ taskId, successFlag: "PENDING", response: null })]);
    await runInDurableObject(taskStub(env, taskId), (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE task SET poll_attempts = 30, poll_started_at = ?",
        Date.now() - 24 * 60 * MINUTE,
      );
    });
    await pollNow(taskId);
    const status = await getStatus(taskId);
    expect(status.state).toBe("failed");
    expect(status.reconcile.error).toMatch(/no final result from the provider after 24 hours/);
    expect(status.reconcile.nextAt).toBeNull();
  });

  it("stops polling once a final callback arrives", async () => {
    const taskId = uniqueId("final");
    await register(taskId, "video");
    const body = {
      code: 200,
      msg: "success",
      data: { task_id: taskId, video_url: originBytes("cb.mp4", 100, 1) },
    };
    expect((await postCallback(body)).status).toBe(200);
    expect((await getStatus(taskId)).reconcile.nextAt).toBeNull();
  });
});

describe("watchdog", () => {
  it("re-drives an asset whose download lease expired (its consumer died)", async () => {
    const taskId = uniqueId("stuck");
    const body = {
      code: 200,
      msg: "success",
      data: { task_id: taskId, video_url: originBytes("stuck.mp4", 2500, 41) },
    };
    expect((await postCallback(body)).status).toBe(200);
    await waitForStatus(taskId, settled);
    const stub = taskStub(env, taskId);
    // Rewind the asset to a claim whose consumer vanished mid-download.
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE assets SET state = 'downloading', key = NULL, sha256 = NULL, bytes = NULL, lease_until = ?",
        Date.now() - 1,
      );
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const status = await waitForStatus(taskId, settled);
    expect(status.assets[0]).toMatchObject({ state: "stored", attempts: 2, bytes: 2500 });
    const sent = await runInDurableObject(
      stub,
      (_instance, state) =>
        state.storage.sql.exec<{ n: number }>("SELECT messages_sent AS n FROM assets").one().n,
    );
    expect(sent).toBe(2);
  });

  it("re-drives an asset whose queue message never arrived", async () => {
    const { seedQueuedAsset } = await import("../helpers/tasks");
    const taskId = await seedQueuedAsset("video", "video", originBytes("lost.mp4", 1500, 42));
    const stub = taskStub(env, taskId);
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.sql.exec("UPDATE assets SET queued_at = ?", Date.now() - 2 * 60 * MINUTE);
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    await runDurableObjectAlarm(stub);
    const status = await waitForStatus(taskId, settled);
    expect(status.assets[0]).toMatchObject({ state: "stored", bytes: 1500, attempts: 1 });
  });
});
