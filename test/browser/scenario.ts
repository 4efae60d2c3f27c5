// The tasks the dashboard test looks at, posted as a provider would (the documented callback
// fixtures with their task ids and media URLs replaced, `?token=` as in support/scenario.ts):
//
//   music   text → complete → the complete again (a duplicate); two tracks with WAV audio and PNG
//           covers
//   hostile a music task whose titles, tags, prompt and provider message carry HTML/script
//           payloads
//   stems   a separate_vocal separation: two WAV stems
//   video   one MP4
//   retry   a separate_vocal whose vocal link is not ready (404 → failed) until the test releases it
//   doomed  a video, for the delete button

import kieMusicText from "../../support/fixtures/kie.music.text.json" with { type: "json" };
import sunoapiMusicComplete from "../../support/fixtures/sunoapi.music.complete.json" with { type: "json" };
import sunoapiSeparateVocal from "../../support/fixtures/sunoapi.separation.separate-vocal.json" with {
  type: "json",
};
import sunoapiVideo from "../../support/fixtures/sunoapi.video.success.json" with { type: "json" };
import { mp4Prefix, pngCover, type ServedMedia, wavTone } from "./media-origin.ts";

/** Each payload sets `window.__xss` if it ever runs. */
export const XSS = {
  title1: `<script>window.__xss = "title"</script>Neon Skyline`,
  title2: `<img src=x onerror="window.__xss = 'title-img'">Night Drive`,
  tags: `synthwave, <b onmouseover="window.__xss = 'tags'">retro</b>`,
  prompt: `[Verse] City lights <svg onload="window.__xss = 'prompt'"></svg>`,
  message: `<img src=x onerror="window.__xss = 'message'"> All generated successfully.`,
};

export const MEDIA: Record<string, ServedMedia> = {
  "/track-1.wav": { body: wavTone({ seconds: 8, frequency: 440 }), type: "audio/wav" },
  "/track-2.wav": { body: wavTone({ seconds: 2, frequency: 554 }), type: "audio/wav" },
  "/cover-1.png": { body: pngCover({ hue: [31, 79, 216] }), type: "image/png" },
  "/cover-2.png": { body: pngCover({ hue: [200, 60, 120] }), type: "image/png" },
  "/instrumental.wav": { body: wavTone({ seconds: 2, frequency: 330 }), type: "audio/wav" },
  "/vocals.wav": { body: wavTone({ seconds: 2, frequency: 660 }), type: "audio/wav" },
  "/clip.mp4": { body: mp4Prefix(), type: "video/mp4" },
  "/late-vocals.wav": { body: wavTone({ seconds: 1, frequency: 880 }), type: "audio/wav", withheld: true },
};

export interface Post {
  taskId: string;
  kind: "music" | "separation" | "video";
  body: unknown;
}

export interface Plan {
  ids: { music: string; stems: string; video: string; retry: string; doomed: string; hostile: string };
  posts: Post[];
}

type Json = Record<string, unknown>;
const clone = <T>(value: T): T => structuredClone(value);

