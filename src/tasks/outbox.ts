import { log } from "../core/log";
import type { MediaJob } from "./media-job";
import type { TaskRows } from "./rows";

/** How long one send owns an asset's queue message; after that the watchdog sends it again. */
const ENQUEUE_LEASE_MS = 30 * 1000;
/** After a failed send, when the watchdog tries again. */
const SEND_RETRY_MS = 10 * 1000;
/** A `queued` asset untouched this long lost its message; the watchdog sends a new one. */
export const QUEUED_STALE_MS = 60 * 60 * 1000;
const SEND_BATCH_LIMIT = 100;

/**
 * The media queue's outbox. An asset is `pending` until its message is sent; a send lease
 * (`enqueue_until`) keeps concurrent deliveries of one callback from sending it twice, and a
 * failed send leaves it pending for the alarm to send again.
 */
export class MediaOutbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly queue: Queue<MediaJob>,
  ) {}

  /** Whether any pending asset's message is due to be sent now. */
  hasDue(now: number): boolean {
    return this.due(now).length > 0;
  }

  /**
   * Takes the send lease of every due asset and returns them; the caller sends them with `send`
   * once the lease is committed.
   */
  lease(now: number): string[] {
    const due = this.due(now);
    for (const name of due)
      this.sql.exec("UPDATE assets SET enqueue_until = ? WHERE name = ?", now + ENQUEUE_LEASE_MS, name);
    return due;
  }

  /**
   * Sends one message per leased asset (batches of SEND_BATCH_LIMIT), then marks them `queued`.
   * If a send fails, the leases are dropped, so a duplicate delivery of the callback re-drives
   * the assets at once, and the alarm does SEND_RETRY_MS later. Never throws; false if it failed.
   */
  async send(assets: string[]): Promise<boolean> {
    if (assets.length === 0) return true;
    const { task_id: taskId } = this.rows.requireTask();
    const mark = (sql: string, ...params: SqlStorageValue[]) => {
      for (const name of assets) this.sql.exec(sql, ...params, name);
    };
    try {
      for (let i = 0; i < assets.length; i += SEND_BATCH_LIMIT) {
        const jobs = assets.slice(i, i + SEND_BATCH_LIMIT).map((asset): MediaJob => ({ taskId, asset }));
        await this.queue.sendBatch(jobs.map((body) => ({ body, contentType: "json" })));
      }
    } catch (error) {
      log.error("enqueue_failed", { taskId, assets: assets.length, error });
      mark(
        "UPDATE assets SET enqueue_until = NULL, updated_at = ? WHERE name = ? AND state = 'pending'",
        Date.now(),
      );
      return false;
    }
    mark(
      `UPDATE assets SET messages_sent = messages_sent + 1, enqueue_until = NULL, queued_at = ?,
         state = CASE state WHEN 'pending' THEN 'queued' ELSE state END WHERE name = ?`,
      Date.now(),
    );
    return true;
  }

  /** Leases and sends every due asset (the alarm and the retry endpoint). */
  async flush(now: number): Promise<number> {
    const due = this.lease(now);
    await this.send(due);
    return due.length;
  }

  /** A queued asset whose message never came is pending again (sent by the next flush). */
  requeueLost(now: number): void {
    this.sql.exec(
      `UPDATE assets SET state = 'pending', enqueue_until = NULL, lease_until = NULL, updated_at = ?
        WHERE state = 'queued' AND queued_at <= ?`,
      now,
      now - QUEUED_STALE_MS,
    );
  }

  /** When a message is next due: a lease's end, a failed send's retry, a lost message. */
  nextWakeAt(): number | null {
    if (!this.rows.exists) return null;
    return this.sql
      .exec<{ next: number | null }>(
        `SELECT MIN(CASE state WHEN 'pending' THEN COALESCE(enqueue_until, updated_at + ?)
                               WHEN 'queued' THEN queued_at + ? END) AS next
           FROM assets WHERE state IN ('pending', 'queued')`,
        SEND_RETRY_MS,
        QUEUED_STALE_MS,
      )
      .one().next;
  }

  /** Pending assets whose queue message is not being sent right now. */
  private due(now: number): string[] {
    if (!this.rows.exists) return [];
    return this.sql
      .exec<{ name: string }>(
        `SELECT name FROM assets WHERE state = 'pending' AND (enqueue_until IS NULL OR enqueue_until <= ?)
           ORDER BY position`,
        now,
      )
      .toArray()
      .map((row) => row.name);
  }
}
