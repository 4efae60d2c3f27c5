import { z } from "@hono/zod-openapi";
import { TaskKind } from "../core/ids";
import { scrubCredentials, withoutCredentials } from "../core/redact";
import type { TaskResults, TrackInfo } from "../providers/model";
import { SubmittedRequest } from "../providers/submit-endpoints";
import { EventStatus } from "./event-status";
import type { AssetCounts, AssetRow, CallbackRow, TaskRow } from "./rows";

const Iso = z.iso.datetime().openapi({ example: "2026-11-30T12:00:00.000Z" });

export const ArchiveState = z.enum(["none", "archiving", "archived", "failed"]);
export type ArchiveState = z.infer<typeof ArchiveState>;

export const ArchiveSummary = z.object({
  state: ArchiveState,
  stored: z.number().int(),
  failed: z.number().int(),
  total: z.number().int(),
  bytes: z.number().int(),
});

export const TaskState = z.enum(["awaiting_callback", "in_progress", "succeeded", "failed"]);
export const Stage = z.enum(["text", "first", "complete", "error"]);

export const AssetStatus = z
  .object({
    name: z.string().openapi({ example: "8551f4d5/audio" }),
    role: z.enum(["audio", "cover", "stem", "video", "image", "lyrics", "midi", "notes", "file"]),
    /**
     * Without credentials: a `user:pass@` in the provider's URL is never shown back. Null for a
     * file stemvault makes itself (lyrics.json, notes.json, notes.mid).
     */
    sourceUrl: z.string().nullable(),
    state: z.enum(["queued", "downloading", "stored", "failed"]),
    via: z.enum(["callback", "poll"]),
    key: z.string().nullable(),
    bytes: z.number().int().nullable(),
    sha256: z.string().nullable(),
    contentType: z.string().nullable(),
    attempts: z.number().int(),
    error: z.string().nullable(),
    /** How long storing took: download + hash + streaming into R2, then R2 committing the object. */
    timings: z.object({ downloadMs: z.number(), publishMs: z.number() }).nullable(),
    /** A signed `/media/...` link; added by the read API for stored assets. */
    url: z.string().nullable(),
  })
  .openapi("AssetStatus");
export type AssetStatus = z.infer<typeof AssetStatus>;

export const CallbackEntry = z.object({
  at: Iso,
  stage: Stage,
  code: z.number().int(),
  message: z.string().nullable(),
  /** Further deliveries of this same callback. */
  duplicates: z.number().int(),
});

/** A callback of a shape stemvault did not know, as it arrived (text, never markup). */
export const UnrecognizedCallback = z
  .object({ receivedAt: Iso, route: z.string(), body: z.string() })
  .openapi("UnrecognizedCallback");

export const LyricsText = z.object({
  title: z.string().nullable(),
  text: z.string().nullable(),
  status: z.string().nullable(),
  error: z.string().nullable(),
});

export const MidiSummary = z.object({
  instruments: z.number().int(),
  notes: z.number().int(),
  durationSeconds: z.number(),
});

export const Track = z.object({
  id: z.string(),
  title: z.string().nullable(),
  tags: z.string().nullable(),
  prompt: z.string().nullable(),
  modelName: z.string().nullable(),
  duration: z.number().nullable(),
  createTime: z.union([z.string(), z.number()]).nullable(),
});

/** The contract's status JSON for `GET /tasks/:taskId` and the manifest. */
export const TaskStatus = z
  .object({
    taskId: z.string(),
    kind: TaskKind.openapi({ description: "`unknown` while every callback of the task was unrecognised" }),
    state: TaskState,
    stage: Stage.nullable(),
    providerCode: z.number().int().nullable(),
    providerMessage: z.string().nullable(),
    separationType: z.string().nullable(),
    createdAt: Iso,
    callbacks: z.object({
      received: z.number().int(),
      distinct: z.number().int(),
      duplicates: z.number().int(),
      firstAt: Iso.nullable(),
      lastAt: Iso.nullable(),
      /** Distinct callbacks of a shape stemvault did not know (kept raw, see unrecognizedCallbacks). */
      unrecognized: z.number().int(),
      /** Every distinct recognised callback, oldest first: the task's stage timeline. */
      history: z.array(CallbackEntry),
    }),
    /** The raw bodies of the unrecognised callbacks, oldest first; a retry parses them again. */
    unrecognizedCallbacks: z.array(UnrecognizedCallback),
    /** A lyrics task's texts. */
    lyrics: z.array(LyricsText).optional(),
    /** A MIDI task's notes, in summary (null until they arrived). */
    midi: MidiSummary.nullable().optional(),
    archive: ArchiveSummary,
    /** Polling of the provider's record-info for a task the callbacks left silent. */
    reconcile: z.object({
      attempts: z.number().int(),
      lastAt: Iso.nullable(),
      lastStatus: z.string().nullable(),
      nextAt: Iso.nullable(),
      error: z.string().nullable(),
    }),
    tracks: z.array(Track),
    assets: z.array(AssetStatus),
    /** Outbound events (EVENTS_URL) of the task, oldest first. */
    events: z.array(EventStatus),
    /** How the task became known: its first callback, `POST /tasks`, or `POST /provider/…`. */
    via: z.enum(["callback", "register", "submit"]),
    /** A task submitted through stemvault: the submitted body without secrets or `callBackUrl`. */
    request: SubmittedRequest.nullable(),
    /**
     * The task's ZIP (`GET /tasks/<taskId>/bundle.zip`), once a file is stored: its signed link
     * and its exact length. Added by the read API, like `assets[].url`; never in the manifest.
     */
    bundle: z.object({ url: z.string(), bytes: z.number().int() }).optional(),
  })
  .openapi("TaskStatus");
