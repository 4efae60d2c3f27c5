import type { TaskKind } from "../core/ids";
import type { AssetRole, AssetState, Stage, TaskState, Via } from "../providers/model";
import { createSchema, hasSchema, migrate } from "./schema";

/**
 * The task object's SQLite rows: typed once, and the one place that reads them (`TaskRows`). The
 * DDL that creates them, and the migrations of older objects, are in schema.ts.
 */

export type TaskRow = {
  id: 1;
  task_id: string;
  kind: TaskKind;
  state: TaskState;
  stage: Stage | null;
  provider_code: number | null;
  provider_message: string | null;
  separation_type: string | null;
  tracks: string;
  duplicates: number;
  created_at: number;
  updated_at: number | null;
  first_callback_at: number | null;
  last_callback_at: number | null;
  manifest_version: string | null;
  /** When the last manifest write failed; it is tried again MANIFEST_RETRY_MS later. */
  manifest_failed_at: number | null;
  next_poll_at: number | null;
  poll_attempts: number;
  poll_started_at: number | null;
  last_poll_at: number | null;
  last_poll_status: string | null;
  poll_error: string | null;
  /** The origin (scheme://host) the task's latest callback arrived at: the base of links in events. */
  callback_origin: string | null;
  /** The settlement the latest event was recorded for (see events.ts); null while unsettled. */
  event_mark: string | null;
  /** How the task became known: its first callback, `POST /tasks`, or a submission. */
  via: TaskVia;
  /** A submitted task's request (its non-secret fields), as JSON; null otherwise. */
  request: string | null;
  /** JSON of the TaskResults of a lyrics or MIDI task (texts, MIDI summary); null otherwise. */
  results: string | null;
};

export type TaskVia = "callback" | "register" | "submit";

export type AssetRow = {
  name: string;
  role: AssetRole;
  url: string;
  fallback_url: string | null;
  using_fallback: number;
  via: Via;
  state: AssetState;
  key: string | null;
  bytes: number | null;
  sha256: string | null;
  /** CRC-32 of the stored file (for the bundle's ZIP); null for a file stored before it was recorded. */
  crc32: number | null;
  content_type: string | null;
  attempts: number;
  /** Queue messages sent for this asset: 1 unless a retry or the watchdog re-drove it. */
  messages_sent: number;
  error: string | null;
  /** While `downloading`: when the lease ends unless its consumer renews it (a heartbeat). */
  lease_until: number | null;
  /** The current claim; a report or renewal under any other claim id is stale. */
  claim_id: string | null;
  enqueue_until: number | null;
  queued_at: number | null;
  /** While `queued`: when its message should arrive (the send, or the consumer's retry delay). */
  message_due_at: number | null;
  position: number;
  /** 1 once the provider's record-info listed this URL (confirmation mode). */
  confirmed: number;
  download_ms: number | null;
  publish_ms: number | null;
  created_at: number;
  updated_at: number;
  /** STAGE_RANK of the update that set `url`: only a higher-ranked one may replace it. */
  url_rank: number;
  /** A file stemvault makes (lyrics, MIDI): the JSON it is rendered from; null for a download. */
  content: string | null;
};

export type CallbackRow = {
  hash: string;
  received_at: number;
  /** `unrecognized` while `recognized` is 0. */
  stage: Stage | "unrecognized";
  code: number;
  message: string | null;
  /** Further deliveries of this same content. */
  duplicates: number;
  raw: string;
  /** 0: a shape stemvault did not know when it arrived (kept raw; a retry parses it again). */
  recognized: number;
  /** The path it was posted to; null for callbacks recorded before routes were kept. */
  route: string | null;
};

