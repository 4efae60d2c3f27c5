import type { AttemptReport, EventAttempt } from "./event-job";
import { eventRow, exhaustEvent } from "./events";
import type { TaskRows } from "./rows";

/** One attempt: the 15 s request, signing and reporting back. Another waits this long. */
const ATTEMPT_LEASE_MS = 30 * 1000;

/**
 * The delivery side of the `events` table (TaskEvents, events.ts, records and sends them): the
 * events consumer asks before each attempt and reports after it. Only the newest message of a
 * still pending event may attempt, one attempt at a time under a lease; a stale report still
 * counts the attempt but no longer decides the event's state.
 */
export class EventAttempts {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
  ) {}

  /**
   * The consumer asks before each attempt. Only the event's newest message may attempt, only
   * while the event is pending, and only one attempt at a time (a lease).
   */
  beginAttempt(eventId: string, message: number, now: number): EventAttempt {
    const task = this.rows.task();
    const row = eventRow(this.sql, this.rows, eventId);
    if (!task || !row) return { status: "skip", reason: "unknown event" };
    if (message < row.messages_sent) return { status: "skip", reason: "superseded by a newer message" };
    if (message > row.messages_sent) {
      // A send whose success was never recorded (the object stopped mid-send): it is the newest.
      this.sql.exec(
        "UPDATE events SET messages_sent = ?, sent = 1, send_until = NULL WHERE id = ?",
        message,
        eventId,
      );
    }
    if (row.state !== "pending") return { status: "skip", reason: `already ${row.state}` };
    if (row.attempt_until !== null && row.attempt_until > now) {
      return { status: "busy", retryAfterMs: row.attempt_until - now };
    }
    this.sql.exec(
      "UPDATE events SET attempt_until = ?, updated_at = ? WHERE id = ?",
      now + ATTEMPT_LEASE_MS,
      now,
      eventId,
    );
    return {
      status: "attempt",
      taskId: task.task_id,
      event: { id: row.id, type: row.type, createdAt: row.created_at, data: row.data },
      origin: task.callback_origin,
    };
  }

  /**
   * Records an attempt. A report under a message that has since been replaced (a redelivery)
   * still counts the attempt, but no longer decides the event's state.
   */
  attempted(eventId: string, message: number, report: AttemptReport, now: number): void {
    const row = eventRow(this.sql, this.rows, eventId);
    if (!row) return;
    this.sql.exec(
      "UPDATE events SET attempts = attempts + 1, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?",
      report.status,
      report.outcome === "delivered" ? null : report.error,
      now,
      eventId,
    );
    if (message < row.messages_sent || row.state !== "pending") return;
    if (report.outcome === "delivered") {
      this.sql.exec(
        `UPDATE events SET state = 'delivered', delivered_at = ?, attempt_until = NULL, next_attempt_at = NULL,
           message_attempts = ? WHERE id = ?`,
        now,
        report.messageAttempts,
        eventId,
      );
    } else if (report.outcome === "failed") {
      this.sql.exec(
        `UPDATE events SET state = 'failed', attempt_until = NULL, next_attempt_at = NULL, message_attempts = ?
          WHERE id = ?`,
        report.messageAttempts,
        eventId,
      );
    } else {
      this.sql.exec(
        "UPDATE events SET attempt_until = NULL, next_attempt_at = ?, message_attempts = ? WHERE id = ?",
        now + (report.retryInMs ?? 0),
        report.messageAttempts,
        eventId,
      );
    }
  }

  /** The message exhausted its retries (the dead-letter queue): the event failed, with the last error. */
  deadLettered(eventId: string, message: number, now: number): void {
    const row = eventRow(this.sql, this.rows, eventId);
    if (!row || message < row.messages_sent || row.state !== "pending") return;
    exhaustEvent(this.sql, row, now);
  }
}
