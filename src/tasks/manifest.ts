import { manifestKey } from "../core/keys";
import { log } from "../core/log";
import type { PendingWork } from "./pending-work";
import type { AssetCounts, TaskRows } from "./rows";
import { archiveState, type TaskStatus } from "./status";

/** After a failed manifest write, when the alarm tries again. */
const MANIFEST_RETRY_MS = 30 * 1000;

/**
 * `<kind>/<taskId>/manifest.json`: the status JSON, written whenever the task reaches a new
 * settled state (archived or failed). A failed write is retried by the alarm.
 */
export class ManifestWriter implements PendingWork {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly bucket: R2Bucket,
    private readonly status: () => TaskStatus,
  ) {}

  /**
   * Writes the manifest if the task settled into a state it was not yet written for; false when
   * none was due (nothing changed).
   */
  async writeIfDue(): Promise<boolean> {
    const version = this.dueVersion();
    if (version === null) return false;
    const task = this.rows.requireTask();
    try {
      await this.bucket.put(manifestKey(task.kind, task.task_id), JSON.stringify(this.status(), null, 2), {
        httpMetadata: { contentType: "application/json" },
      });
      this.sql.exec("UPDATE task SET manifest_version = ?, manifest_failed_at = NULL WHERE id = 1", version);
    } catch (error) {
      // The task's state is already durable; the alarm writes the manifest later.
      log.error("manifest_write_failed", { taskId: task.task_id, error });
      this.sql.exec("UPDATE task SET manifest_failed_at = ? WHERE id = 1", Date.now());
    }
    return true;
  }

  async runDue(): Promise<void> {
    await this.writeIfDue();
  }

  /** When a failed write is tried again. */
  nextDueAt(): number | null {
    if (!this.rows.exists) return null;
    // Asked with every change: one column, and the rest only after a failed write.
    const failedAt = this.sql
      .exec<{ failed_at: number | null }>("SELECT manifest_failed_at AS failed_at FROM task WHERE id = 1")
      .toArray()[0]?.failed_at;
    if (!failedAt || this.dueVersion() === null) return null;
    return failedAt + MANIFEST_RETRY_MS;
  }

  /** The settled state the manifest must describe, or null when it is up to date. */
  private dueVersion(): string | null {
    const task = this.rows.task();
    if (!task) return null;
    // One aggregate query decides; the full status is built only when a manifest is written.
    const counts = this.sql
      .exec<AssetCounts & { changed: number }>(
        `SELECT COUNT(*) AS total, COALESCE(SUM(state = 'stored'), 0) AS stored,
           COALESCE(SUM(state = 'failed'), 0) AS failed, COALESCE(MAX(updated_at), 0) AS changed FROM assets`,
      )
      .one();
    const state = archiveState(task, counts);
    // The last asset change is part of it: a file archived again (a newer URL) is a new manifest.
    const version = `${task.stage}:${counts.total}:${counts.stored}:${state}:${counts.changed}`;
    // Settled: every file archived or failed — or a finished task that has no file at all (a
    // provider failure before any media), whose manifest is its status.
    const finished = task.state === "succeeded" || task.state === "failed";
    const settled = state === "archived" || state === "failed" || (state === "none" && finished);
    return settled && task.manifest_version !== version ? version : null;
  }
}
