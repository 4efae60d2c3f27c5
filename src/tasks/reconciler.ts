import type { Config } from "../core/config";
import { log } from "../core/log";
import { fetchRecordInfo, hasRecordInfo, type RecordInfo } from "../providers/record-info";
import type { PendingWork } from "./pending-work";
import { GIVE_UP_AFTER_MS, nextPollDelay } from "./poll-schedule";
import type { AssetRow, TaskRow, TaskRows } from "./rows";
import type { TaskUpdates } from "./updates";

/** How long a record-info answer counts as fresh when confirming callback URLs. */
const CONFIRMATION_FRESH_MS = 30_000;

export type Confirmation = "confirmed" | "unconfirmed" | { reason: string };

/**
 * Reconciliation with the provider: polls record-info for a task the callbacks left silent, and
 * (confirmation mode) checks a callback's URL against what record-info lists for the task.
 */
export class Reconciler implements PendingWork {
  /** The provider's latest record-info for this task, shared by concurrent confirmations. */
  private recordInfo: { at: number; answer: Promise<RecordInfo> } | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly updates: TaskUpdates,
    private readonly cfg: () => Config,
  ) {}

  /** When a new task is first polled if no final callback arrives. */
  firstPollAt(now: number): number {
    return now + this.cfg().reconcileAfterSeconds * 1000;
  }

  /** A callback shows the provider is alive: polling starts over, after another quiet period. */
  restart(now: number): void {
    this.sql.exec(
      `UPDATE task SET poll_attempts = 0, poll_started_at = NULL, poll_error = NULL,
         next_poll_at = CASE WHEN state IN ('succeeded', 'failed') THEN NULL ELSE ? END WHERE id = 1`,
      this.firstPollAt(now),
    );
  }

  /** When the task should next be polled; null when polling is off or the task is finished. */
  pollDueAt(task: TaskRow): number | null {
    if (!this.cfg().providerApiKey || !hasRecordInfo(task.kind)) return null;
    if (task.state === "succeeded" || task.state === "failed") return null;
    return task.next_poll_at;
  }

  nextDueAt(): number | null {
    if (!this.cfg().providerApiKey) return null; // polling is off: no need to read the task
    const task = this.rows.task();
    return task ? this.pollDueAt(task) : null;
  }

  /** Polls when a poll is due. */
  async runDue(now: number): Promise<void> {
    const task = this.rows.task();
    const due = task ? this.pollDueAt(task) : null;
    if (task && due !== null && due <= now) await this.poll(task, now);
  }

  /**
   * Asks the provider's record-info for the task's result and records what it says, like a
   * callback would (assets found this way say `via: "poll"`). Errors are kept on the task and
   * polled again later, on a schedule that grows; after 24 hours the task is given up.
   */
  private async poll(task: TaskRow, now: number): Promise<void> {
    const info = await fetchRecordInfo(this.cfg(), task.kind, task.task_id);
    this.recordInfo = { at: now, answer: Promise.resolve(info) };
    const attempts = task.poll_attempts + 1;
    const startedAt = task.poll_started_at ?? now;
    if (info.outcome === "result") {
      if (info.update) this.updates.apply(info.update, now);
    } else {
      log.warn("reconcile_failed", { taskId: task.task_id, outcome: info.outcome, error: info.message });
    }
    const { state } = this.rows.requireTask();
    const finished = state === "succeeded" || state === "failed";
    let next: number | null = finished ? null : now + nextPollDelay(attempts, info.outcome);
    this.sql.exec(
      `UPDATE task SET poll_attempts = ?, poll_started_at = ?, last_poll_at = ?, last_poll_status = ?,
         poll_error = ? WHERE id = 1`,
      attempts,
      startedAt,
      now,
      info.outcome === "result" ? info.status : info.outcome,
      info.outcome === "result" ? null : info.message,
    );
    if (next !== null && next - startedAt > GIVE_UP_AFTER_MS) {
      next = null;
      this.sql.exec(
        `UPDATE task SET state = 'failed', poll_error = ? || COALESCE(' (last error: ' || poll_error || ')', '')
           WHERE id = 1`,
        "no final result from the provider after 24 hours of polling",
      );
    }
    this.sql.exec("UPDATE task SET next_poll_at = ? WHERE id = 1", next);
  }

  /**
   * Confirmation mode: a callback's URL is fetched only once record-info lists it. A file
   * stemvault makes from the callback's data downloads nothing, so there is nothing to confirm.
   */
  needsConfirmation(asset: Pick<AssetRow, "via" | "confirmed" | "content">): boolean {
    return (
      this.cfg().confirmWithProvider && asset.via === "callback" && !asset.confirmed && asset.content === null
    );
  }

  /**
   * Is `url` one the provider itself lists for this task? Concurrent claims share one
   * record-info request, and an answer is reused for CONFIRMATION_FRESH_MS.
   */
  async confirmUrl(task: TaskRow, url: string): Promise<Confirmation> {
    const cfg = this.cfg();
    if (!cfg.providerApiKey) return { reason: "CONFIRM_WITH_PROVIDER is on but PROVIDER_API_KEY is not set" };
    // Fail closed: a cover image or a salvaged URL has no record-info that could list it.
    if (!hasRecordInfo(task.kind)) return "unconfirmed";
    const now = Date.now();
    if (!this.recordInfo || now - this.recordInfo.at > CONFIRMATION_FRESH_MS) {
      this.recordInfo = { at: now, answer: fetchRecordInfo(cfg, task.kind, task.task_id) };
    }
    const info = await this.recordInfo.answer;
    if (info.outcome !== "result") {
      this.recordInfo = null;
      return { reason: `cannot confirm the URL yet: ${info.message}` };
    }
    if (!info.urls.has(url)) return "unconfirmed";
    this.sql.exec("UPDATE assets SET confirmed = 1 WHERE url = ?", url);
    return "confirmed";
  }
}