export type TaskStatus = z.infer<typeof TaskStatus>;

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());

/**
 * `archived` only when the task is finished and every asset is stored; `failed` when it is
 * finished, every asset settled, and one failed; `none` when there is nothing to archive.
 */
export function archiveState(task: Pick<TaskRow, "state">, counts: AssetCounts): ArchiveState {
  if (counts.total === 0) return "none";
  const finished = task.state === "succeeded" || task.state === "failed";
  if (!finished || counts.stored + counts.failed < counts.total) return "archiving";
  return counts.failed > 0 ? "failed" : "archived";
}

export function buildStatus(
  task: TaskRow,
  assets: AssetRow[],
  callbacks: CallbackRow[],
  nextPollAt: number | null,
  events: EventStatus[] = [],
): TaskStatus {
  const stored = assets.filter((asset) => asset.state === "stored");
  const results = (task.results ? JSON.parse(task.results) : {}) as TaskResults;
  const known = callbacks.filter((row) => row.recognized !== 0);
  const unknown = callbacks.filter((row) => row.recognized === 0);
  const counts = {
    total: assets.length,
    stored: stored.length,
    failed: assets.filter((asset) => asset.state === "failed").length,
  };
  return {
    taskId: task.task_id,
    kind: task.kind,
    state: task.state,
    stage: task.stage,
    providerCode: task.provider_code,
    providerMessage: task.provider_message,
    separationType: task.separation_type,
    createdAt: iso(task.created_at) as string,
    callbacks: {
      received: callbacks.length + task.duplicates,
      distinct: callbacks.length,
      duplicates: task.duplicates,
      firstAt: iso(task.first_callback_at),
      lastAt: iso(task.last_callback_at),
      unrecognized: unknown.length,
      history: known.map((row) => ({
        at: iso(row.received_at) as string,
        stage: row.stage as z.infer<typeof Stage>,
        code: row.code,
        message: row.message,
        duplicates: row.duplicates,
      })),
    },
    unrecognizedCallbacks: unknown.map((row) => ({
      receivedAt: iso(row.received_at) as string,
      route: row.route ?? "/callbacks",
      body: row.raw,
    })),
    ...(task.kind === "lyrics" ? { lyrics: results.lyrics ?? [] } : {}),
    ...(task.kind === "midi" ? { midi: results.midi ?? null } : {}),
    archive: {
      state: archiveState(task, counts),
      stored: counts.stored,
      failed: counts.failed,
      total: counts.total,
      bytes: stored.reduce((sum, asset) => sum + (asset.bytes ?? 0), 0),
    },
    reconcile: {
      attempts: task.poll_attempts,
      lastAt: iso(task.last_poll_at),
      lastStatus: task.last_poll_status,
      nextAt: iso(nextPollAt),
      error: task.poll_error,
    },
    tracks: JSON.parse(task.tracks) as TrackInfo[],
    assets: assets.map((asset) => ({
      name: asset.name,
      role: asset.role,
      sourceUrl: asset.content === null ? withoutCredentials(asset.url) : null,
      state: asset.state === "pending" ? "queued" : asset.state,
      via: asset.via,
      key: asset.key,
      bytes: asset.bytes,
      sha256: asset.sha256,
      contentType: asset.content_type,
      attempts: asset.attempts,
      error: asset.error === null ? null : scrubCredentials(asset.error),
      timings:
        asset.download_ms === null || asset.publish_ms === null
          ? null
          : { downloadMs: asset.download_ms, publishMs: asset.publish_ms },
      url: null,
    })),
    events,
    via: task.via,
    request: task.request === null ? null : (JSON.parse(task.request) as TaskStatus["request"]),
  };
}
