import type { Kind } from "../core/ids";
import type { ReceivedCallback, TaskUpdate } from "../providers/model";
import { mergeUpdate } from "./merge";
import type { MediaOutbox } from "./outbox";
import type { Reconciler } from "./reconciler";
import type { TaskRow, TaskRows } from "./rows";
import type { TaskUpdates } from "./updates";

export type ReceiveResult =
  | { outcome: "recorded"; duplicate: boolean; enqueued: number }
  | { outcome: "kind_conflict"; kind: Kind }
  /** Nothing was recorded: the task would have more than MAX_ASSETS_PER_TASK media files. */
  | { outcome: "too_many_assets"; total: number; limit: number }
  /** The task was deleted: the callback is answered 200 and ignored. */
  | { outcome: "deleted" };

/** Records callbacks: deduplicated by content hash, applied in stage order. */
export class CallbackIntake {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly updates: TaskUpdates,
    private readonly reconciler: Reconciler,
    private readonly outbox: MediaOutbox,
  ) {}

  /**
   * Records a callback and takes the send lease of every newly ready asset; the caller commits
   * that (with the alarm) and then sends the returned assets. A duplicate still re-drives
   * assets whose earlier enqueue failed: that is why providers retry.
   */
  record(
    callback: ReceivedCallback,
    now: number,
    maxAssets: number,
  ): { kind_conflict: Kind } | { too_many_assets: number } | { duplicate: boolean; due: string[] } {
    const existing = this.rows.task();
    if (existing && existing.kind !== callback.kind) return { kind_conflict: existing.kind };
    const duplicate =
      existing !== null &&
      this.sql.exec("SELECT 1 FROM callbacks WHERE hash = ?", callback.hash).toArray().length > 0;
    if (!duplicate) {
      // Checked before anything is written: a refused callback leaves no trace, not even a task.
      const total = this.assetCountAfter(existing, callback);
      if (total > maxAssets) return { too_many_assets: total };
    }
    const task =
      existing ??
      this.rows.ensureTask(callback.taskId, callback.kind, now, this.reconciler.firstPollAt(now)).task;
    if (duplicate) {
      this.sql.exec("UPDATE task SET duplicates = duplicates + 1, last_callback_at = ? WHERE id = 1", now);
      this.sql.exec("UPDATE callbacks SET duplicates = duplicates + 1 WHERE hash = ?", callback.hash);
      // The common duplicate changes nothing else: no lease to take.
      if (!this.outbox.hasDue(now)) return { duplicate, due: [] };
    } else {
      this.sql.exec(
        "INSERT INTO callbacks (hash, received_at, stage, code, message, raw) VALUES (?, ?, ?, ?, ?, ?)",
        callback.hash,
        now,
        callback.stage,
        callback.code,
        callback.message,
        callback.raw,
      );
      this.sql.exec(
        "UPDATE task SET first_callback_at = COALESCE(first_callback_at, ?), last_callback_at = ? WHERE id = 1",
        now,
        now,
      );
      // A new task has no assets to look up, and its polling clock was just started.
      const fresh = existing === null;
      this.updates.apply(callback, now, task, fresh);
      if (!fresh) this.reconciler.restart(now);
    }
    return { duplicate, due: this.outbox.lease(now) };
  }

  /** How many distinct media files the task would have once `update` is applied. */
  private assetCountAfter(task: TaskRow | null, update: TaskUpdate): number {
    const names = new Set(update.assets.map((asset) => asset.name));
    if (!task) return names.size;
    const known = this.rows.assets().map((asset) => asset.name);
    // An update of an older stage is not applied, so it adds nothing.
    if (mergeUpdate(task, update) === null) return known.length;
    for (const name of known) names.add(name);
    return names.size;
  }
}
