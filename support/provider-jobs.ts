// What a Suno-style provider sends back for one submitted job: the documented callbacks of the
// job's kind (support/fixtures/ for music, separation and video; PROVIDERS.md §2 shapes for the
// rest), with the task id the provider gave and every media URL on the local origin. The fake
// provider (support/fake-provider.ts) posts or holds them; the tests and the simulator check the
// archive against `files`. No Node imports: tests inside workerd use it too.

import kieMusicText from "./fixtures/kie.music.text.json" with { type: "json" };
import { atOrigin, type ServedFile, withTaskId } from "./fixtures/rewrite.ts";
import sunoapiMusicComplete from "./fixtures/sunoapi.music.complete.json" with { type: "json" };
import sunoapiSeparateVocal from "./fixtures/sunoapi.separation.separate-vocal.json" with { type: "json" };
import sunoapiSplitStem from "./fixtures/sunoapi.separation.split-stem.json" with { type: "json" };
import sunoapiVideo from "./fixtures/sunoapi.video.success.json" with { type: "json" };
import { mediaUrl } from "./media-url.ts";
import { assetName, type MediaFile, type MediaSizes } from "./scenario.ts";

/** The job kinds a submit endpoint starts (the fake provider's own table, PROVIDERS.md §9.1). */
export type JobKind = "music" | "separation" | "video" | "wav" | "cover" | "lyrics" | "midi" | "market";

/** Submit path → the kind of job it starts, as the provider documents it. */
export const JOB_KINDS: Record<string, JobKind> = {
  "/api/v1/generate": "music",
  "/api/v1/generate/extend": "music",
  "/api/v1/generate/upload-cover": "music",
  "/api/v1/generate/upload-extend": "music",
  "/api/v1/generate/add-instrumental": "music",
  "/api/v1/generate/add-vocals": "music",
  "/api/v1/generate/replace-section": "music",
  "/api/v1/vocal-removal/generate": "separation",
  "/api/v1/mp4/generate": "video",
  "/api/v1/wav/generate": "wav",
  "/api/v1/lyrics": "lyrics",
  "/api/v1/midi/generate": "midi",
  "/api/v1/suno/cover/generate": "cover",
  "/api/v1/jobs/createTask": "market",
};

/** Small files: a job's whole archive in well under a second inside the test pool. */
export const JOB_SIZES: MediaSizes = {
  audio: 90_000,
  cover: 12_000,
  stemMin: 20_000,
  stemMax: 60_000,
  video: 300_000,
};

export interface JobCallback {
  label: string;
  body: unknown;
}

export interface PlannedJob {
  taskId: string;
  kind: JobKind;
  callbacks: JobCallback[];
  /** Every file the receiver should archive from these callbacks, under its asset name. */
  files: MediaFile[];
}

let seeds = 1000;

/**
 * The callbacks of one job, in the order the provider sends them. `request` is the submitted
 * body: a separation's `type` picks `separate_vocal` (2 stems) or `split_stem` (12).
 */
export function planJob(options: {
  kind: JobKind;
  taskId: string;
  originUrl: string;
  request: Record<string, unknown>;
  sizes?: MediaSizes;
}): PlannedJob {
  const { kind, taskId, originUrl } = options;
  const sizes = options.sizes ?? JOB_SIZES;
  let stems = 0;
  const local = <T>(fixture: T) =>
    atOrigin(withTaskId(fixture, taskId), originUrl, ({ key, index }) => {
      seeds += 1;
      if (key.endsWith("audio_url"))
        return { seed: seeds, size: Math.round(sizes.audio * (1 + 0.17 * index)) };
      if (key.endsWith("image_url")) return { seed: seeds, size: sizes.cover + 1_234 * index };
      if (key === "video_url") return { seed: seeds, size: sizes.video, chunked: true };
      return { seed: seeds, size: sizes.stemMin + 997 * stems++ };
    });
  const primaries = (files: Map<string, ServedFile>): MediaFile[] =>
    [...files.values()]
      .filter((file) => !file.key.startsWith("source_"))
      .map((file) => ({ ...file, asset: assetName(file) }));
  const file = (name: string, type: string, size: number, asset: string): MediaFile => {
    seeds += 1;
    const spec = { name, type, size, seed: seeds };
    return { ...spec, url: mediaUrl(originUrl, spec), key: asset, asset };
  };

  switch (kind) {
    case "music": {
      const complete = local(sunoapiMusicComplete);
      return {
        taskId,
        kind,
        callbacks: [
          { label: "music text", body: withTaskId(kieMusicText, taskId) },
          { label: "music complete", body: complete.body },
        ],
        files: primaries(complete.files),
      };
    }
    case "separation": {
      const fixture = options.request.type === "split_stem" ? sunoapiSplitStem : sunoapiSeparateVocal;
      const separation = local(fixture);
      return {
        taskId,
        kind,
        callbacks: [
          { label: `separation ${options.request.type ?? "separate_vocal"}`, body: separation.body },
        ],
        files: primaries(separation.files),
      };
    }
    case "video": {
      const video = local(sunoapiVideo);
      return {
        taskId,
        kind,
        callbacks: [{ label: "video", body: video.body }],
        files: primaries(video.files),
      };
    }
    case "wav": {
      const wav = file("audio.wav", "audio/wav", sizes.audio, "audio");
      const body = { code: 200, msg: "success", data: { audioWavUrl: wav.url, task_id: taskId } };
      return { taskId, kind, callbacks: [{ label: "wav", body }], files: [wav] };
    }
    case "cover": {
      const images = [1, 2].map((n) => file(`cover-${n}.png`, "image/png", sizes.cover + n, `image-${n}`));
      const body = { code: 200, msg: "success", data: { taskId, images: images.map((image) => image.url) } };
      return { taskId, kind, callbacks: [{ label: "cover", body }], files: images };
    }
    case "lyrics": {
      const body = {
        code: 200,
        msg: "All generated successfully.",
        data: {
          callbackType: "complete",
          taskId,
          data: [
            { text: "[Verse]\nStreetlights hum", title: "Night Walk", status: "complete", errorMessage: "" },
          ],
        },
      };
      return { taskId, kind, callbacks: [{ label: "lyrics", body }], files: [] };
    }
    case "midi": {
      const notes = [{ pitch: 60, start: 0, end: 0.5, velocity: 100 }];
      const body = {
        code: 200,
        msg: "success",
        task_id: taskId,
        data: { state: "complete", instruments: [{ name: "Piano", notes }] },
      };
      return { taskId, kind, callbacks: [{ label: "midi", body }], files: [] };
    }
    case "market": {
      const result = file("result.mp3", "audio/mpeg", sizes.audio, "result");
      const body = {
        code: 200,
        msg: "Playground task completed successfully.",
        data: {
          taskId,
          callbackType: "task_completed",
          state: "success",
          resultJson: JSON.stringify({ resultUrls: [result.url] }),
          failCode: null,
          failMsg: null,
        },
      };
      return { taskId, kind, callbacks: [{ label: "market", body }], files: [result] };
    }
  }
}
