import type { TaskKind } from "../core/ids";
import { taskPrefixes } from "../core/keys";
import { log } from "../core/log";
import type { PendingWork } from "./pending-work";
import type { TaskRows } from "./rows";

/**
 * The prefix is listed once more at least this long after a deletion, for an R2 write that was
 * already on its way (a manifest), and in any case once every download lease has ended.
 */
const SETTLE_MS = 10_000;
/** After a failed listing or delete, when the alarm tries again. */
const PURGE_RETRY_MS = 10_000;
/** R2 deletes at most this many keys per call. */
const DELETE_BATCH = 1000;

type TombstoneRow = {
  id: 1;
  task_id: string;
  kind: TaskKind;
  deleted_at: number;
  /** R2 objects removed so far (by purges and late reports). */
  removed: number;
  /** Objects an in-flight download stored after the deletion, removed when it reported them. */
  late_removed: number;
  /** Until when a download that was in flight at the deletion may still write. */
  sweep_until: number;
  /** When the prefix is next listed and cleared; null once that ran after `sweep_until`. */
  next_purge_at: number | null;
  /** When a purge first completed; a DELETE after that is answered 410. */
  purged_at: number | null;
};

/** Owned by this capability alone; `IF NOT EXISTS` keeps it out of the shared migration list. */
const DDL = `CREATE TABLE IF NOT EXISTS tombstone (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  task_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  deleted_at INTEGER NOT NULL,
  removed INTEGER NOT NULL DEFAULT 0,
  late_removed INTEGER NOT NULL DEFAULT 0,
  sweep_until INTEGER NOT NULL,
  next_purge_at INTEGER,
  purged_at INTEGER
)`;

const hasTable = (sql: SqlStorage) =>
  sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tombstone'").toArray().length > 0;

/**
 * Deleting a task: a tombstone that outlives everything else the object held (callbacks,
 * assets, the task row), and the removal of every R2 object under the task's prefix. A download
 * in flight at the deletion cannot leave an object behind: its report finds the tombstone and
 * the object is deleted at once, and the prefix is listed again once its lease has ended.
 */
export class TaskDeletion implements PendingWork {
  /** Whether the tombstone exists; once it does, it never goes away. */
  private exists: boolean | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly bucket: R2Bucket,
  ) {}

  /** The task's tombstone, or null while it is not deleted. */
  tombstone(): { taskId: string; deletedAt: number } | null {
    const row = this.row();
    return row ? { taskId: row.task_id, deletedAt: row.deleted_at } : null;
  }

  get deleted(): boolean {
    // Asked on every call the object gets: the table lookup happens once per instance.
    this.exists ??= this.rows.exists && hasTable(this.sql) && this.row() !== null;
    return this.exists;
  }

  /** Whether a purge has completed: a further DELETE has nothing left to do. */
  get purged(): boolean {
    return this.row()?.purged_at != null;
  }

  get removed(): number {
    return this.row()?.removed ?? 0;
  }

  /**
   * Writes the tombstone and forgets the task (callbacks, assets, task row), synchronously, in
   * one transaction. False when there is no task to delete.
   */
  markDeleted(now: number): boolean {
    const task = this.rows.task();
    if (!task || this.deleted) return false;
    const leaseEnd = this.sql
      .exec<{ until: number | null }>(
        "SELECT MAX(lease_until) AS until FROM assets WHERE state = 'downloading'",
      )
      .one().until;
    this.sql.exec(DDL);
    this.sql.exec(
      `INSERT INTO tombstone (id, task_id, kind, deleted_at, sweep_until, next_purge_at)
         VALUES (1, ?, ?, ?, ?, ?)`,
      task.task_id,
      task.kind,
      now,
      Math.max(now + SETTLE_MS, leaseEnd ?? 0),
      now,
    );
    this.sql.exec("DELETE FROM callbacks");
    this.sql.exec("DELETE FROM assets");
    this.sql.exec("DELETE FROM bundle_layouts");
    this.sql.exec("DELETE FROM task");
    this.exists = true;
    return true;
  }

  /**
   * Lists the task's prefix and deletes everything in it; returns how many objects it removed.
   * A failure is kept for the alarm to retry and rethrown.
   */
  async purge(now: number): Promise<number> {
    const row = this.row();
    if (!row) return 0;
    let removed = 0;
    try {
      for (const prefix of taskPrefixes(row.kind, row.task_id)) {
        let cursor: string | undefined;
        do {
          const page = await this.bucket.list({ prefix, cursor, limit: DELETE_BATCH });
          const keys = page.objects.map((object) => object.key);
          if (keys.length > 0) {
            await this.bucket.delete(keys);
            removed += keys.length;
            this.sql.exec("UPDATE tombstone SET removed = removed + ? WHERE id = 1", keys.length);
          }
          cursor = page.truncated ? page.cursor : undefined;
        } while (cursor);
      }
    } catch (error) {
      log.error("task_purge_failed", { taskId: row.task_id, removed, error });
      this.sql.exec("UPDATE tombstone SET next_purge_at = ? WHERE id = 1", Date.now() + PURGE_RETRY_MS);
      throw error;
    }
    this.sql.exec(
      `UPDATE tombstone SET purged_at = COALESCE(purged_at, ?1),
         next_purge_at = CASE WHEN ?1 >= sweep_until THEN NULL ELSE sweep_until END WHERE id = 1`,
      now,
    );
    if (removed > 0) log.info("task_purged", { taskId: row.task_id, removed });
    return removed;
  }

  /** The alarm's part: the retry of a failed purge, and the sweep once the leases have ended. */
  async runDue(now: number): Promise<void> {
    const due = this.nextDueAt();
    if (due !== null && due <= now) await this.purge(now).catch(() => {});
  }

  /**
   * A download that was in flight when the task was deleted reported the object it stored:
   * it is deleted at once (only ever a key under the task's own prefix).
   */
  async removeLate(key: string): Promise<void> {
    const row = this.row();
    if (!row || !taskPrefixes(row.kind, row.task_id).some((prefix) => key.startsWith(prefix))) return;
    await this.bucket.delete(key);
    this.sql.exec("UPDATE tombstone SET removed = removed + 1, late_removed = late_removed + 1 WHERE id = 1");
    log.info("late_object_removed", { taskId: row.task_id, key });
  }

  nextDueAt(): number | null {
    return this.row()?.next_purge_at ?? null;
  }

  private row(): TombstoneRow | null {
    if (this.exists === false) return null;
    if (this.exists === undefined && !(this.rows.exists && hasTable(this.sql))) return null;
    return this.sql.exec<TombstoneRow>("SELECT * FROM tombstone WHERE id = 1").toArray()[0] ?? null;
  }
}
