import { DurableObject } from "cloudflare:workers";
import type { Kind } from "../core/ids";
import { log } from "../core/log";
import { taskStub } from "../tasks/stub";

/**
 * One submission through `POST /provider/<path>`: a Durable Object named by its Idempotency-Key
 * (or by a random id when there is none). It is the single writer of the key's record — what was
 * sent (a fingerprint), whether the provider's answer is known, and that answer — and the durable
 * record of the task registration that an accepted submission owes, which its alarm re-drives
 * until the task object has it. Every method's SQL runs without an await in between, so two
 * requests with one key can never both be told to proceed.
 */

/** How long a key's answer is replayed. */
export const KEY_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Registration retries back off from 1 s, doubling, to at most this. */
const MAX_RETRY_MS = 5 * 60 * 1000;

/** An answer as it is sent (and replayed): status, the headers stemvault keeps, body text. */
export interface RecordedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The accepted job's task id (null for refusals and errors). */
  taskId: string | null;
}

export type BeginResult =
  | { outcome: "proceed"; attempt: string }
  | { outcome: "replay"; answer: RecordedAnswer }
  | { outcome: "reused" }
  | { outcome: "in_flight" };

/** What the task registration of an accepted submission carries (TaskObject.register). */
export interface PendingRegistration {
  taskId: string;
  kind: Kind;
  /** The submitted body's non-secret fields, as JSON. */
  request: string;
  /** The origin the submission arrived at: the base of links in events until a callback's. */
  origin: string;
}

type SubmissionRow = {
  fingerprint: string;
  state: "in_flight" | "done" | "timeout";
  attempt: string;
  created_at: number;
  status: number | null;
  headers: string | null;
  body: string | null;
  task_id: string | null;
};

