import { log } from "../core/log";
import type { MediaJob } from "./media-job";
import type { PendingWork } from "./pending-work";
import type { TaskRows } from "./rows";

/**
 * How long one send owns an asset's queue message; after that the alarm sends it again. A
 * callback is answered before its messages are sent, so this is also how soon the alarm sends
 * them should the object die right after the answer.
 */
const ENQUEUE_LEASE_MS = 10 * 1000;
/** After a failed send, when the watchdog tries again. */
const SEND_RETRY_MS = 10 * 1000;
/**
 * How late a queued asset's message may be before the alarm sends another: a minute after it
 * was due, doubling with every message already sent for the asset (up to an hour), so that a
 * queue that is merely slow — a backlog — gets a handful of redundant messages at most. Claims
 * are exactly-once, so a redundant message is harmless.
 */
export const MESSAGE_GRACE_MS = 60 * 1000;
const MAX_MESSAGE_GRACE_MS = 60 * 60 * 1000;
/** When a queued asset's message counts as lost (SQL over an `assets` row). */
const MESSAGE_LOST_AT = `COALESCE(message_due_at, queued_at) +
  MIN(${MESSAGE_GRACE_MS} << MIN(MAX(messages_sent - 1, 0), 6), ${MAX_MESSAGE_GRACE_MS})`;
const SEND_BATCH_LIMIT = 100;
/** A pending asset whose message is not being sent right now (one parameter: now). */
const DUE_NOW = "state = 'pending' AND (enqueue_until IS NULL OR enqueue_until <= ?)";

/**
 * The media queue's outbox. An asset is `pending` until its message is sent; a send lease
 * (`enqueue_until`) keeps concurrent deliveries of one callback from sending it twice, and a
 * failed send leaves it pending for the alarm to send again.
 */
export class MediaOutbox implements PendingWork {
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
   * Takes the send lease of every due asset and returns them, in payload order; the caller sends
   * them with `send` once the lease is committed. A task with nothing due (most callbacks of a
   * task without files) costs one read and no write.
   */
  lease(now: number): string[] {
    const due = this.due(now);
    if (due.length > 0) {
      this.sql.exec(`UPDATE assets SET enqueue_until = ? WHERE ${DUE_NOW}`, now + ENQUEUE_LEASE_MS, now);
    }
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
    const now = Date.now();
    mark(
      `UPDATE assets SET messages_sent = messages_sent + 1, enqueue_until = NULL, queued_at = ?,
         message_due_at = CASE state WHEN 'pending' THEN ? ELSE message_due_at END,
         state = CASE state WHEN 'pending' THEN 'queued' ELSE state END WHERE name = ?`,
      now,
      now,
    );
    return true;
  }

  /** Leases and sends every due asset (the alarm and the retry endpoint). */
  async flush(now: number): Promise<number> {
    const due = this.lease(now);
    await this.send(due);
    return due.length;
  }

  /** A queued asset whose message is overdue is pending again; then every due message is sent. */
  async runDue(now: number): Promise<void> {
    this.sql.exec(
      `UPDATE assets SET state = 'pending', enqueue_until = NULL, updated_at = ?
        WHERE state = 'queued' AND ${MESSAGE_LOST_AT} <= ?`,
      now,
      now,
    );
    await this.flush(now);
  }

  /** When a message is next due: a send lease's end, a failed send's retry, a late message. */
  readonly dueQuery =
    `SELECT MIN(CASE state WHEN 'pending' THEN COALESCE(enqueue_until, updated_at + ${SEND_RETRY_MS})
      WHEN 'queued' THEN ${MESSAGE_LOST_AT} END) AS next FROM assets WHERE state IN ('pending', 'queued')`;

  nextDueAt(): number | null {
    if (!this.rows.exists) return null;
    return this.sql.exec<{ next: number | null }>(this.dueQuery).one().next;
  }

  /** Pending assets whose queue message is not being sent right now. */
  private due(now: number): string[] {
    if (!this.rows.exists) return [];
    return this.sql
      .exec<{ name: string }>(`SELECT name FROM assets WHERE ${DUE_NOW} ORDER BY position`, now)
      .toArray()
      .map((row) => row.name);
  }
}
