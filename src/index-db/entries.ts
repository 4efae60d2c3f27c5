import type { TaskKind } from "../core/ids";

/**
 * A task's row in the index, as its Durable Object computes it. `version` increases with every
 * change the object makes to it; D1 keeps the row with the highest version.
 */
export interface IndexEntry {
  taskId: string;
  kind: TaskKind;
  state: "awaiting_callback" | "in_progress" | "succeeded" | "failed";
  stage: "text" | "first" | "complete" | "error" | null;
  archive: {
    state: "none" | "archiving" | "archived" | "failed";
    stored: number;
    failed: number;
    total: number;
    bytes: number;
  };
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the last change to any field above. */
  updatedAt: number;
  version: number;
}

/** The table's row (migrations/0001_tasks.sql). */
export interface TaskIndexRow {
  task_id: string;
  kind: TaskKind;
  state: IndexEntry["state"];
  stage: IndexEntry["stage"];
  archive_state: IndexEntry["archive"]["state"];
  stored: number;
  failed: number;
  total: number;
  bytes: number;
  created_at: number;
  updated_at: number;
  version: number;
}

export const entryOfRow = (row: TaskIndexRow): IndexEntry => ({
  taskId: row.task_id,
  kind: row.kind,
  state: row.state,
  stage: row.stage,
  archive: {
    state: row.archive_state,
    stored: row.stored,
    failed: row.failed,
    total: row.total,
    bytes: row.bytes,
  },
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  version: row.version,
});

/**
 * Inserts or updates the task's row, unless D1 already holds a newer version of it or the task
 * was deleted: a write that arrives late (retried, or sent by an object instance that has since
 * been replaced) never overwrites a newer one nor brings a deleted task back.
 */
export function upsertStatement(db: D1Database, entry: IndexEntry): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO tasks (task_id, kind, state, stage, archive_state, stored, failed, total, bytes,
                          created_at, updated_at, version)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
        WHERE NOT EXISTS (SELECT 1 FROM deleted_tasks WHERE task_id = ?1)
       ON CONFLICT (task_id) DO UPDATE SET
         kind = excluded.kind, state = excluded.state, stage = excluded.stage,
         archive_state = excluded.archive_state, stored = excluded.stored, failed = excluded.failed,
         total = excluded.total, bytes = excluded.bytes, created_at = excluded.created_at,
         updated_at = excluded.updated_at, version = excluded.version
       WHERE excluded.version > tasks.version`,
    )
    .bind(
      entry.taskId,
      entry.kind,
      entry.state,
      entry.stage,
      entry.archive.state,
      entry.archive.stored,
      entry.archive.failed,
      entry.archive.total,
      entry.archive.bytes,
      entry.createdAt,
      entry.updatedAt,
      entry.version,
    );
}

/** Removes the task's row for good (its id is never indexed again). */
export function deleteStatements(db: D1Database, taskId: string, deletedAt: number): D1PreparedStatement[] {
  return [
    db
      .prepare("INSERT INTO deleted_tasks (task_id, deleted_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
      .bind(taskId, deletedAt),
    db.prepare("DELETE FROM tasks WHERE task_id = ?").bind(taskId),
  ];
}
