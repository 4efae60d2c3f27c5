import { log } from "../core/log";
import { deleteStatements, type IndexEntry, upsertStatement } from "../index-db/entries";
import { ensureLocalSchema } from "../index-db/schema";
import type { PendingWork } from "./pending-work";
import type { AssetCounts, TaskRow, TaskRows } from "./rows";
import { archiveState } from "./status";

/**
 * A change is written once the task has been quiet this long, so that a burst (a callback and
 * its small files archived right after, the 12 stems of a separation) costs D1 one write...
 */
const SETTLE_MS = 1_000;
/**
 * ...but never later than this after the first change that is not written yet. While files are
 * being archived it waits this long in any case: their reports are on their way.
 */
const MAX_DELAY_MS = 3_000;
/**
 * If the write has not been confirmed by then, the alarm writes it. That only happens when the
 * instance was lost between the change and its write (a crash, a deploy): a failed write is
 * retried on its own schedule (RETRY_BASE_MS…), and any new instance writes at once. A minute,
 * like the media outbox's grace, so that the backstop rides on the alarm a new task's queue
 * message sets anyway instead of moving the alarm for every change (a durable write each).
 */
const CONFIRM_WITHIN_MS = 60_000;
/** After a failed write: 1, 2, 4, 8, 16, then every 30 seconds. */
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** What the index must hold for this task: its row, or nothing (deleted). */
export type IndexWrite =
  | { op: "upsert"; entry: IndexEntry }
  | { op: "delete"; taskId: string; deletedAt: number };

/** The one row of `index_sync` (its table is in schema.ts, with the task's others). */
type SyncRow = {
  id: 1;
  /** Increases with every change of `target`. */
  version: number;
  /** JSON of the IndexWrite for `version`. */
  target: string;
  /** The highest version D1 confirmed. */
  synced_version: number;
  /** When the alarm writes `target` if it is still unconfirmed; null when D1 has it. */
  due_at: number | null;
  attempts: number;
  last_error: string | null;
  /** Writes D1 confirmed: fewer than versions when a burst was written as its latest row. */
  writes: number;
};

export const retryDelayMs = (attempts: number) =>
  Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1));

/**
 * The task's row in the D1 index (an outbox of one row). `mark()` runs synchronously with every
 * change, in the change's own transaction: it compares what the index should hold with what was
 * last scheduled and, if it differs, stores the new target under the next version and makes it
 * due. `flushSoon()` writes it to D1 after the object answered, once the task is quiet for a
 * moment (a burst of changes, one write); `flush()` writes it at once (the alarm);
 * D1 keeps only the highest version, so writes may repeat or arrive late without harm. Nothing
 * here is ever awaited on the way to a callback's answer.
 */
