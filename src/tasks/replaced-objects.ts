import { log } from "../core/log";
import type { PendingWork } from "./pending-work";
import type { TaskRows } from "./rows";

/** After a failed delete, when the alarm tries again. */
const RETRY_MS = 30 * 1000;

/**
 * R2 objects that a re-archive from a newer URL replaced under another key (the new file has
 * another extension). The key is recorded in the same transaction as the new object, then
 * deleted; a delete that fails, or never ran because the object stopped, is retried by the alarm.
 */
export class ReplacedObjects implements PendingWork {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly bucket: R2Bucket,
  ) {}

  /** Synchronous, so that it joins the transaction of the change that replaced the object. */
  add(key: string, now: number): void {
    this.sql.exec("INSERT OR IGNORE INTO replaced_objects (key, due_at) VALUES (?, ?)", key, now);
  }

  readonly dueQuery = "SELECT MIN(due_at) AS next FROM replaced_objects";

  nextDueAt(): number | null {
    if (!this.rows.exists) return null;
    return this.sql.exec<{ next: number | null }>(this.dueQuery).one().next;
  }

  async runDue(now: number): Promise<void> {
    if (!this.rows.exists) return;
    const due = this.sql
      .exec<{ key: string }>("SELECT key FROM replaced_objects WHERE due_at <= ?", now)
      .toArray();
    for (const { key } of due) {
      try {
        await this.bucket.delete(key);
        this.sql.exec("DELETE FROM replaced_objects WHERE key = ?", key);
      } catch (error) {
        log.error("replaced_object_not_deleted", { taskId: this.rows.task()?.task_id, key, error });
        this.sql.exec(
          "UPDATE replaced_objects SET due_at = ?, attempts = attempts + 1 WHERE key = ?",
          Date.now() + RETRY_MS,
          key,
        );
      }
    }
  }
}
