// The receiver as the benchmarks see it: callbacks posted with the development token, task
// status read with the development bearer token, plus the numbers helpers the sections share.

import type { TaskStatus } from "../src/tasks/status";
import kieMusicComplete from "../test/fixtures/kie.music.complete.json" with { type: "json" };

export type { TaskStatus };

export const CALLBACK_TOKEN = "dev-callback-token";
export const API_TOKEN = "dev-api-token";
export const MIB = 1024 * 1024;

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** Writes a progress line to stderr (stdout carries only the final table). */
export const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

export interface MediaSpec {
  name: string;
  size: number;
  seed: number;
  /** Served with Content-Length (true) or chunked (false). */
  contentLength: boolean;
  type: string;
}

/** A URL of the local origin (test/helpers/origin.ts) serving pattern bytes. */
export function mediaUrl(origin: string, spec: MediaSpec): string {
  const query = new URLSearchParams({
    size: String(spec.size),
    seed: String(spec.seed),
    cl: spec.contentLength ? "1" : "0",
    type: spec.type,
  });
  return `${origin}/bytes/${spec.name}?${query}`;
}

/** A video callback (kie.ai / sunoapi.org shape): one asset, `video/<taskId>/video.mp4`. */
export function videoCallback(taskId: string, videoUrl: string) {
  return { code: 200, msg: "success", data: { task_id: taskId, video_url: videoUrl } };
}

/**
 * The `complete` music callback of test/fixtures/kie.music.complete.json with its task id and its
 * two tracks' `audio_url`/`image_url` pointed at the origin. Stream URLs are never archived; they
 * point at a 404 of the origin all the same, so nothing leaves the machine.
 */
export function musicCompleteCallback(
  taskId: string,
  origin: string,
  sizes: { audio: number; cover: number },
  seedBase: number,
) {
  const body = structuredClone(kieMusicComplete);
  body.data.task_id = taskId;
  body.data.data.forEach((track, index) => {
    track.audio_url = mediaUrl(origin, {
      name: `${track.id}.mp3`,
      size: sizes.audio,
      seed: seedBase + index * 2,
      contentLength: true,
      type: "audio/mpeg",
    });
    track.image_url = mediaUrl(origin, {
      name: `${track.id}.jpeg`,
      size: sizes.cover,
      seed: seedBase + index * 2 + 1,
      contentLength: true,
      type: "image/jpeg",
    });
    track.stream_audio_url = `${origin}/status/404`;
  });
  return body;
}

export class Receiver {
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  /** POSTs a callback; resolves with the status code once the answer's body has been read. */
  async postCallback(body: unknown): Promise<{ status: number; text: string }> {
    const response = await fetch(`${this.url}/callbacks?token=${CALLBACK_TOKEN}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, text: await response.text() };
  }

  /**
   * The status JSON of a task, or null when the receiver does not know it (404). The timeout is
   * generous on purpose: while the local runtime copies a large staged object it answers nothing
   * (see BENCHMARKS.md), and that stall is measured, not treated as an error.
   */
  async status(taskId: string, timeoutMs = 180_000): Promise<TaskStatus | null> {
    const response = await fetch(`${this.url}/tasks/${taskId}`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === 404) {
      await response.arrayBuffer();
      return null;
    }
    if (response.status !== 200) throw new Error(`GET /tasks/${taskId} answered ${response.status}`);
    return (await response.json()) as TaskStatus;
  }

  /**
   * Polls `GET /tasks/:id` every `intervalMs` until its archive is settled (`archived` or
   * `failed`) or `timeoutMs` passes; resolves with the last status, when it was seen, and the
   * longest any status request took (how long the Worker went without answering).
   */
  async waitSettled(
    taskId: string,
    { intervalMs = 100, timeoutMs = 120_000 } = {},
  ): Promise<{ status: TaskStatus | null; at: number; settled: boolean; slowestPollMs: number }> {
    const deadline = performance.now() + timeoutMs;
    let slowestPollMs = 0;
    for (;;) {
      const asked = performance.now();
      const status = await this.status(taskId, Math.ceil(Math.max(1000, deadline - asked)));
      const at = performance.now();
      slowestPollMs = Math.max(slowestPollMs, at - asked);
      const state = status?.archive.state;
      if (state === "archived" || state === "failed") return { status, at, settled: true, slowestPollMs };
      if (at >= deadline) return { status, at, settled: false, slowestPollMs };
      await sleep(intervalMs);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
) {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Percentile by nearest rank (p in [0, 100]) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export const median = (values: readonly number[]) => percentile(values, 50);
