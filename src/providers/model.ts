import type { Kind, TaskKind } from "../core/ids";

export type Stage = "text" | "first" | "complete" | "error";
export type TaskState = "awaiting_callback" | "in_progress" | "succeeded" | "failed";
export type AssetRole = "audio" | "cover" | "stem" | "video" | "image" | "lyrics" | "midi" | "notes" | "file";
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
  /**
   * `<trackId>/audio`, `<trackId>/cover`, `<stem>`, `video`, `audio` (wav), `image-<n>`,
   * `lyrics`, `midi`, `notes`, or `file:<path>` (a salvaged URL); unique within a task.
   */
  name: string;
  role: AssetRole;
  /** Where the file is downloaded from; for a file stemvault makes, `made:<file name>`. */
  url: string;
  /** The `source_*` twin of a music URL, tried once when `url` fails permanently. */
  fallbackUrl: string | null;
  /** A file stemvault makes (lyrics, MIDI): the JSON it is rendered from, instead of a download. */
  content?: string;
}

export interface LyricsEntry {
  title: string | null;
  text: string | null;
  status: string | null;
  error: string | null;
}

export interface MidiSummary {
  instruments: number;
  notes: number;
  durationSeconds: number;
}

/** What a lyrics or MIDI task shows in its status JSON besides its files. */
export interface TaskResults {
  lyrics?: LyricsEntry[];
  midi?: MidiSummary;
}

/** What the intake hands the task's Durable Object: validated and normalised, plus the raw body. */
export interface TaskUpdate {
  taskId: string;
  /** `unknown`: a failure that does not say its kind (a Market failure, MIDI's old failure): it
   * applies to whatever kind the task is. */
  kind: TaskKind;
  /** A failure that fits this kind as well (a lyrics failure looks like a music failure): a task
   * of that kind takes it as its own. */
  alsoKind?: Kind;
  stage: Stage;
  code: number;
  message: string | null;
  tracks: TrackInfo[];
  assets: AssetSpec[];
  separationType: "separate_vocal" | "split_stem" | null;
  results?: TaskResults;
  via: Via;
}

/** A callback whose shape stemvault does not know: kept raw, its media URLs salvaged. */
export interface UnrecognizedUpdate {
  taskId: string;
  /** Role `file`, one per http(s) URL the URL policy allows, named by its JSON path. */
  assets: AssetSpec[];
}

export type ParsedCallback =
  | ({ recognized: true } & TaskUpdate)
  | ({ recognized: false } & UnrecognizedUpdate);

export type ReceivedCallback = ParsedCallback & {
  /** SHA-256 of the canonical JSON; equal content means a duplicate delivery. */
  hash: string;
  raw: string;
  /** The path it was posted to (`/callbacks` or `/callbacks/<kind>`). */
  route: string;
};
