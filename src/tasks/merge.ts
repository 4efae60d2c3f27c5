import type { AssetSpec, Stage, TaskState, TaskUpdate, TrackInfo } from "../providers/model";
import type { AssetRow, TaskRow } from "./rows";

/**
 * Pure decisions of how an update (a callback or a poll result) changes a task: no storage here,
 * so unit tests call these directly.
 */

/**
 * Stages only move forward. `complete` outranks `error` so that a success that follows a
 * reported failure still archives its media; a late `error` never undoes a `complete`.
 */
export const STAGE_RANK: Record<Stage, number> = { text: 1, first: 2, error: 3, complete: 4 };

export const stateOfStage = (stage: Stage): TaskState =>
  stage === "complete" ? "succeeded" : stage === "error" ? "failed" : "in_progress";

/** The task's fields after `update`, or null when the update's stage is older than the task's. */
export interface TaskPatch {
  stage: Stage;
  state: TaskState;
  providerCode: number;
  providerMessage: string | null;
  separationType: string | null;
  tracks: TrackInfo[];
}

export function mergeUpdate(
  task: Pick<TaskRow, "stage" | "tracks" | "separation_type">,
  update: TaskUpdate,
): TaskPatch | null {
  const current = task.stage ? STAGE_RANK[task.stage] : 0;
  if (STAGE_RANK[update.stage] < current) return null;
  return {
    stage: update.stage,
    state: stateOfStage(update.stage),
    providerCode: update.code,
    providerMessage: update.message,
    separationType: update.separationType ?? task.separation_type,
    tracks: mergeTracks(JSON.parse(task.tracks) as TrackInfo[], update.tracks),
  };
}

/** Tracks by id; a later mention fills in fields but never blanks one that was known. */
export function mergeTracks(known: TrackInfo[], incoming: TrackInfo[]): TrackInfo[] {
  const byId = new Map(known.map((track) => [track.id, track]));
  for (const track of incoming) {
    const previous = byId.get(track.id);
    const merged: TrackInfo = { ...previous, ...track };
    if (previous) {
      for (const field of Object.keys(merged) as (keyof TrackInfo)[]) {
        if (merged[field] === null && previous[field] !== null)
          Object.assign(merged, { [field]: previous[field] });
      }
    }
    byId.set(track.id, merged);
  }
  return [...byId.values()];
}

/** How an asset's URL changes when a later update names another one. */
export interface UrlSwitch {
  url: string;
  /** Tried once if `url` fails permanently. */
  fallbackUrl: string | null;
  /**
   * What happens to the asset: `keep` its state (pending or queued: its message will claim the
   * new URL), `requeue` it (failed, or stored: archived again from the new URL), or `supersede`
   * the download in progress (its claim is dropped: its outcome for the old URL does not count,
   * and the asset is enqueued again).
   */
  effect: "keep" | "requeue" | "supersede";
}

/**
 * The latest authoritative stage wins: an update that ranks higher than the stage that set an
 * asset's URL and names a different URL replaces it (`complete` over `first`). Equal or lower
 * ranks change nothing, nor does a URL the asset is already on (its primary, or the `source_*`
 * twin it moved to). The earlier URL becomes the new one's fallback when the update brings no
 * twin of its own, unless it already failed for good.
 */
export function urlSwitch(
  asset: Pick<AssetRow, "url" | "fallback_url" | "using_fallback" | "url_rank" | "state">,
  spec: Pick<AssetSpec, "url" | "fallbackUrl">,
  rank: number,
): UrlSwitch | null {
  if (rank <= asset.url_rank) return null;
  const primary = asset.using_fallback ? asset.fallback_url : asset.url;
  if (spec.url === primary || spec.url === asset.url) return null;
  const earlier = asset.state === "failed" ? null : asset.url;
  const fallback = spec.fallbackUrl ?? earlier;
  return {
    url: spec.url,
    fallbackUrl: fallback === spec.url ? null : fallback,
    effect:
      asset.state === "failed" || asset.state === "stored"
        ? "requeue"
        : asset.state === "downloading"
          ? "supersede"
          : "keep",
  };
}