export class IndexSync implements PendingWork {
  private running: Promise<void> | null = null;
  private again = false;
  /** The debounced write `flushSoon` waits for, and when the first change it covers was made. */
  private soon: { timer: ReturnType<typeof setTimeout>; since: number; done: Promise<void> } | null = null;
  private release: (() => void) | null = null;
  /** The row as this instance last read or wrote it (it is its only writer); undefined: not read. */
  private cache: SyncRow | null | undefined;
  /** `contentOf` the cached row's target, so that an unchanged task costs one query. */
  private cachedContent: string | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly db: D1Database,
    private readonly tombstone: () => { taskId: string; deletedAt: number } | null,
    private readonly localDev: () => boolean,
  ) {
    // An object that has stored nothing has no row either: its first change reads nothing back.
    if (!rows.exists) this.cache = null;
  }

  /** Schedules a write if the task's index row changed. Synchronous: call it right after a change. */
  mark(now: number): void {
    const target = this.target(now);
    if (!target) return;
    const current = this.row();
    if (current && this.cachedContent === contentOf(target)) return;
    if (current && target.op === "upsert") {
      const previous = JSON.parse(current.target) as IndexWrite;
      if (previous.op === "upsert") target.entry.updatedAt = Math.max(now, previous.entry.updatedAt);
    }
    // (A task's first row, written when it is first indexed, carries its own last change: for a
    // new task that is now, for one recorded before the index existed, when it last changed.)
    const version = (current?.version ?? 0) + 1;
    if (target.op === "upsert") target.entry.version = version;
    const json = JSON.stringify(target);
    const dueAt = Math.min(current?.due_at ?? Number.POSITIVE_INFINITY, now + CONFIRM_WITHIN_MS);
    // The row as now stored (this instance is its only writer), so the next change reads nothing.
    this.cache = this.sql
      .exec<SyncRow>(
        `INSERT INTO index_sync (id, version, target, due_at) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, target = excluded.target,
           due_at = excluded.due_at RETURNING *`,
        version,
        json,
        dueAt,
      )
      .one();
    this.cachedContent = contentOf(target);
  }

  /**
   * Writes the latest target to D1 unless D1 already has it. One write at a time per object; a
   * call during a write makes it write once more afterwards. Never throws: a failure is kept
   * and retried by the alarm with backoff.
   */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.writeOnce();
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /**
   * Writes the latest target once the task has been quiet for SETTLE_MS, or while files are in
   * flight, MAX_DELAY_MS after the first change it covers (never later than that). Each call
   * restarts the wait. The call that started the wait gets a promise that settles when the write
   * it leads to is done (it re-arms the alarm then); calls that join a wait get null. Never throws.
   */
  flushSoon(): Promise<void> | null {
    const now = Date.now();
    const joined = this.soon;
    if (joined) clearTimeout(joined.timer);
    const since = joined?.since ?? now;
    const done =
      joined?.done ??
      new Promise<void>((resolve) => {
        this.release = resolve;
      });
    const latest = since + MAX_DELAY_MS - now;
    const delay = Math.max(0, this.filesInFlight() ? latest : Math.min(SETTLE_MS, latest));
    const timer = setTimeout(() => {
      const release = this.release;
      this.soon = null;
      this.release = null;
      void this.flush().then(release);
    }, delay);
    this.soon = { timer, since, done };
    return joined ? null : done;
  }

  /** The alarm's part: the row as the task now is, written unless D1 already has it. */
  runDue(now: number): Promise<void> {
    this.mark(now);
    return this.flush();
  }

  /** Whether the row to be written shows files still being archived. */
  private filesInFlight(): boolean {
    const row = this.row();
    if (!row) return false;
    const target = JSON.parse(row.target) as IndexWrite;
    if (target.op !== "upsert") return false;
    const { archive } = target.entry;
    return archive.stored + archive.failed < archive.total;
  }

  /** Whether a write is pending (scheduled and not yet confirmed by D1). */
  pending(): boolean {
    const row = this.row();
    return row !== null && row.version > row.synced_version;
  }

  /** When the alarm must write: a write not confirmed in time, or a failed one's retry. */
  nextDueAt(): number | null {
    const row = this.row();
    return row && row.version > row.synced_version ? row.due_at : null;
  }

  private async writeOnce(): Promise<void> {
    const row = this.row();
    if (!row || row.version <= row.synced_version) return;
    const target = JSON.parse(row.target) as IndexWrite;
    try {
      await ensureLocalSchema(this.db, this.localDev());
      if (target.op === "upsert") await this.db.batch([upsertStatement(this.db, target.entry)]);
      else await this.db.batch(deleteStatements(this.db, target.taskId, target.deletedAt));
      this.sql.exec(
        `UPDATE index_sync SET synced_version = MAX(synced_version, ?1), attempts = 0, last_error = NULL,
           writes = writes + 1, due_at = CASE WHEN version > ?1 THEN due_at ELSE NULL END WHERE id = 1`,
        row.version,
      );
      this.cache = undefined;
    } catch (error) {
      const attempts = row.attempts + 1;
      const message = error instanceof Error ? error.message : String(error);
      log.warn("index_write_failed", {
        taskId: taskIdOf(target),
        version: row.version,
        attempts,
        error: message,
      });
      this.sql.exec(
        "UPDATE index_sync SET attempts = ?, last_error = ?, due_at = ? WHERE id = 1",
        attempts,
        message,
        Date.now() + retryDelayMs(attempts),
      );
      this.cache = undefined;
    }
  }

  /** What the index should hold now; null for an object that never held a task. */
  private target(now: number): IndexWrite | null {
    const deleted = this.tombstone();
    if (deleted) return { op: "delete", ...deleted };
    if (!this.rows.exists) return null;
    // The task and its archive summary in one query: this runs with every change.
    const task = this.sql
      .exec<Summary>(
        `SELECT t.task_id, t.kind, t.state, t.stage, t.created_at,
           MAX(t.created_at, COALESCE(t.updated_at, 0), COALESCE(t.last_callback_at, 0),
               COALESCE(MAX(a.updated_at), 0)) AS changed,
           COUNT(a.name) AS total, COALESCE(SUM(a.state = 'stored'), 0) AS stored,
           COALESCE(SUM(a.state = 'failed'), 0) AS failed,
           COALESCE(SUM(CASE WHEN a.state = 'stored' THEN a.bytes ELSE 0 END), 0) AS bytes
         FROM task t LEFT JOIN assets a WHERE t.id = 1 GROUP BY t.id`,
      )
      .toArray()[0];
    if (!task) return null;
    const counts = { total: task.total, stored: task.stored, failed: task.failed, bytes: task.bytes };
    const lastChange = task.changed;
    return {
      op: "upsert",
      entry: {
        taskId: task.task_id,
        kind: task.kind,
        state: task.state,
        stage: task.stage,
        archive: { state: archiveState(task, counts), ...counts },
        createdAt: task.created_at,
        updatedAt: Math.min(now, lastChange),
        version: 0,
      },
    };
  }

  private row(): SyncRow | null {
    if (!this.rows.exists) return null;
    if (this.cache === undefined) {
      this.cache = this.sql.exec<SyncRow>("SELECT * FROM index_sync WHERE id = 1").toArray()[0] ?? null;
      this.cachedContent = this.cache ? contentOf(JSON.parse(this.cache.target) as IndexWrite) : null;
    }
    return this.cache;
  }
}

const taskIdOf = (write: IndexWrite) => (write.op === "upsert" ? write.entry.taskId : write.taskId);

type Summary = Pick<TaskRow, "task_id" | "kind" | "state" | "stage" | "created_at"> &
  AssetCounts & { bytes: number; changed: number };

/** What a write says apart from its bookkeeping (when, which version): equal means no change. */
function contentOf(write: IndexWrite): string {
  if (write.op === "delete") return "delete";
  const { updatedAt: _u, version: _v, ...rest } = write.entry;
  return JSON.stringify(rest);
}