export function planTasks(origin: string, runId: string): Plan {
  const ids = {
    music: `dash-${runId}-music`,
    stems: `dash-${runId}-stems`,
    video: `dash-${runId}-video`,
    retry: `dash-${runId}-retry`,
    doomed: `dash-${runId}-doomed`,
    hostile: `dash-${runId}-hostile`,
  };

  const text = clone(kieMusicText) as Json;
  (text.data as Json).task_id = ids.music;

  const complete = (taskId: string, hostile: boolean): Json => {
    const body = clone(sunoapiMusicComplete) as Json;
    if (hostile) body.msg = XSS.message;
    const data = body.data as Json;
    data.task_id = taskId;
    (data.data as Json[]).forEach((track, index) => {
      const n = index + 1;
      Object.assign(track, {
        title: hostile ? (n === 1 ? XSS.title1 : XSS.title2) : n === 1 ? "Neon Skyline" : "Night Drive",
        tags: hostile ? XSS.tags : "synthwave, retro, driving",
        prompt: hostile ? XSS.prompt : "[Verse] City lights on the water, engines humming low",
        audio_url: `${origin}/track-${n}.wav`,
        image_url: `${origin}/cover-${n}.png`,
        source_audio_url: `${origin}/missing/source-${n}.wav`,
        source_image_url: `${origin}/missing/source-${n}.png`,
        stream_audio_url: `${origin}/missing/stream-${n}`,
        source_stream_audio_url: `${origin}/missing/source-stream-${n}`,
      });
    });
    return body;
  };

  const separation = (taskId: string, vocals: string): Json => {
    const body = clone(sunoapiSeparateVocal) as Json;
    const data = body.data as Json;
    data.task_id = taskId;
    Object.assign(data.vocal_removal_info as Json, {
      instrumental_url: `${origin}/instrumental.wav`,
      vocal_url: `${origin}${vocals}`,
    });
    return body;
  };

  const video = (taskId: string): Json => {
    const body = clone(sunoapiVideo) as Json;
    Object.assign(body.data as Json, { task_id: taskId, video_url: `${origin}/clip.mp4` });
    return body;
  };

  return {
    ids,
    posts: [
      { taskId: ids.music, kind: "music", body: text },
      { taskId: ids.music, kind: "music", body: complete(ids.music, false) },
      { taskId: ids.music, kind: "music", body: complete(ids.music, false) },
      { taskId: ids.hostile, kind: "music", body: complete(ids.hostile, true) },
      { taskId: ids.stems, kind: "separation", body: separation(ids.stems, "/vocals.wav") },
      { taskId: ids.video, kind: "video", body: video(ids.video) },
      { taskId: ids.retry, kind: "separation", body: separation(ids.retry, "/late-vocals.wav") },
      { taskId: ids.doomed, kind: "video", body: video(ids.doomed) },
    ],
  };
}

/** The parts of the status JSON (CONTRACT.md, `GET /tasks/:taskId`) the browser test reads. */
export interface ApiStatus {
  taskId: string;
  kind: string;
  state: string;
  providerMessage: string | null;
  archive: { state: string; stored: number; failed: number; total: number; bytes: number };
  tracks: { id: string; title: string | null }[];
  assets: {
    name: string;
    role: string;
    state: string;
    key: string | null;
    bytes: number | null;
    sha256: string | null;
    attempts: number;
    error: string | null;
    url: string | null;
  }[];
}

export interface Receiver {
  url: string;
  callbackToken: string;
  apiToken: string;
}

/** Posts every callback of the plan in order; throws unless each is answered 200. */
export async function postAll(receiver: Receiver, plan: Plan): Promise<void> {
  for (const post of plan.posts) {
    const response = await fetch(
      `${receiver.url}/callbacks/${post.kind}?token=${encodeURIComponent(receiver.callbackToken)}`,
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(post.body) },
    );
    const text = await response.text();
    if (response.status !== 200) throw new Error(`callback for ${post.taskId}: ${response.status} ${text}`);
  }
}

/** `GET /tasks/:taskId` with the bearer token: the status and the HTTP status. */
export async function apiGet(receiver: Receiver, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${receiver.url}${path}`, {
    headers: { authorization: `Bearer ${receiver.apiToken}` },
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Left as text.
  }
  return { status: response.status, body };
}

/** Polls the task until `done` holds for its status JSON; returns that status. */
export async function waitForTask(
  receiver: Receiver,
  taskId: string,
  done: (status: ApiStatus) => boolean,
  timeoutMs = 30_000,
): Promise<ApiStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    const { status, body } = await apiGet(receiver, `/tasks/${taskId}`);
    if (status === 200 && done(body as ApiStatus)) return body as ApiStatus;
    last = body;
    if (Date.now() > deadline)
      throw new Error(`task ${taskId} did not get there in time: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

export const settled = (status: ApiStatus) =>
  status.archive.state === "archived" || status.archive.state === "failed";
