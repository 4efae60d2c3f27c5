import { z } from "zod";
import { KeySegment, type Kind, TaskId } from "../core/ids";

/** "" and null both mean "not ready yet"; the providers use either. */
const MaybeUrl = z.string().nullish();
const Text = z.string().nullish();

/** One generated track (music family). Unknown keys are kept: providers add fields over time. */
export const Track = z.looseObject({
  id: KeySegment,
  audio_url: MaybeUrl,
  source_audio_url: MaybeUrl,
  stream_audio_url: MaybeUrl,
  source_stream_audio_url: MaybeUrl,
  image_url: MaybeUrl,
  source_image_url: MaybeUrl,
  prompt: Text,
  model_name: Text,
  title: Text,
  tags: Text,
  createTime: z.union([z.string(), z.number()]).nullish(),
  duration: z.number().nullish(),
});
export type Track = z.infer<typeof Track>;

const taskIdKeys = { task_id: TaskId.optional(), taskId: TaskId.optional() };

export const MusicData = z.looseObject({
  ...taskIdKeys,
  callbackType: z.enum(["text", "first", "complete", "error"]),
  // `null` on failure (sunoapi, kie), `[]` on kie extend failures and at the `text` stage.
  data: z.array(Track).nullish(),
  // kie replace-section failures carry a message here and no `data`.
  error: Text,
});

/** `{ vocal_url, drums_url, ... }`: every `<stem>_url` key with a string or null value. */
export const SeparationInfo = z.record(z.string(), z.unknown());

export const SeparationData = z.looseObject({
  ...taskIdKeys,
  vocal_removal_info: SeparationInfo.nullish(),
  vocal_separation_info: SeparationInfo.nullish(),
});

export const VideoData = z.looseObject({ ...taskIdKeys, video_url: z.string().nullable() });

const envelope = <T extends z.ZodType>(data: T) =>
  z.looseObject({
    code: z.number().int(),
    msg: Text,
    data,
    taskId: TaskId.optional(),
    task_id: TaskId.optional(),
  });

export const MusicCallback = envelope(MusicData);
export const SeparationCallback = envelope(SeparationData);
export const VideoCallback = envelope(VideoData);
export type MusicCallback = z.infer<typeof MusicCallback>;
export type SeparationCallback = z.infer<typeof SeparationCallback>;
export type VideoCallback = z.infer<typeof VideoCallback>;

export const callbackSchemas = {
  music: MusicCallback,
  separation: SeparationCallback,
  video: VideoCallback,
} as const satisfies Partial<Record<Kind, z.ZodType>>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The kind of a callback, from the keys of its `data` object (never from `msg`, whose text
 * differs between providers and languages). Null when no kind matches.
 */
export function detectKind(body: unknown): Kind | null {
  if (!isObject(body) || !isObject(body.data)) return null;
  const data = body.data;
  if ("callbackType" in data) return "music";
  if ("vocal_removal_info" in data || "vocal_separation_info" in data) return "separation";
  if ("video_url" in data) return "video";
  return null;
}

/**
 * The task id, where the providers put it: `data.task_id`, then `data.taskId`, then the
 * top-level `taskId` / `task_id` (kie Market-style and MIDI callbacks). Unvalidated.
 */
export function findTaskId(body: unknown): unknown {
  if (!isObject(body)) return undefined;
  const data = isObject(body.data) ? body.data : {};
  return data.task_id ?? data.taskId ?? body.taskId ?? body.task_id;
}
