import type { Kind } from "../core/ids";
import type { AssetRole, AssetState, Stage, TaskState, Via } from "../providers/model";

/**
 * The task object's SQLite schema: rows typed once, next to the DDL that creates them, and the
 * one place that reads them (`TaskRows`).
 */

export type TaskRow = {
  id: 1;
  task_id: string;
  kind: Kind;
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
};

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
};

export type CallbackRow = {
  hash: string;
  received_at: number;
  stage: Stage;
  code: number;
  message: string | null;
  /** Further deliveries of this same content. */
  duplicates: number;
  raw: string;
};

/** One outbound event of the task (see events.ts): its payload, its delivery and its outbox. */
export type EventRow = {
  id: string;
  type: "task.archived" | "task.failed";
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

/** Tables created whole by one migration, so SCHEMA and MIGRATIONS share their DDL. */
const EVENTS_TABLE = `CREATE TABLE events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    messages_sent INTEGER NOT NULL DEFAULT 0,
    send_until INTEGER,
    sent INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    attempt_until INTEGER,
    message_attempts INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  )`;
const REPLACED_OBJECTS_TABLE =
  "CREATE TABLE replaced_objects (key TEXT PRIMARY KEY, due_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)";
/** The index row's outbox, one row (see IndexSync in index-sync.ts). */
const INDEX_SYNC_TABLE = `CREATE TABLE IF NOT EXISTS index_sync (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    target TEXT NOT NULL,
    synced_version INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    writes INTEGER NOT NULL DEFAULT 0
  )`;

/**
 * The schema as the migrations below leave it. A fresh object is given it in one step: replaying
 * every ALTER TABLE was the largest cost of a new task's first callback. A test checks that both
 * ways end in the same tables and columns, so a new migration must change this too.
 */
const SCHEMA = `
  CREATE TABLE task (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    task_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    provider_code INTEGER,
    provider_message TEXT,
    separation_type TEXT,
    tracks TEXT NOT NULL DEFAULT '[]',
    duplicates INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER,
    first_callback_at INTEGER,
    last_callback_at INTEGER,
    manifest_version TEXT,
    next_poll_at INTEGER,
    poll_attempts INTEGER NOT NULL DEFAULT 0,
    poll_started_at INTEGER,
    last_poll_at INTEGER,
    last_poll_status TEXT,
    poll_error TEXT,
    manifest_failed_at INTEGER,
    callback_origin TEXT,
    event_mark TEXT
  );
  CREATE TABLE callbacks (
    hash TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    stage TEXT NOT NULL,
    code INTEGER NOT NULL,
    raw TEXT NOT NULL,
    message TEXT,
    duplicates INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE assets (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    url TEXT NOT NULL,
    fallback_url TEXT,
    using_fallback INTEGER NOT NULL DEFAULT 0,
    via TEXT NOT NULL,
    state TEXT NOT NULL,
    key TEXT,
    bytes INTEGER,
    sha256 TEXT,
    content_type TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    messages_sent INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    lease_until INTEGER,
    enqueue_until INTEGER,
    queued_at INTEGER,
    position INTEGER NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 0,
    download_ms INTEGER,
    publish_ms INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    claim_id TEXT,
    message_due_at INTEGER,
    url_rank INTEGER NOT NULL DEFAULT 0
  );
  ${EVENTS_TABLE};
  ${REPLACED_OBJECTS_TABLE};
  ${INDEX_SYNC_TABLE};`;

/**
 * How objects created by earlier versions reach SCHEMA, one step each, in order. Only ever
 * appended to; a fresh object skips them all.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE task (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     task_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     state TEXT NOT NULL,
     stage TEXT,
     provider_code INTEGER,
     provider_message TEXT,
     separation_type TEXT,
     tracks TEXT NOT NULL DEFAULT '[]',
     duplicates INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     updated_at INTEGER,
     first_callback_at INTEGER,
     last_callback_at INTEGER,
     manifest_version TEXT,
     next_poll_at INTEGER,
     poll_attempts INTEGER NOT NULL DEFAULT 0,
     poll_started_at INTEGER,
     last_poll_at INTEGER,
     last_poll_status TEXT,
     poll_error TEXT
   );
   CREATE TABLE callbacks (
     hash TEXT PRIMARY KEY,
     received_at INTEGER NOT NULL,
     stage TEXT NOT NULL,
     code INTEGER NOT NULL,
     raw TEXT NOT NULL
   );
   CREATE TABLE assets (
     name TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     url TEXT NOT NULL,
     fallback_url TEXT,
     using_fallback INTEGER NOT NULL DEFAULT 0,
     via TEXT NOT NULL,
     state TEXT NOT NULL,
     key TEXT,
     bytes INTEGER,
     sha256 TEXT,
     content_type TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     messages_sent INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     lease_until INTEGER,
     enqueue_until INTEGER,
     queued_at INTEGER,
     position INTEGER NOT NULL,
     confirmed INTEGER NOT NULL DEFAULT 0,
     download_ms INTEGER,
     publish_ms INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );`,
  `ALTER TABLE callbacks ADD COLUMN message TEXT;
   ALTER TABLE callbacks ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE task ADD COLUMN manifest_failed_at INTEGER;`,
  `ALTER TABLE assets ADD COLUMN claim_id TEXT;
   ALTER TABLE assets ADD COLUMN message_due_at INTEGER;`,
  // Which stage set an asset's URL (the latest authoritative one wins). Existing URLs count as
  // the task's stage.
  `ALTER TABLE assets ADD COLUMN url_rank INTEGER NOT NULL DEFAULT 0;
   UPDATE assets SET url_rank = COALESCE((SELECT CASE stage WHEN 'text' THEN 1 WHEN 'first' THEN 2
     WHEN 'error' THEN 3 WHEN 'complete' THEN 4 ELSE 0 END FROM task WHERE id = 1), 0);`,
  `ALTER TABLE task ADD COLUMN callback_origin TEXT;
   ALTER TABLE task ADD COLUMN event_mark TEXT;
   UPDATE task SET event_mark = 'before-events';
   ${EVENTS_TABLE};`,
  // Objects a re-archive replaced (another extension), deleted by ReplacedObjects.
  `${REPLACED_OBJECTS_TABLE};`,
  // The index row's outbox (IndexSync). Objects of the first indexed version created it
  // themselves, hence IF NOT EXISTS.
  `${INDEX_SYNC_TABLE};`,
];

/** True once the object has a schema, i.e. once it has stored anything at all. */
export const hasSchema = (sql: SqlStorage) =>
  sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;

/** Gives a fresh object the current schema in one step. */
export function createSchema(sql: SqlStorage): void {
  sql.exec(`${SCHEMA}
    CREATE TABLE _migrations (version INTEGER PRIMARY KEY);
    INSERT INTO _migrations (version) VALUES (${MIGRATIONS.length});`);
}

/** Brings an object's SQLite schema up to date: each migration it lacks runs once, in order. */
export function migrate(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY)");
  const applied = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _migrations").one().v ?? 0;
  MIGRATIONS.slice(applied).forEach((step, index) => {
    sql.exec(step);
    sql.exec("INSERT INTO _migrations (version) VALUES (?)", applied + index + 1);
  });
}

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

  callbacks(): CallbackRow[] {
    if (!this.exists) return [];
    return this.sql.exec<CallbackRow>("SELECT * FROM callbacks ORDER BY received_at, hash").toArray();
  }

  /** Creates the task row (and the schema) on first use; returns the row either way. */
  ensureTask(taskId: string, kind: Kind, now: number, firstPollAt: number): TaskRow {
    if (!this.exists) createSchema(this.sql);
    this.exists = true;
    this.sql.exec(
      `INSERT INTO task (id, task_id, kind, state, created_at, next_poll_at)
         VALUES (1, ?, ?, 'awaiting_callback', ?, ?)
         ON CONFLICT (id) DO NOTHING`,
      taskId,
      kind,
      now,
      firstPollAt,
    );
    return this.requireTask();
  }
}
