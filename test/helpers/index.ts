import { env } from "cloudflare:workers";
import type { TaskIndexRow } from "../../src/index-db/entries";
import { bearer, getStatus, request } from "./worker";

export interface ListedTask {
  taskId: string;
  kind: string;
  state: string;
  stage: string | null;
  archive: { state: string; stored: number; failed: number; total: number; bytes: number };
  createdAt: string;
  updatedAt: string;
}

export interface ListAnswer {
  status: number;
  body: { tasks: ListedTask[]; nextCursor: string | null } & {
    error?: { code: string; message: string; issues?: { path: string; message: string }[] };
  };
}

/** GET /tasks with these query parameters, through the Worker's real fetch handler. */
export async function listTasks(query: Record<string, string> | string = {}): Promise<ListAnswer> {
  const search = typeof query === "string" ? query : new URLSearchParams(query).toString();
  const response = await request(`/tasks${search ? `?${search}` : ""}`, { headers: bearer });
  return { status: response.status, body: await response.json() };
}

/** The task's row in D1, read directly (null when there is none). */
export const indexRow = (taskId: string) =>
  env.INDEX.prepare("SELECT * FROM tasks WHERE task_id = ?").bind(taskId).first<TaskIndexRow>();

/** Waits until the task's index row satisfies `done` (null: no row), as listed by D1 itself. */
export async function waitForIndex(
  taskId: string,
  done: (row: TaskIndexRow | null) => boolean,
  timeoutMs = 10_000,
): Promise<TaskIndexRow | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await indexRow(taskId);
    if (done(row)) return row;
    if (Date.now() > deadline)
      throw new Error(`index row of ${taskId} did not converge: ${JSON.stringify(row)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every page of GET /tasks for this query, following `nextCursor`. */
export async function listAll(query: Record<string, string>): Promise<ListedTask[][]> {
  const pages: ListedTask[][] = [];
  let cursor: string | null = null;
  do {
    const { status, body } = await listTasks(cursor ? { ...query, cursor } : query);
    if (status !== 200) throw new Error(`GET /tasks answered ${status}: ${JSON.stringify(body)}`);
    pages.push(body.tasks);
    cursor = body.nextCursor;
  } while (cursor);
  return pages;
}

/**
 * Waits until the task's index row says what its status JSON says (kind, state, stage and the
 * archive summary), and returns the row.
 */
export async function waitForIndexedStatus(taskId: string, timeoutMs = 10_000): Promise<TaskIndexRow> {
  const status = await getStatus(taskId);
  const row = await waitForIndex(
    taskId,
    (candidate) =>
      candidate !== null &&
      candidate.kind === status.kind &&
      candidate.state === status.state &&
      candidate.stage === status.stage &&
      candidate.archive_state === status.archive.state &&
      candidate.stored === status.archive.stored &&
      candidate.failed === status.archive.failed &&
      candidate.total === status.archive.total &&
      candidate.bytes === status.archive.bytes &&
      candidate.created_at === Date.parse(status.createdAt),
    timeoutMs,
  );
  return row as TaskIndexRow;
}
