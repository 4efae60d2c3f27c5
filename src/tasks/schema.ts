import type { Kind } from "../ids";
import type { AssetRole, AssetState, Stage, TaskState, Via } from "./model";

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
  next_poll_at: number | null;
  poll_attempts: number;
  poll_started_at: number | null;
  last_poll_at: number | null;
  last_poll_status: string | null;
  poll_error: string | null;
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
  lease_until: number | null;
  enqueue_until: number | null;
  queued_at: number | null;
  position: number;
  /** 1 once the provider's record-info listed this URL (confirmation mode). */
  confirmed: number;
  download_ms: number | null;
  publish_ms: number | null;
  created_at: number;
  updated_at: number;
};

const MIGRATIONS = [
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
];

/** True once the object has a schema, i.e. once it has stored anything at all. */
export const hasSchema = (sql: SqlStorage) =>
  sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;

/** Brings the object's SQLite schema up to date; each step runs once, in order. */
export function migrate(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY)");
  const applied = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _migrations").one().v ?? 0;
  MIGRATIONS.slice(applied).forEach((step, index) => {
    sql.exec(step);
    sql.exec("INSERT INTO _migrations (version) VALUES (?)", applied + index + 1);
  });
}
