import type { TaskKind } from "../core/ids";
import type { ReceivedCallback, TaskUpdate } from "../providers/model";
import { mergeUpdate } from "./merge";
import type { MediaOutbox } from "./outbox";
import type { Reconciler } from "./reconciler";
import type { TaskRow, TaskRows } from "./rows";
import type { TaskUpdates } from "./updates";

export type ReceiveResult =
  | { outcome: "recorded"; duplicate: boolean; enqueued: number }
  | { outcome: "kind_conflict"; kind: TaskKind }
  /** Nothing was recorded: the task would have more than MAX_ASSETS_PER_TASK media files. */
  | { outcome: "too_many_assets"; total: number; limit: number }
  /** The task was deleted: the callback is answered 200 and ignored. */
  | { outcome: "deleted" };

/**
 * The kind a task takes from a recognised update, or null when they conflict. A task still
 * `unknown` takes the update's kind; an update of kind `unknown` (a failure that does not say)
 * and one that also fits the task's kind (`alsoKind`) take the task's.
 */
export function kindAfter(task: TaskKind | undefined, update: Pick<TaskUpdate, "kind" | "alsoKind">) {
  if (task === undefined || task === "unknown") return update.kind;
  if (update.kind === "unknown" || update.kind === task || update.alsoKind === task) return task;
  return null;
}

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
   * assets whose earlier enqueue failed: that is why providers retry. A callback of a shape
   * stemvault does not know is kept raw and its salvaged URLs become assets (as many as the
   * task has room for: it is never refused).
   */
  record(
    callback: ReceivedCallback,
    now: number,
    maxAssets: number,
  ): { kind_conflict: TaskKind } | { too_many_assets: number } | { duplicate: boolean; due: string[] } {
    const existing = this.rows.task();
    const kind = callback.recognized ? kindAfter(existing?.kind, callback) : (existing?.kind ?? "unknown");
    if (kind === null) return { kind_conflict: existing?.kind ?? "unknown" };
    const duplicate =
      existing !== null &&
      this.sql.exec("SELECT 1 FROM callbacks WHERE hash = ?", callback.hash).toArray().length > 0;
    if (!duplicate && callback.recognized) {
      // Checked before anything is written: a refused callback leaves no trace, not even a task.
      const total = this.assetCountAfter(existing, callback);
      if (total > maxAssets) return { too_many_assets: total };
    }
    const task =
      existing ?? this.rows.ensureTask(callback.taskId, kind, now, this.reconciler.firstPollAt(now)).task;
    if (duplicate) {
      this.sql.exec("UPDATE task SET duplicates = duplicates + 1, last_callback_at = ? WHERE id = 1", now);
      this.sql.exec("UPDATE callbacks SET duplicates = duplicates + 1 WHERE hash = ?", callback.hash);
      // The common duplicate changes nothing else: no lease to take.
      if (!this.outbox.hasDue(now)) return { duplicate, due: [] };
    } else {
      this.sql.exec(
        `INSERT INTO callbacks (hash, received_at, stage, code, message, raw, recognized, route)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        callback.hash,
        now,
        callback.recognized ? callback.stage : "unrecognized",
        callback.recognized ? callback.code : 0,
        callback.recognized ? callback.message : null,
        callback.raw,
        callback.recognized ? 1 : 0,
        callback.route,
      );
      this.sql.exec(
        "UPDATE task SET first_callback_at = COALESCE(first_callback_at, ?), last_callback_at = ? WHERE id = 1",
        now,
        now,
      );
      // A new task has no assets to look up, and its polling clock was just started.
      const fresh = existing === null;
      if (callback.recognized) this.updates.apply({ ...callback, kind }, now, task, fresh);
      else this.updates.salvage(callback.assets, maxAssets, now);
      if (!fresh) this.reconciler.restart(now);
    }
    return { duplicate, due: this.outbox.lease(now) };
  }

  /**
   * Adds duplicates answered without a round trip (see DuplicateTally) to the counts, as many
   * as `record` would have, and takes the send lease of any asset whose queue send is overdue,
   * as a duplicate always does. A hash the task does not hold is not counted.
   */
  countDuplicates(counts: { hash: string; count: number }[], lastAt: number, now: number): string[] {
    if (!this.rows.task()) return [];
    let total = 0;
    for (const { hash, count } of counts) {
      const written = this.sql.exec(
        "UPDATE callbacks SET duplicates = duplicates + ? WHERE hash = ?",
        count,
        hash,
      ).rowsWritten;
      if (written > 0) total += count;
    }
    if (total === 0) return [];
    this.sql.exec(
      "UPDATE task SET duplicates = duplicates + ?, last_callback_at = MAX(COALESCE(last_callback_at, 0), ?) WHERE id = 1",
      total,
      lastAt,
    );
    return this.outbox.hasDue(now) ? this.outbox.lease(now) : [];
  }

  /**
   * Parses the task's unrecognised callbacks again (`parse`, the current version's parser) and
   * applies each one it now knows as if it had just arrived (in the order they arrived). One
   * that still is not known, conflicts with the task's kind or would exceed MAX_ASSETS_PER_TASK
   * stays as it is. Returns how many were recognised.
   */
  reparse(
    parse: (raw: string, route: string | null) => TaskUpdate | null,
    maxAssets: number,
    now: number,
  ): number {
    let recognized = 0;
    const kept = this.sql
      .exec<{ hash: string; raw: string; route: string | null }>(
        "SELECT hash, raw, route FROM callbacks WHERE recognized = 0 ORDER BY received_at, hash",
      )
      .toArray();
    for (const row of kept) {
      const update = parse(row.raw, row.route);
      const task = this.rows.task();
      if (!update || !task) continue;
      const kind = kindAfter(task.kind, update);
      if (kind === null || this.assetCountAfter(task, update) > maxAssets) continue;
      this.sql.exec(
        "UPDATE callbacks SET recognized = 1, stage = ?, code = ?, message = ? WHERE hash = ?",
        update.stage,
        update.code,
        update.message,
        row.hash,
      );
      this.updates.apply({ ...update, kind }, now);
      recognized++;
    }
    if (recognized > 0) this.reconciler.restart(now);
    return recognized;
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
