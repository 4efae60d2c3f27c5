// The ack-path floor (see wrangler.toml here): GET /healthz answers at once; POST /object/<id>
// stores the request body as one row in the SQLite Durable Object named <id> and answers once
// that write is durable. No checks, no parsing, no queue: one object per task, one row.
//
// POST /outbox/<id> is that floor plus the per-task work the contract requires of a receiver
// beyond the row: an alarm armed with the row, committed with it before the answer (the outbox's
// re-drive, should the object die before its follow-up work is done), and after the answer one
// upsert of the task's row in a D1 index, then the alarm cleared since nothing is left pending.
// Still no checks, no parsing, no queue. GET /outbox/indexed counts the index rows (for the
// bench's check, outside any measured run).

import { DurableObject } from "cloudflare:workers";

interface FloorEnv {
  OBJECTS: DurableObjectNamespace<FloorObject>;
  INDEX: D1Database;
}

/** The re-drive's delay: far enough that it never fires during a bench run. */
const REDRIVE_MS = 60_000;

/**
 * The index table, created once per isolate (as stemvault applies its local index's migrations
 * once per isolate); a failed attempt is retried by the next write.
 */
let indexReady: Promise<unknown> | null = null;
function ensureIndex(db: D1Database): Promise<unknown> {
  indexReady ??= db
    .prepare("CREATE TABLE IF NOT EXISTS tasks (task_id TEXT PRIMARY KEY, updated_at INTEGER NOT NULL)")
    .run()
    .catch((error: unknown) => {
      indexReady = null;
      throw error;
    });
  return indexReady;
}

export class FloorObject extends DurableObject<FloorEnv> {
  record(body: string): void {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS callbacks (received_at INTEGER NOT NULL, raw TEXT NOT NULL)");
    sql.exec("INSERT INTO callbacks VALUES (?, ?)", Date.now(), body);
  }

  async recordWithOutbox(id: string, body: string): Promise<void> {
    const now = Date.now();
    this.record(body);
    // Issued before any await, so it commits in the row's implicit transaction; the answer is
    // held until both are durable.
    await this.ctx.storage.setAlarm(now + REDRIVE_MS);
    this.ctx.waitUntil(this.index(id, now));
  }

  /** After the answer: the index row, then the alarm cleared (nothing is pending any more). */
  private async index(id: string, now: number): Promise<void> {
    try {
      await ensureIndex(this.env.INDEX);
      await this.env.INDEX.prepare(
        `INSERT INTO tasks (task_id, updated_at) VALUES (?1, ?2)
         ON CONFLICT (task_id) DO UPDATE SET updated_at = excluded.updated_at
         WHERE excluded.updated_at > tasks.updated_at`,
      )
        .bind(id, now)
        .run();
      await this.ctx.storage.deleteAlarm();
    } catch {
      // The alarm stays armed: that is the re-drive this route measures the cost of arming.
    }
  }

  // Never fires during a bench run (the index write clears it first); it must exist for setAlarm.
  override async alarm(): Promise<void> {}
}

/**
 * GET /outbox/indexed?prefix=<p>: how many index rows have an id starting with <p>, so the bench
 * can check that the work after each answer was done (and not silently skipped).
 */
async function indexed(env: FloorEnv, request: Request): Promise<number> {
  const prefix = new URL(request.url).searchParams.get("prefix") ?? "";
  await ensureIndex(env.INDEX);
  const row = await env.INDEX.prepare(
    "SELECT COUNT(*) AS n FROM tasks WHERE substr(task_id, 1, length(?1)) = ?1",
  )
    .bind(prefix)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") return Response.json({ ok: true });
    if (pathname === "/outbox/indexed") return Response.json({ indexed: await indexed(env, request) });
    const [, route, id] = /^\/(object|outbox)\/([\w-]{1,128})$/.exec(pathname) ?? [];
    if (request.method !== "POST" || !id) return Response.json({ error: "not found" }, { status: 404 });
    const object = env.OBJECTS.get(env.OBJECTS.idFromName(id));
    if (route === "outbox") await object.recordWithOutbox(id, await request.text());
    else await object.record(await request.text());
    return Response.json({ recorded: id });
  },
} satisfies ExportedHandler<FloorEnv>;
