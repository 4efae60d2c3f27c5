// The callbacks the bench sends, made from the documented fixtures (support/fixtures/).

import type { Client } from "../support/client.ts";
import kieMusicComplete from "../support/fixtures/kie.music.complete.json" with { type: "json" };
import kieVideo from "../support/fixtures/kie.video.success.json" with { type: "json" };
import { atOrigin, withTaskId } from "../support/fixtures/rewrite.ts";
import splitStem from "../support/fixtures/sunoapi.separation.split-stem.json" with { type: "json" };

/** A video callback: one asset, `video/<taskId>/video.mp4`. */
export function videoCallback(taskId: string, videoUrl: string) {
  const body = withTaskId(kieVideo, taskId);
  body.data.video_url = videoUrl;
  return body;
}

/**
 * The `complete` music callback of kie.music.complete.json: 2 tracks, their audio and cover on
 * the local origin (4 files, seeds from `seed` on), with Content-Length.
 */
export function musicCallback(
  taskId: string,
  originUrl: string,
  sizes: { audio: number; cover: number },
  seed: number,
) {
  let next = seed;
  return atOrigin(withTaskId(kieMusicComplete, taskId), originUrl, ({ key }) => ({
    size: key === "audio_url" ? sizes.audio : sizes.cover,
    seed: next++,
  })).body;
}

/**
 * The `split_stem` separation of sunoapi.separation.split-stem.json: 12 stems on the local
 * origin, `stemSize` bytes each (seeds from `seed` on), with Content-Length.
 */
export function splitStemCallback(taskId: string, originUrl: string, stemSize: number, seed: number) {
  let next = seed;
  return atOrigin(withTaskId(splitStem, taskId), originUrl, () => ({ size: stemSize, seed: next++ }));
}

/** POSTs a callback; resolves with the status code once the answer's body has been read. */
export async function post(client: Client, body: unknown): Promise<{ status: number; text: string }> {
  const response = await client.postCallback(body);
  return { status: response.status, text: await response.text() };
}
