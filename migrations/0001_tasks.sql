-- Migration number: 0001 	 2026-11-30T12:01:45.381Z
-- The task index behind GET /tasks: one row per task. Each row is written only by its task's
-- Durable Object (src/tasks/index-sync.ts), guarded by `version`, which that object increments
-- with every change, so an older write never overwrites a newer one. Times are epoch ms.
CREATE TABLE tasks (
  task_id TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  stage TEXT,
  archive_state TEXT NOT NULL,
  stored INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  total INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL
);

-- Newest first: every page is a range of one of these, in the cursor's keyset order
-- (updated_at, task_id), walked backwards. One per filter that is usually selective.
CREATE INDEX tasks_by_updated ON tasks (updated_at, task_id);
CREATE INDEX tasks_by_kind ON tasks (kind, updated_at, task_id);
CREATE INDEX tasks_by_state ON tasks (state, updated_at, task_id);
CREATE INDEX tasks_by_archive ON tasks (archive_state, updated_at, task_id);

-- Deleted tasks. A write that was already on its way when the task was deleted must not bring
-- its row back; task ids of deleted tasks are never used again (their objects keep a tombstone).
CREATE TABLE deleted_tasks (
  task_id TEXT PRIMARY KEY NOT NULL,
  deleted_at INTEGER NOT NULL
);
