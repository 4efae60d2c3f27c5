import type { Config } from "../core/config";
import { log } from "../core/log";
import type { EventJob, EventType } from "./event-job";
import { MAX_ATTEMPTS } from "./event-schedule";
import { type EventStatus, eventStatus } from "./event-status";
import type { PendingWork } from "./pending-work";
import type { EventRow, TaskRow, TaskRows } from "./rows";
import type { TaskStatus } from "./status";

/** How long one send owns an event's queue message; after that the alarm sends it again. */
const SEND_LEASE_MS = 30 * 1000;
/** After a failed send, when the alarm tries again. */
const SEND_RETRY_MS = 10 * 1000;
/**
 * How late an attempt may be before the event's message counts as lost and a new one is sent:
 * a minute after it was due, doubling with every message already sent (up to an hour), as for
 * media messages. A stale message that turns up after all is recognised and skipped.
 */
const MESSAGE_GRACE_MS = 60 * 1000;
const MAX_MESSAGE_GRACE_MS = 60 * 60 * 1000;
const MESSAGE_LOST_AT = `MAX(COALESCE(next_attempt_at, updated_at), COALESCE(attempt_until, 0)) +
  MIN(${MESSAGE_GRACE_MS} << MIN(MAX(messages_sent - 1, 0), 6), ${MAX_MESSAGE_GRACE_MS})`;
const SEND_BATCH_LIMIT = 100;
/** `event_mark` of the tasks that existed when the events table was added (see rows.ts). */
const BEFORE_EVENTS = "before-events";

/** The settlement an event is recorded for, or null while the task is not settled. */
export function settlementOf(
  task: Pick<TaskRow, "state" | "stage">,
  counts: { total: number; stored: number; failed: number },
): { type: EventType; mark: string } | null {
  const finished = task.state === "succeeded" || task.state === "failed";
  if (!finished || counts.stored + counts.failed < counts.total) return null;
  const type: EventType = task.state === "failed" || counts.failed > 0 ? "task.failed" : "task.archived";
  return { type, mark: `${type}:${task.stage}:${counts.total}:${counts.stored}:${counts.failed}` };
}

/**
 * Outbound events (Standard Webhooks, delivered by src/events/ through `stemvault-events`).
 *
 * When a task settles — finished at the provider (or given up by polling) and every asset
 * stored or failed, including a failure with no assets at all — one event is recorded in the
 * same SQLite transaction as the change that settled it: `observe` runs synchronously right after
 * every change. `task.event_mark` remembers which settlement has its event, so the same settlement
 * never gets a second one, and is cleared as soon as the task is unsettled again (a retry), so
 * that settling again records a new event with a new id.
 *
 * The `events` table is also the events' outbox, like the media outbox: a new event is leased for
 * sending in the same transaction, sent after it, and marked sent; a failed send, or a message
 * that is overdue (lost), is sent again by the alarm. Every attempt the consumer makes is
 * reported to `EventAttempts` (event-attempts.ts), and only the newest message of a still pending
 * event may make one.
 */