type RegistrationRow = {
  task_id: string;
  kind: Kind;
  request: string;
  origin: string;
  attempts: number;
  due_at: number;
  last_error: string | null;
};

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS submission (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    attempt TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status INTEGER,
    headers TEXT,
    body TEXT,
    task_id TEXT
  );
  CREATE TABLE IF NOT EXISTS registration (
    task_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    origin TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    last_error TEXT
  );`;

/** The answer for an outcome stemvault cannot know; replayed for the key from then on. */
export function timeoutAnswer(timeoutMs: number): RecordedAnswer {
  const body = {
    error: {
      code: "provider_timeout",
      message:
        `the provider did not answer within ${Math.round(timeoutMs / 1000)} s: whether the job was ` +
        "started is unknown, and this key will not submit it again",
    },
  };
  return {
    status: 504,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    taskId: null,
  };
}

export class SubmissionObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  /**
   * Decides what a request with this key gets: `proceed` (the first one: recorded in flight
   * before the provider is called), the recorded answer, `reused` (another body), `in_flight`.
   * An in-flight record older than `timeoutMs` is an outcome nobody will learn (the Worker that
   * made the call is gone): it becomes a timeout, as if the provider had not answered.
   */
  async begin(fingerprint: string, timeoutMs: number): Promise<BeginResult> {
    const now = Date.now();
    let row = this.submission();
    if (row && now - row.created_at >= KEY_LIFETIME_MS) {
      this.sql.exec("DELETE FROM submission");
      row = null;
    }
    if (!row) {
      const attempt = crypto.randomUUID();
      this.sql.exec(
        "INSERT INTO submission (id, fingerprint, state, attempt, created_at) VALUES (1, ?, 'in_flight', ?, ?)",
        fingerprint,
        attempt,
        now,
      );
      await this.schedule();
      return { outcome: "proceed", attempt };
    }
    if (row.fingerprint !== fingerprint) return { outcome: "reused" };
    if (row.state === "in_flight") {
      if (now - row.created_at < timeoutMs) return { outcome: "in_flight" };
      this.record(timeoutAnswer(timeoutMs), "timeout");
      row = this.submission() as SubmissionRow;
    }
    return { outcome: "replay", answer: answerOf(row) };
  }

  /**
   * Records the outcome of attempt `attempt` and, for an accepted job, the registration it owes
   * (with the alarm that re-drives it), in one transaction. An outcome that arrives after the
   * record was given up as a timeout does not replace it (the key keeps answering 504), but its
   * registration is still kept: the job exists.
   */
  async finish(
    attempt: string,
    answer: RecordedAnswer,
    state: "done" | "timeout",
    registration: PendingRegistration | null,
  ): Promise<void> {
    const row = this.submission();
    if (row?.attempt === attempt && row.state === "in_flight") this.record(answer, state);
    if (registration) {
      this.sql.exec(
        `INSERT INTO registration (task_id, kind, request, origin, due_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (task_id) DO NOTHING`,
        registration.taskId,
        registration.kind,
        registration.request,
        registration.origin,
        Date.now() + 1000,
      );
    }
    await this.schedule();
  }

  /** The task object has the registration: nothing more to re-drive for it. */
  async registered(taskId: string): Promise<void> {
    this.sql.exec("DELETE FROM registration WHERE task_id = ?", taskId);
    await this.schedule();
  }

  /** Registrations still owed (for the tests and for the record). */
  pendingRegistrations(): { taskId: string; attempts: number; lastError: string | null }[] {
    return this.sql
      .exec<RegistrationRow>("SELECT * FROM registration ORDER BY task_id")
      .toArray()
      .map((row) => ({ taskId: row.task_id, attempts: row.attempts, lastError: row.last_error }));
  }

  /**
   * Re-drives every owed registration (whatever its due time: the alarm is the retry), then
   * forgets a key whose lifetime is over, and the object altogether once nothing is left.
   */
  override async alarm(): Promise<void> {
    const rows = this.sql.exec<RegistrationRow>("SELECT * FROM registration").toArray();
    for (const row of rows) {
      try {
        const registered = await taskStub(this.env, row.task_id).register(row.task_id, row.kind, row.origin, {
          via: "submit",
          request: row.request,
        });
        if ("deleted" in registered) log.warn("submission_task_deleted", { taskId: row.task_id });
        this.sql.exec("DELETE FROM registration WHERE task_id = ?", row.task_id);
      } catch (error) {
        const attempts = row.attempts + 1;
        const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** Math.min(attempts, 20));
        this.sql.exec(
          "UPDATE registration SET attempts = ?, due_at = ?, last_error = ? WHERE task_id = ?",
          attempts,
          Date.now() + delay,
          String(error),
          row.task_id,
        );
        log.warn("submission_register_failed", { taskId: row.task_id, attempts, error });
      }
    }
    const row = this.submission();
    if (row && Date.now() - row.created_at >= KEY_LIFETIME_MS) this.sql.exec("DELETE FROM submission");
    await this.schedule();
  }

  private submission(): SubmissionRow | null {
    return this.sql.exec<SubmissionRow>("SELECT * FROM submission WHERE id = 1").toArray()[0] ?? null;
  }

  private record(answer: RecordedAnswer, state: "done" | "timeout"): void {
    this.sql.exec(
      "UPDATE submission SET state = ?, status = ?, headers = ?, body = ?, task_id = ? WHERE id = 1",
      state,
      answer.status,
      JSON.stringify(answer.headers),
      answer.body,
      answer.taskId,
    );
  }

  /**
   * The one alarm: the earliest owed registration, else the key's expiry; with neither, the
   * object's storage is dropped (an expired key leaves nothing behind).
   */
  private async schedule(): Promise<void> {
    const due = this.sql.exec<{ at: number | null }>("SELECT MIN(due_at) AS at FROM registration").one().at;
    const created = this.submission()?.created_at;
    const at = due ?? (created === undefined ? null : created + KEY_LIFETIME_MS);
    if (at === null) {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.sql.exec(SCHEMA); // deleteAll drops the tables too; this instance may be asked again
      return;
    }
    await this.ctx.storage.setAlarm(at);
  }
}

function answerOf(row: SubmissionRow): RecordedAnswer {
  return {
    status: row.status ?? 500,
    headers: row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {},
    body: row.body ?? "",
    taskId: row.task_id,
  };
}
