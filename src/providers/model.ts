import type { Kind } from "../core/ids";

export type Stage = "text" | "first" | "complete" | "error";
export type TaskState = "awaiting_callback" | "in_progress" | "succeeded" | "failed";
export type AssetRole = "audio" | "cover" | "stem" | "video";
/** `pending`: recorded, its queue message not yet sent. Reported as `queued`. */
export type AssetState = "pending" | "queued" | "downloading" | "stored" | "failed";
export type Via = "callback" | "poll";

export interface TrackInfo {
  id: string;
  title: string | null;
  tags: string | null;
  prompt: string | null;
  modelName: string | null;
  duration: number | null;
  createTime: string | number | null;
}

/** A media file the task must archive, as derived from a callback or a poll. */
export interface AssetSpec {
  /** `<trackId>/audio`, `<trackId>/cover`, `<stem>` or `video`; unique within a task. */
  name: string;
  role: AssetRole;
  url: string;
  /** The `source_*` twin of a music URL, tried once when `url` fails permanently. */
  fallbackUrl: string | null;
}

/** What the intake hands the task's Durable Object: validated and normalised, plus the raw body. */
export interface TaskUpdate {
  taskId: string;
  kind: Kind;
  stage: Stage;
  code: number;
  message: string | null;
  tracks: TrackInfo[];
  assets: AssetSpec[];
  separationType: "separate_vocal" | "split_stem" | null;
  via: Via;
}

export interface ReceivedCallback extends TaskUpdate {
  /** SHA-256 of the canonical JSON; equal content means a duplicate delivery. */
  hash: string;
  raw: string;
}