export class TaskEvents implements PendingWork {
  /** Events leased in this instance's current change, sent by `sendLeased` once it is committed. */
  private leased: string[] = [];

  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly queue: Queue<EventJob>,
    private readonly cfg: () => Config,
    private readonly status: () => TaskStatus,
  ) {}

  /**
   * Records the event of a settlement that has none yet (only when events are on or
   * misconfigured: with EVENTS_URL empty nothing is recorded, but the mark is kept, so turning
   * events on later does not announce old settlements). Synchronous, so that it joins the
   * transaction of the change. True when an event was recorded (and leased for sending).
   */
  observe(now: number): boolean {
    const task = this.rows.task();
    if (!task) return false;
    const settlement = settlementOf(task, this.rows.assetCounts());
    if (task.event_mark === BEFORE_EVENTS) {
      // A task from before events existed: its current settlement is never announced.
      this.sql.exec("UPDATE task SET event_mark = ? WHERE id = 1", settlement?.mark ?? null);
      return false;
    }
    if (!settlement) {
      if (task.event_mark !== null) this.sql.exec("UPDATE task SET event_mark = NULL WHERE id = 1");
      return false;
    }
    if (task.event_mark === settlement.mark) return false;
    this.sql.exec("UPDATE task SET event_mark = ? WHERE id = 1", settlement.mark);
    if (this.cfg().events.state === "off") return false;
    this.record(task, settlement.type, now);
    return true;
  }

  /**
   * A callback of a shape stemvault does not know was recorded: the user's backend hears of it
   * (`callback.unrecognized`, with the status JSON, which holds the raw body). Synchronous, in
   * the transaction that recorded the callback. True when an event was recorded.
   */
  observeUnrecognized(now: number): boolean {
    const task = this.rows.task();
    if (!task || this.cfg().events.state === "off") return false;
    this.record(task, "callback.unrecognized", now);
    return true;
  }

  private record(task: TaskRow, type: EventType, now: number): void {
    const { events: _, ...data } = this.status();
    const id = `evt_${crypto.randomUUID().replaceAll("-", "")}`;
    this.sql.exec(
      `INSERT INTO events (id, type, data, state, created_at, updated_at, send_until)
         VALUES (?, ?, ?, 'pending', ?, ?, ?)`,
      id,
      type,
      JSON.stringify(data),
      now,
      now,
      now + SEND_LEASE_MS,
    );
    this.leased.push(id);
    log.info("event_recorded", { taskId: task.task_id, eventId: id, type });
  }

  /** Remembers where the task's callbacks arrive (the base of links in its events). */
  noteOrigin(origin: string | undefined, onlyIfUnknown = false): void {
    if (!origin) return;
    this.sql.exec(
      `UPDATE task SET callback_origin = ? WHERE id = 1 AND callback_origin IS NOT ?
         AND (? = 0 OR callback_origin IS NULL)`,
      origin,
      origin,
      onlyIfUnknown ? 1 : 0,
    );
  }

  /** Sends what this change leased (after it was committed); false when there was nothing. Never throws. */
  async sendLeased(): Promise<boolean> {
    const ids = this.leased.splice(0);
    if (ids.length > 0) await this.send(ids);
    return ids.length > 0;
  }

  list(): EventStatus[] {
    if (!this.rows.exists) return [];
    return this.sql
      .exec<EventRow>("SELECT * FROM events ORDER BY created_at, rowid")
      .toArray()
      .map(eventStatus);
  }

  /**
   * `POST /tasks/:taskId/events/:eventId/redeliver`: the same event (same id and payload) gets a
   * new message, whatever its state; older messages become stale. False for an unknown event.
   */
  async redeliver(eventId: string, now: number): Promise<EventStatus | null> {
    if (!this.row(eventId)) return null;
    this.sql.exec(
      `UPDATE events SET state = 'pending', delivered_at = NULL, sent = 0, next_attempt_at = NULL,
         attempt_until = NULL, message_attempts = 0, updated_at = ? WHERE id = ?`,
      now,
      eventId,
    );
    await this.flush(now);
    const row = this.row(eventId);
    return row ? eventStatus(row) : null;
  }

  /** When an unsent message is due, or a sent one is overdue. */
  readonly dueQuery = `SELECT MIN(CASE sent WHEN 0 THEN COALESCE(send_until, updated_at + ${SEND_RETRY_MS})
      ELSE ${MESSAGE_LOST_AT} END) AS next FROM events WHERE state = 'pending'`;

  nextDueAt(): number | null {
    if (!this.rows.exists) return null;
    return this.sql.exec<{ next: number | null }>(this.dueQuery).one().next;
  }

  /**
   * The alarm: records a settlement's event if a change's own `observe` did not get to (a safety
   * net), fails an event whose last attempt was the final one but whose dead letter never came,
   * marks an overdue message as lost, and sends every message that is due.
   */
  async runDue(now: number): Promise<void> {
    this.observe(now);
    const overdue = this.sql
      .exec<EventRow>(
        `SELECT * FROM events WHERE state = 'pending' AND sent = 1 AND ${MESSAGE_LOST_AT} <= ?`,
        now,
      )
      .toArray();
    for (const row of overdue) {
      if (row.message_attempts >= MAX_ATTEMPTS) {
        exhaustEvent(this.sql, row, now);
      } else {
        log.warn("event_message_overdue", { eventId: row.id, messages: row.messages_sent });
        this.sql.exec(
          "UPDATE events SET sent = 0, send_until = NULL, attempt_until = NULL, updated_at = ? WHERE id = ?",
          now,
          row.id,
        );
      }
    }
    await this.sendLeased();
    await this.flush(now);
  }

  /** Leases and sends every event whose message is due. */
  private async flush(now: number): Promise<void> {
    if (!this.rows.exists) return;
    const due = this.sql
      .exec<{ id: string }>(
        `SELECT id FROM events WHERE state = 'pending' AND sent = 0 AND (send_until IS NULL OR send_until <= ?)
          ORDER BY created_at`,
        now,
      )
      .toArray()
      .map((row) => row.id);
    for (const id of due)
      this.sql.exec("UPDATE events SET send_until = ? WHERE id = ?", now + SEND_LEASE_MS, id);
    if (due.length > 0) await this.send(due);
  }

  /**
   * Sends one message per leased event, numbered one past the event's last message, then marks
   * them sent. A failed send drops the leases for the alarm to send again SEND_RETRY_MS later.
   */
  private async send(ids: string[]): Promise<boolean> {
    const { task_id: taskId } = this.rows.requireTask();
    const jobs = ids.flatMap((eventId): EventJob[] => {
      const row = this.row(eventId);
      return row ? [{ taskId, eventId, message: row.messages_sent + 1 }] : [];
    });
    try {
      for (let i = 0; i < jobs.length; i += SEND_BATCH_LIMIT) {
        const batch = jobs.slice(i, i + SEND_BATCH_LIMIT);
        await this.queue.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
      }
    } catch (error) {
      log.error("event_enqueue_failed", { taskId, events: jobs.length, error });
      for (const job of jobs) {
        this.sql.exec(
          "UPDATE events SET send_until = NULL, updated_at = ? WHERE id = ? AND sent = 0",
          Date.now(),
          job.eventId,
        );
      }
      return false;
    }
    const now = Date.now();
    for (const job of jobs) {
      this.sql.exec(
        `UPDATE events SET sent = 1, send_until = NULL, messages_sent = ?, next_attempt_at = ?,
           message_attempts = 0, updated_at = ? WHERE id = ? AND messages_sent < ?`,
        job.message,
        now,
        now,
        job.eventId,
        job.message,
      );
    }
    return true;
  }

  private row(eventId: string): EventRow | null {
    return eventRow(this.sql, this.rows, eventId);
  }
}

export function eventRow(sql: SqlStorage, rows: TaskRows, eventId: string): EventRow | null {
  if (!rows.exists) return null;
  return sql.exec<EventRow>("SELECT * FROM events WHERE id = ?", eventId).toArray()[0] ?? null;
}

/** The event's retries are exhausted: it failed, with its last error. */
export function exhaustEvent(sql: SqlStorage, row: EventRow, now: number): void {
  sql.exec(
    `UPDATE events SET state = 'failed', attempt_until = NULL, next_attempt_at = NULL, updated_at = ?,
       last_error = ? WHERE id = ?`,
    now,
    `retries exhausted after ${row.attempts} attempts: ${row.last_error ?? "no error recorded"}`,
    row.id,
  );
  log.warn("event_failed", { eventId: row.id, reason: "retries exhausted" });
}
