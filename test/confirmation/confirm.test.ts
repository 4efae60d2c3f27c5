import { describe, expect, it } from "vitest";
import splitStem from "../../support/fixtures/sunoapi.separation.split-stem.json";
import { atOrigin, expectedSha256, originBytes, originLog, r2Sha256 } from "../helpers/media";
import { providerRequests, recordInfo, scriptRecordInfo } from "../helpers/provider";
import { postCallback, settled, uniqueId, waitForStatus, withTaskId } from "../helpers/worker";

// This project runs with CONFIRM_WITH_PROVIDER=true: callback URLs are fetched only once the
// provider's record-info lists them.

const video = (taskId: string, url: string) => ({
  code: 200,
  msg: "MP4 generated successfully.",
  data: { task_id: taskId, video_url: url },
});

describe("confirmation mode", () => {
  it("never fetches a forged callback's URL that record-info does not list", async () => {
    const taskId = uniqueId("forged");
    const genuine = originBytes(`genuine-${taskId}.mp4`, 1000, 1);
    const forged = originBytes(`forged-${taskId}.mp4`, 1000, 2);
    await scriptRecordInfo("video", taskId, [
      recordInfo({ taskId, successFlag: "SUCCESS", response: { videoUrl: genuine } }),
    ]);
    expect((await postCallback(video(taskId, forged))).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.assets[0]).toMatchObject({ state: "failed", attempts: 0, key: null });
    expect(status.assets[0]?.error).toMatch(/^unconfirmed_url: /);
    expect(await originLog(`/bytes/forged-${taskId}`)).toEqual([]);
    expect(await originLog(`/bytes/genuine-${taskId}`)).toEqual([]);
  });

  it("archives a callback whose URLs the provider confirms, asking it once for many assets", async () => {
    const taskId = uniqueId("genuine");
    const { body, files } = atOrigin(withTaskId(splitStem, taskId));
    const stems = body.data.vocal_removal_info;
    const camel = Object.fromEntries(
      Object.entries(stems).map(([key, url]) => [
        key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()).replace(/_url$/, "Url"),
        url,
      ]),
    );
    await scriptRecordInfo("separation", taskId, [
      recordInfo({ taskId, successFlag: "SUCCESS", response: camel }),
    ]);
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.archive).toMatchObject({ state: "archived", stored: 12 });
    for (const asset of status.assets) {
      const file = files.get(asset.sourceUrl ?? "");
      if (!file) throw new Error(String(asset.sourceUrl));
      expect(await r2Sha256(asset.key as string)).toMatchObject({
        size: file.size,
        sha256: await expectedSha256(file),
      });
    }
    // Asked at all (0 would mean nothing was confirmed), and not once per asset.
    expect((await providerRequests(taskId)).length).toBeGreaterThan(0);
    expect((await providerRequests(taskId)).length).toBeLessThan(12);
  });

  it("waits, rather than fails, while the provider cannot be asked", async () => {
    const taskId = uniqueId("later");
    const url = originBytes(`later-${taskId}.mp4`, 1200, 3);
    await scriptRecordInfo("video", taskId, [
      { status: 503, body: "down" },
      recordInfo({ taskId, successFlag: "SUCCESS", response: { videoUrl: url } }),
    ]);
    expect((await postCallback(video(taskId, url))).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.assets[0]).toMatchObject({ state: "stored", bytes: 1200, attempts: 1 });
    expect((await providerRequests(taskId)).length).toBe(2);
  });

  it("does not fall back to a source twin the provider does not list", async () => {
    const taskId = uniqueId("twin");
    const primary = `${originBytes(`p-${taskId}.mp3`, 10, 1).replace("/bytes/", "/status/404?x=")}`;
    const twin = originBytes(`twin-${taskId}.mp3`, 1000, 4);
    const track = { id: "trk-1", audio_url: primary, source_audio_url: twin, image_url: "", title: "t" };
    await scriptRecordInfo("music", taskId, [
      recordInfo({ taskId, status: "SUCCESS", response: { sunoData: [{ id: "trk-1", audioUrl: primary }] } }),
    ]);
    const callback = {
      code: 200,
      msg: "ok",
      data: { callbackType: "complete", task_id: taskId, data: [track] },
    };
    expect((await postCallback(callback)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.assets[0]).toMatchObject({ state: "failed" });
    expect(status.assets[0]?.error).toMatch(/HTTP 404/);
    expect(await originLog(`/bytes/twin-${taskId}`)).toEqual([]);
  });

  it("confirms a WAV callback's URL with the WAV record-info", async () => {
    const taskId = uniqueId("wav");
    const url = originBytes(`confirmed-${taskId}.wav`, 3000, 51);
    await scriptRecordInfo("wav", taskId, [
      recordInfo({ taskId, successFlag: "SUCCESS", response: { audioWavUrl: url } }),
    ]);
    expect(
      (await postCallback({ code: 200, msg: "success", data: { task_id: taskId, audioWavUrl: url } })).status,
    ).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.assets[0]).toMatchObject({ state: "stored", key: `wav/${taskId}/audio.wav` });
  });

  it("fails closed on a cover image, which no record-info can confirm, and makes lyrics without asking", async () => {
    const taskId = uniqueId("cover");
    const image = originBytes(`cover-${taskId}.png`, 2000, 52);
    expect(
      (await postCallback({ code: 200, msg: "success", data: { taskId, images: [image] } })).status,
    ).toBe(200);
    const cover = await waitForStatus(taskId, settled);
    expect(cover.assets[0]).toMatchObject({ state: "failed", key: null });
    expect(cover.assets[0]?.error).toMatch(/^unconfirmed_url: cover tasks have no record-info/);
    expect(await originLog(`/bytes/cover-${taskId}`)).toEqual([]);

    const lyricsId = uniqueId("lyrics");
    const lyrics = {
      code: 200,
      msg: "ok",
      data: {
        callbackType: "complete",
        task_id: lyricsId,
        data: [{ text: "la", title: "La", status: "complete" }],
      },
    };
    expect((await postCallback(lyrics)).status).toBe(200);
    const made = await waitForStatus(lyricsId, settled);
    expect(made.assets[0]).toMatchObject({ state: "stored", key: `lyrics/${lyricsId}/lyrics.json` });
    expect(await providerRequests(lyricsId)).toEqual([]);
  });
});
