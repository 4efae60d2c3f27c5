import { z } from "zod";
import { KeySegment, type Kind, TaskId } from "../core/ids";
import { CoverData, LyricsData, MarketData, MidiData, WavData } from "./family-schemas";

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
  wav: envelope(WavData),
  cover: envelope(CoverData),
  lyrics: envelope(LyricsData),
  midi: envelope(MidiData),
  market: envelope(MarketData),
} as const satisfies Record<Kind | "market", z.ZodType>;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `market`: a kie.ai Market jobs callback, whose kind is the one its result produces. */
export type Shape = Kind | "market";

/**
 * The shape of a callback, from the keys of its `data` object (never from `msg`, whose text
 * differs between providers and languages); CONTRACT.md "Kinds". Null when no shape matches.
 * A lyrics callback has `callbackType` and a `data` array like a music callback: its items carry
 * `text` and no `audio_url`/`id`. Its failure (`data: null`) can look like a music failure;
 * `lyricsLookalike` decides those.
 */
export function detectShape(body: unknown): Shape | null {
  if (!isObject(body) || !isObject(body.data)) return null;
  const data = body.data;
  if (data.callbackType === "task_completed" || ("resultJson" in data && "state" in data)) return "market";
  if ("audioWavUrl" in data || "audio_wav_url" in data) return "wav";
  if ("images" in data) return "cover";
  if ("instruments" in data) return "midi";
  if ("lyricsData" in data) return "lyrics";
  if ("callbackType" in data) return lyricsLookalike(body.code, data) ? "lyrics" : "music";
  if ("vocal_removal_info" in data || "vocal_separation_info" in data) return "separation";
  if ("video_url" in data) return "video";
  return null;
}

const isLyricsItem = (item: unknown) =>
  isObject(item) && "text" in item && !("audio_url" in item) && !("id" in item);

/**
 * Lyrics, not music: items that are texts; or no items and a failure that only lyrics send —
 * kie.ai keeps `callbackType: "complete"` with `data: null`, sunoapi.org's lyrics failure spells
 * `taskId` where the music family spells `task_id`.
 */
function lyricsLookalike(code: unknown, data: Record<string, unknown>): boolean {
  const items = data.data;
  if (Array.isArray(items)) return items.length > 0 && items.every(isLyricsItem);
  if (items !== null && items !== undefined) return false;
  if (data.callbackType === "complete") return code !== 200;
  return data.callbackType === "error" && "taskId" in data && !("task_id" in data);
}

/** A failure that names no kind: only a task id in `data` (MIDI's old failure) and a code other than 200. */
export function isBareFailure(body: unknown): boolean {
  if (!isObject(body) || !isObject(body.data) || body.code === 200) return false;
  return (
    typeof body.code === "number" &&
    Object.keys(body.data).every((key) => key === "task_id" || key === "taskId")
  );
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
