import type { Kind } from "../ids";
import type { AssetRole, Stage, TaskState, TrackInfo, Via } from "./model";
import type { AssetRow, TaskRow } from "./schema";

export type ArchiveState = "none" | "archiving" | "archived" | "failed";

export interface AssetStatus {
  name: string;
  role: AssetRole;
  sourceUrl: string;
  state: "queued" | "downloading" | "stored" | "failed";
  via: Via;
  key: string | null;
  bytes: number | null;
  sha256: string | null;
  contentType: string | null;
  attempts: number;
  error: string | null;
  /** How long storing took: download + hash + streaming into R2, then R2 committing the object. */
  timings: { downloadMs: number; publishMs: number } | null;
  /** A signed `/media/...` link; added by the read API for stored assets. */
  url: string | null;
}

/** The contract's status JSON for `GET /tasks/:taskId` and the manifest. */
export interface TaskStatus {
  taskId: string;
  kind: Kind;
  state: TaskState;
  stage: Stage | null;
  providerCode: number | null;
  providerMessage: string | null;
  separationType: string | null;
  createdAt: string;
  callbacks: {
    received: number;
    distinct: number;
    duplicates: number;
    firstAt: string | null;
    lastAt: string | null;
  };
  archive: { state: ArchiveState; stored: number; failed: number; total: number; bytes: number };
  /** Polling of the provider's record-info for a task the callbacks left silent. */
  reconcile: {
    attempts: number;
    lastAt: string | null;
    lastStatus: string | null;
    nextAt: string | null;
    error: string | null;
  };
  tracks: TrackInfo[];
  assets: AssetStatus[];
}

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());

/**
 * `archived` only when the task is finished and every asset is stored; `failed` when it is
 * finished, every asset settled, and one failed; `none` when there is nothing to archive.
 */
export type AssetCounts = {
  total: number;
  stored: number;
  failed: number;
};

export function archiveState(task: Pick<TaskRow, "state">, counts: AssetCounts): ArchiveState {
  if (counts.total === 0) return "none";
  const finished = task.state === "succeeded" || task.state === "failed";
  if (!finished || counts.stored + counts.failed < counts.total) return "archiving";
  return counts.failed > 0 ? "failed" : "archived";
}

export function buildStatus(
  task: TaskRow,
  assets: AssetRow[],
  distinct: number,
  nextPollAt: number | null,
): TaskStatus {
  const stored = assets.filter((asset) => asset.state === "stored");
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
      received: distinct + task.duplicates,
      distinct,
      duplicates: task.duplicates,
      firstAt: iso(task.first_callback_at),
      lastAt: iso(task.last_callback_at),
    },
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
      sourceUrl: asset.url,
      state: asset.state === "pending" ? "queued" : asset.state,
      via: asset.via,
      key: asset.key,
      bytes: asset.bytes,
      sha256: asset.sha256,
      contentType: asset.content_type,
      attempts: asset.attempts,
      error: asset.error,
      timings:
        asset.download_ms === null || asset.publish_ms === null
          ? null
          : { downloadMs: asset.download_ms, publishMs: asset.publish_ms },
      url: null,
    })),
  };
}