/** One outbound event of the task (see events.ts): its payload, its delivery and its outbox. */
export type EventRow = {
  id: string;
  type: "task.archived" | "task.failed" | "callback.unrecognized";
  /** The status JSON when the task settled, as JSON (links are added, signed, at each attempt). */
  data: string;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
  /** Queue messages sent for this event; a message carrying an older number is stale. */
  messages_sent: number;
  /** While its message is being sent: when that send's lease ends. */
  send_until: number | null;
  /** Whether the current message was sent (0: it is still to be sent). */
  sent: number;
  /** When the next attempt is due (the consumer's backoff); overdue by a grace means lost. */
  next_attempt_at: number | null;
  /** While an attempt runs: when its lease ends. */
  attempt_until: number | null;
  /** Queue deliveries of the current message so far, as the consumer reported them. */
  message_attempts: number;
  updated_at: number;
};

/** How many assets a task has, and how many of them are stored and failed. */
export type AssetCounts = { total: number; stored: number; failed: number };

/** Typed reads of the task's rows. A fresh object has no tables until it first records something. */
export class TaskRows {
  /** Whether this object has ever recorded anything (and so has its tables). */
  exists: boolean;

  constructor(private readonly sql: SqlStorage) {
    // Reads of an unknown task must not create it, so a fresh object gets its schema only when
    // it first records something (ensureTask); existing objects are brought up to date here.
    this.exists = hasSchema(sql);
    if (this.exists) migrate(sql);
  }

  task(): TaskRow | null {
    if (!this.exists) return null;
    return this.sql.exec<TaskRow>("SELECT * FROM task WHERE id = 1").toArray()[0] ?? null;
  }

  /** The task row, for code that only runs once the task exists. */
  requireTask(): TaskRow {
    const task = this.task();
    if (!task) throw new Error("the task row is missing");
    return task;
  }

  asset(name: string): AssetRow | null {
    if (!this.exists) return null;
    return this.sql.exec<AssetRow>("SELECT * FROM assets WHERE name = ?", name).toArray()[0] ?? null;
  }

  assets(): AssetRow[] {
    if (!this.exists) return [];
    return this.sql.exec<AssetRow>("SELECT * FROM assets ORDER BY position").toArray();
  }

  /** How many assets there are, stored and failed: what the archive's state is computed from. */
  assetCounts(): AssetCounts {
    if (!this.exists) return { total: 0, stored: 0, failed: 0 };
    return this.sql
      .exec<AssetCounts>(
        `SELECT COUNT(*) AS total, COALESCE(SUM(state = 'stored'), 0) AS stored,
           COALESCE(SUM(state = 'failed'), 0) AS failed FROM assets`,
      )
      .one();
  }

  callbacks(): CallbackRow[] {
    if (!this.exists) return [];
    return this.sql.exec<CallbackRow>("SELECT * FROM callbacks ORDER BY received_at, hash").toArray();
  }

  /**
   * Creates the task row (and, for a fresh object, the schema) on first use; returns the row
   * either way, and whether it was created just now (a new task has no assets or callbacks yet).
   */
  ensureTask(
    taskId: string,
    kind: TaskKind,
    now: number,
    firstPollAt: number,
  ): { task: TaskRow; created: boolean } {
    if (!this.exists) createSchema(this.sql);
    this.exists = true;
    // RETURNING gives the new row with its defaults, so nothing is read back after the insert.
    const created = this.sql
      .exec<TaskRow>(
        `INSERT INTO task (id, task_id, kind, state, created_at, next_poll_at)
           VALUES (1, ?, ?, 'awaiting_callback', ?, ?)
           ON CONFLICT (id) DO NOTHING RETURNING *`,
        taskId,
        kind,
        now,
        firstPollAt,
      )
      .toArray()[0];
    return created ? { task: created, created: true } : { task: this.requireTask(), created: false };
  }

  /**
   * Says how the task became known. A submission is always recorded (it is the task's origin,
   * even when a callback or a retried registration got there first); a plain registration only
   * names a task that nothing had made before it.
   */
  noteVia(via: "register" | "submit", request: string | null, created: boolean): void {
    if (via === "submit") {
      this.sql.exec("UPDATE task SET via = 'submit', request = ? WHERE id = 1", request ?? "{}");
    } else if (created) {
      this.sql.exec("UPDATE task SET via = 'register' WHERE id = 1");
    }
  }
}
