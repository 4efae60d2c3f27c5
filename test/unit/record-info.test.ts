import { describe, expect, it } from "vitest";
import { mapRecordInfo } from "../../src/providers/record-info";
import { nextPollDelay } from "../../src/tasks/poll-schedule";

// Shapes from PROVIDERS.md §3 (sunoapi.org record-info as observed in public code).
const sunoMusic = {
  taskId: "5c79abcdbe8e",
  parentMusicId: "",
  param: '{"prompt":"…"}',
  response: {
    taskId: "5c79abcdbe8e",
    sunoData: [
      {
        id: "e231aa01-0000-4000-8000-8cadc7dc0001",
        audioUrl: "https://musicfile.api.box/ZTIz.mp3",
        sourceAudioUrl: "https://cdn1.suno.ai/e231aa01.mp3",
        streamAudioUrl: "https://musicfile.api.box/ZTIz",
        sourceStreamAudioUrl: "https://cdn1.suno.ai/e231aa01",
        imageUrl: "https://musicfile.api.box/ZTIz.jpeg",
        sourceImageUrl: "https://cdn2.suno.ai/image_e231aa01.jpeg",
        prompt: "[Verse] …",
        modelName: "chirp-v4",
        title: "Nocturne",
        tags: "classical",
        createTime: 1764690794449,
        duration: 217.4,
      },
    ],
  },
  status: "SUCCESS",
  type: "chirp-v4",
  operationType: "upload_cover",
  errorCode: null,
  errorMessage: null,
  createTime: 1764690657000,
};

describe("record-info mapping", () => {
  it("maps a sunoapi.org music SUCCESS onto tracks and assets with source twins", () => {
    const info = mapRecordInfo("music", "5c79abcdbe8e", sunoMusic);
    expect(info).toMatchObject({ outcome: "result", status: "SUCCESS", final: true });
    if (info?.outcome !== "result") throw new Error("no result");
    expect(info.update?.stage).toBe("complete");
    expect(info.update?.assets).toEqual([
      {
        name: "e231aa01-0000-4000-8000-8cadc7dc0001/audio",
        role: "audio",
        url: "https://musicfile.api.box/ZTIz.mp3",
        fallbackUrl: "https://cdn1.suno.ai/e231aa01.mp3",
      },
      {
        name: "e231aa01-0000-4000-8000-8cadc7dc0001/cover",
        role: "cover",
        url: "https://musicfile.api.box/ZTIz.jpeg",
        fallbackUrl: "https://cdn2.suno.ai/image_e231aa01.jpeg",
      },
    ]);
    expect(info.update?.tracks[0]).toMatchObject({
      title: "Nocturne",
      modelName: "chirp-v4",
      duration: 217.4,
    });
    expect([...info.urls]).toContain("https://cdn1.suno.ai/e231aa01.mp3");
    expect([...info.urls]).not.toContain("https://musicfile.api.box/ZTIz");
  });

  it("maps a sunoapi.org separation with null stems onto the non-null ones", () => {
    const info = mapRecordInfo("separation", "3e63b4cc", {
      taskId: "3e63b4cc",
      musicId: "376c687e",
      audioId: "e231",
      response: {
        originUrl: null,
        instrumentalUrl: "https://file.aiquickdraw.com/s/a_Instrumental.mp3",
        vocalUrl: "https://file.aiquickdraw.com/s/a_Vocals.mp3",
        backingVocalsUrl: null,
        drumsUrl: null,
        woodwindsUrl: null,
      },
      successFlag: "SUCCESS",
      errorCode: null,
      errorMessage: null,
    });
    if (info?.outcome !== "result") throw new Error("no result");
    expect(info.update?.assets.map((asset) => asset.name)).toEqual(["instrumental", "vocal"]);
    expect(info.update?.separationType).toBe("separate_vocal");
  });

  it.each([
    ["PENDING", false, null],
    ["TEXT_SUCCESS", false, "text"],
    ["FIRST_SUCCESS", false, "first"],
    ["SUCCESS", true, "complete"],
    ["CREATE_TASK_FAILED", true, "error"],
    ["GENERATE_AUDIO_FAILED", true, "error"],
    ["SENSITIVE_WORD_ERROR", true, "error"],
  ])("treats music status %s as final=%s, stage %s", (status, final, stage) => {
    const data = { ...sunoMusic, status, response: status.endsWith("SUCCESS") ? sunoMusic.response : null };
    const info = mapRecordInfo("music", "t", data);
    if (info?.outcome !== "result") throw new Error("no result");
    expect(info.final).toBe(final);
    expect(info.update?.stage ?? null).toBe(stage);
  });

  it("does not count CALLBACK_EXCEPTION without results as a failure", () => {
    const info = mapRecordInfo("video", "t", {
      successFlag: "CALLBACK_EXCEPTION",
      response: { videoUrl: null },
    });
    expect(info).toMatchObject({ outcome: "result", final: false, update: null });
  });

  it("returns null for a shape it does not know", () => {
    expect(mapRecordInfo("music", "t", { state: "success" })).toBeNull();
    expect(mapRecordInfo("video", "t", null)).toBeNull();
  });
});

describe("poll schedule", () => {
  it("grows 1, 2, 5, 10, 30 minutes, then hourly; a rejected key waits an hour", () => {
    const minutes = [1, 2, 3, 4, 5, 6, 7, 20].map(
      (attempt) => nextPollDelay(attempt, "unavailable") / 60_000,
    );
    expect(minutes).toEqual([1, 2, 5, 10, 30, 60, 60, 60]);
    expect(nextPollDelay(1, "unauthorized")).toBe(60 * 60_000);
  });
});
