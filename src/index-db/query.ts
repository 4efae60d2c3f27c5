import type { TaskKind } from "../core/ids";
import { entryOfRow, type IndexEntry, type TaskIndexRow } from "./entries";

export interface ListFilters {
  kind?: TaskKind;
  state?: IndexEntry["state"];
  archive?: IndexEntry["archive"]["state"];
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Task id prefix (only task id characters, so it needs no escaping). */
  q?: string;
}

/** A place in the list's order: the last row of the previous page. */
export interface ListPosition {
  updatedAt: number;
  taskId: string;
}

/**
 * Task ids are made of `[A-Za-z0-9_-]`, all below U+007F, so every id that starts with `q` sorts
 * in [q, q + U+007F): a range on the primary key, and no LIKE pattern whose `_` would match any
 * character.
 */
const PREFIX_END = "\u007f";

/**
 * One page of the index, newest first: ordered by (updated_at, task_id) descending, starting
 * after `after` (keyset pagination: each page is an index range, however deep, and a set that
 * does not change yields every row exactly once). Returns up to `limit` rows.
 */
export async function listEntries(
  db: D1Database,
  filters: ListFilters,
  after: ListPosition | null,
  limit: number,
): Promise<IndexEntry[]> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (clause: string, ...values: (string | number)[]) => {
    where.push(clause);
    params.push(...values);
  };
  if (filters.kind) add("kind = ?", filters.kind);
  if (filters.state) add("state = ?", filters.state);
  if (filters.archive) add("archive_state = ?", filters.archive);
  if (filters.since !== undefined) add("updated_at >= ?", filters.since);
  if (filters.until !== undefined) add("updated_at < ?", filters.until);
  if (filters.q) add("task_id >= ? AND task_id < ?", filters.q, `${filters.q}${PREFIX_END}`);
  if (after) add("(updated_at, task_id) < (?, ?)", after.updatedAt, after.taskId);
  const sql = `SELECT * FROM tasks${where.length ? ` WHERE ${where.join(" AND ")}` : ""}
    ORDER BY updated_at DESC, task_id DESC LIMIT ?`;
  const { results } = await db
    .prepare(sql)
    .bind(...params, limit)
    .all<TaskIndexRow>();
  return results.map(entryOfRow);
}
