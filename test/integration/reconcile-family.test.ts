import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { taskStub } from "../../src/tasks/stub";
import { expectedSha256, originBytes, r2Sha256 } from "../helpers/media";
import { pollNow, providerRequests, recordInfo, scriptRecordInfo } from "../helpers/provider";
import {
  bearer,
  getStatus,
  postCallback,
  request,
  settled,
  uniqueId,
  waitForStatus,
} from "../helpers/worker";

async function register(taskId: string, kind: string) {
  const response = await request("/tasks", {
    method: "POST",
    headers: { ...bearer, "content-type": "application/json" },
    body: JSON.stringify({ taskId, kind }),
  });
  expect(response.status).toBe(201);
  return response;
}

describe("registration and record-info polling of the rest of the family", () => {
  it("registers each of the seven kinds, and refuses unknown", async () => {
    for (const kind of ["music", "separation", "video", "wav", "cover", "lyrics", "midi"]) {
      const taskId = uniqueId(kind);
      const response = await register(taskId, kind);
      expect(await response.json(), kind).toMatchObject({ kind, state: "awaiting_callback" });
    }
    const refused = await request("/tasks", {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json" },
      body: JSON.stringify({ taskId: uniqueId(), kind: "unknown" }),
    });
    expect(refused.status).toBe(400);
  });

  it("archives a silent WAV task from its record-info", async () => {
    const taskId = uniqueId("wav");
    await register(taskId, "wav");
    const url = originBytes("polled.wav", 5000, 31, { type: "audio/wav" });
    await scriptRecordInfo("wav", taskId, [
      recordInfo({ taskId, successFlag: "SUCCESS", response: { audioWavUrl: url }, errorCode: null }),
    ]);
    expect(await pollNow(taskId)).toBe(true);
    const status = await waitForStatus(taskId, settled);
    expect(status).toMatchObject({
      kind: "wav",
      state: "succeeded",
      archive: { state: "archived", stored: 1 },
    });
    expect(status.assets[0]).toMatchObject({ via: "poll", key: `wav/${taskId}/audio.wav` });
    expect(await r2Sha256(`wav/${taskId}/audio.wav`)).toMatchObject({
      sha256: expectedSha256({ name: "polled.wav", size: 5000, seed: 31 }),
    });
  });

  it("makes lyrics.json of a silent lyrics task from its record-info", async () => {
    const taskId = uniqueId("lyrics");
    await register(taskId, "lyrics");
    const data = [{ text: "[Verse] polled", title: "Polled", status: "complete", errorMessage: "" }];
    await scriptRecordInfo("lyrics", taskId, [
      recordInfo({ taskId, status: "SUCCESS", response: { taskId, data } }),
    ]);
    await pollNow(taskId);
    const status = await waitForStatus(taskId, settled);
    expect(status.lyrics).toEqual([
      { title: "Polled", text: "[Verse] polled", status: "complete", error: null },
    ]);
    expect(status.assets).toEqual([
      expect.objectContaining({ name: "lyrics", state: "stored", via: "poll" }),
    ]);
  });

  it("reads MIDI's numeric successFlag: pending, then the notes", async () => {
    const taskId = uniqueId("midi");
    await register(taskId, "midi");
    const midiData = {
      state: "complete",
      instruments: [{ name: "Piano", notes: [{ pitch: 60, start: 0, end: 1, velocity: 90 }] }],
    };
    await scriptRecordInfo("midi", taskId, [
      recordInfo({ taskId, successFlag: 0, midiData: null }),
      recordInfo({ taskId, successFlag: 1, midiData }),
    ]);
    await pollNow(taskId);
    expect(await getStatus(taskId)).toMatchObject({
      state: "awaiting_callback",
      reconcile: { lastStatus: "PENDING" },
    });
    await pollNow(taskId);
    const status = await waitForStatus(taskId, settled);
    expect(status).toMatchObject({
      state: "succeeded",
      midi: { instruments: 1, notes: 1, durationSeconds: 1 },
    });
    expect(status.assets.map((asset) => asset.key).sort()).toEqual([
      `midi/${taskId}/notes.json`,
      `midi/${taskId}/notes.mid`,
    ]);
  });

  it("fails a MIDI task whose record-info reports a failed generation", async () => {
    const taskId = uniqueId("midi");
    await register(taskId, "midi");
    await scriptRecordInfo("midi", taskId, [
      recordInfo({ taskId, successFlag: 3, errorMessage: "no stems" }),
    ]);
    await pollNow(taskId);
    expect(await getStatus(taskId)).toMatchObject({ state: "failed", providerMessage: "no stems" });
  });

  it("polls an unknown task as a kie.ai Market job, taking the kind its result produced", async () => {
    const taskId = uniqueId("market");
    expect((await postCallback({ code: 200, data: { task_id: taskId, progress: "half" } })).status).toBe(200);
    const images = [originBytes("m1.png", 1500, 41), originBytes("m2.png", 1600, 42)];
    await scriptRecordInfo("unknown", taskId, [
      recordInfo({ taskId, state: "success", resultJson: JSON.stringify({ resultUrls: images }) }),
    ]);
    await pollNow(taskId);
    const status = await waitForStatus(taskId, settled);
    expect(status).toMatchObject({
      kind: "cover",
      state: "succeeded",
      archive: { state: "archived", stored: 2 },
    });
    expect((await providerRequests(taskId))[0]?.query).toBe(`taskId=${taskId}`);
  });

  it("does not poll a cover task: it has no record-info", async () => {
    const taskId = uniqueId("cover");
    await register(taskId, "cover");
    expect((await getStatus(taskId)).reconcile.nextAt).toBeNull();
    expect(await taskStub(env, taskId).status()).toMatchObject({ kind: "cover" });
  });
});
