import { DurableObject } from "cloudflare:workers";
import { config } from "../core/config";
import type { Kind } from "../core/ids";
import { log } from "../core/log";
import type { ReceivedCallback } from "../providers/model";
import { ArchiveClaims, type Claim, type RetryReport, type StoredMedia } from "./claims";
import type { AttemptReport, EventAttempt } from "./event-job";
import type { EventStatus } from "./event-status";
import { TaskEvents } from "./events";
import { CallbackIntake, type ReceiveResult } from "./intake";
import { ManifestWriter } from "./manifest";
import { MediaOutbox } from "./outbox";
import type { PendingWork } from "./pending-work";
import { Reconciler } from "./reconciler";
import { TaskRows } from "./rows";
import { buildStatus, type TaskStatus } from "./status";
import { TaskUpdates } from "./updates";

export type { Claim, ReceiveResult, RetryReport, StoredMedia };

/** The alarm is never set closer than this, so a burst of changes does not re-fire it at once. */
const MIN_ALARM_DELAY_MS = 1000;

/**
 * The single writer of one task's state (one object per taskId, SQLite-backed): an RPC shell
 * over capabilities that each own one concern (intake, outbox, claims, reconciliation,
 * manifest). It keeps what only it can own: the RPC surface and the one alarm, which it sets to
 * the earliest moment any capability needs. The SQL writes of one method run without
 * interleaving, and its answer is released only once they are durable.
 */
export class TaskObject extends DurableObject<Env> {
  private readonly rows: TaskRows;
  private readonly intake: CallbackIntake;
  private readonly outbox: MediaOutbox;
  private readonly claims: ArchiveClaims;
  private readonly reconciler: Reconciler;
  private readonly manifest: ManifestWriter;
  private readonly events: TaskEvents;
  /** Every capability with pending work, in the order the alarm runs them. */
  private readonly pending: PendingWork[];
  /** The alarm as this instance last set or read it (undefined: not read yet). */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    this.rows = new TaskRows(sql);
    const updates = new TaskUpdates(sql, this.rows);
    this.reconciler = new Reconciler(sql, this.rows, updates, () => config(this.env));
    this.outbox = new MediaOutbox(sql, this.rows, env.MEDIA_QUEUE);
    this.intake = new CallbackIntake(sql, this.rows, updates, this.reconciler, this.outbox);
    this.claims = new ArchiveClaims(sql, this.rows, this.reconciler);
    this.manifest = new ManifestWriter(sql, this.rows, env.MEDIA, () => this.requireStatus());
    this.events = new TaskEvents(
      sql,
      this.rows,
      env.EVENTS_QUEUE,
      () => config(this.env),
      () => this.requireStatus(),
    );
    // The events right after the reconciler: a poll that settles the task records its event at once.
    this.pending = [this.claims, this.reconciler, this.events, this.outbox, this.manifest];
    if (!this.rows.exists) this.alarmAt = null; // nothing was ever stored, so no alarm either
  }

  /**
   * Records a callback (deduplicated by content hash) and enqueues every newly ready asset: the
   * callback, its assets, their send leases and the alarm are written in one transaction, then
   * the queue messages are sent, and only then does it answer (a 200 means recorded and
   * enqueued). A failed send is retried by the alarm and by the provider's retry, which the
   * caller asks for with a 5xx.
   */
  async receiveCallback(callback: ReceivedCallback, origin?: string): Promise<ReceiveResult> {
    const now = Date.now();
    const limit = config(this.env).maxAssetsPerTask;
    const recorded = this.intake.record(callback, now, limit);
    if ("kind_conflict" in recorded) return { outcome: "kind_conflict", kind: recorded.kind_conflict };
    if ("too_many_assets" in recorded) {
      return { outcome: "too_many_assets", total: recorded.too_many_assets, limit };
    }
    this.events.noteOrigin(origin);
    const settled = this.events.observe(now);
    const { duplicate, due } = recorded;
    if (duplicate && due.length === 0 && !settled) return { outcome: "recorded", duplicate, enqueued: 0 };
    // Committed with the record: the alarm at the lease's end, in case this object dies mid-send.
    if (due.length > 0 || settled) await this.scheduleAlarm();
    const sent = await this.outbox.send(due);
    await this.afterChange();
    return sent ? { outcome: "recorded", duplicate, enqueued: due.length } : { outcome: "enqueue_failed" };
  }

  /** Registers a task submitted to the provider; no-op when it already exists. */
  async register(
    taskId: string,
    kind: Kind,
    origin?: string,
  ): Promise<{ created: boolean; status: TaskStatus }> {
    const existing = this.rows.task();
    const now = Date.now();
    if (!existing) this.rows.ensureTask(taskId, kind, now, this.reconciler.firstPollAt(now));
    this.events.noteOrigin(origin, true); // a callback's origin, once one arrives, takes over
    await this.afterChange();
    return { created: !existing, status: this.requireStatus() };
  }

  status(): TaskStatus | null {
    return this.rows.exists ? this.requireStatus() : null;
  }

  async claim(name: string): Promise<Claim> {
    const claim = await this.claims.claim(name);
    await this.afterChange();
    return claim;
  }

  /** The consumer's heartbeat while bytes flow; false: the lease is gone, stop and store nothing. */
  async renewLease(name: string, claimId: string): Promise<boolean> {
    const renewed = this.claims.renew(name, claimId);
    if (renewed) await this.scheduleAlarm();
    return renewed;
  }

  /**
   * A consumer stored the asset; false when its claim is no longer current (its lease expired
   * and the asset was re-driven, or a later stage gave it another URL). The file it replaced (a
   * re-archive from a newer URL may end in another extension) is deleted.
   */
  async assetStored(name: string, claimId: string, media: StoredMedia): Promise<boolean> {
    const replaced = this.rows.asset(name)?.key;
    const accepted = this.claims.stored(name, claimId, media);
    if (accepted && replaced && replaced !== media.key) await this.deleteReplaced(replaced);
    await this.afterChange();
    return accepted;
  }

  async assetFailed(name: string, claimId: string, error: string): Promise<{ retryUrl: string | null }> {
    const result = await this.claims.failed(name, claimId, error);
    await this.afterChange();
    return result;
  }

  async assetRetrying(name: string, claimId: string, error: string, delayMs: number): Promise<void> {
    this.claims.retrying(name, claimId, error, delayMs);
    await this.afterChange();
  }

  async assetDeadLettered(name: string): Promise<void> {
    this.claims.deadLettered(name);
    await this.afterChange();
  }

  /**
   * The retry endpoint: re-drives every asset that is not stored and not really in progress,
   * and says what it did; null for an unknown task.
   */
  async retryAssets(): Promise<RetryReport | null> {
    if (!this.rows.task()) return null;
    const now = Date.now();
    const report = this.claims.reset(now);
    this.events.observe(now); // unsettled again: its next settlement gets a new event
    await this.outbox.flush(now);
    await this.afterChange();
    return report;
  }

  /** The events consumer, before each attempt: what to send, or why not. */
  async beginEventAttempt(eventId: string, message: number): Promise<EventAttempt> {
    const attempt = this.events.beginAttempt(eventId, message, Date.now());
    await this.scheduleAlarm();
    return attempt;
  }

  /** The events consumer, after each attempt. */
  async eventAttempted(eventId: string, message: number, report: AttemptReport): Promise<void> {
    this.events.attempted(eventId, message, report, Date.now());
    await this.scheduleAlarm();
  }

  /** The events dead-letter queue: the event's retries are exhausted. */
  async eventDeadLettered(eventId: string, message: number): Promise<void> {
    this.events.deadLettered(eventId, message, Date.now());
    await this.scheduleAlarm();
  }

  /** Sends an event again (same id, fresh signature); null when the task or the event is unknown. */
  async redeliverEvent(eventId: string): Promise<EventStatus | null> {
    if (!this.rows.task()) return null;
    const event = await this.events.redeliver(eventId, Date.now());
    await this.scheduleAlarm();
    return event;
  }

  /**
   * The task's one alarm: runs whatever the stored state says is due (expired download leases,
   * overdue or unsent queue messages, a poll, a failed manifest write), then re-arms.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null; // it has fired; whatever runs below arms the next one
    if (!this.rows.exists) return;
    const now = Date.now();
    for (const work of this.pending) await work.runDue(now);
    await this.scheduleAlarm();
  }

  private async deleteReplaced(key: string): Promise<void> {
    try {
      await this.env.MEDIA.delete(key);
    } catch (error) {
      log.error("replaced_object_not_deleted", { taskId: this.rows.task()?.task_id, key, error });
    }
  }

  private requireStatus(): TaskStatus {
    const task = this.rows.requireTask();
    return buildStatus(
      task,
      this.rows.assets(),
      this.rows.callbacks(),
      this.reconciler.pollDueAt(task),
      this.events.list(),
    );
  }

  private async afterChange(): Promise<void> {
    if (!this.rows.task()) return;
    // In the transaction of the change that settled the task, with the alarm that sends it if
    // this object stops before it does.
    if (this.events.observe(Date.now())) await this.scheduleAlarm();
    await this.manifest.writeIfDue();
    await this.events.sendLeased();
    await this.scheduleAlarm();
  }

  /**
   * Sets the task's one alarm to exactly when the stored state next needs it (the earliest
   * moment any capability has work due), or clears it when nothing is pending. So an alarm armed for a
   * lease that has since ended never fires for nothing.
   */
  private async scheduleAlarm(): Promise<void> {
    const wakeUps = this.pending.map((work) => work.nextDueAt()).filter((at): at is number => at !== null);
    const at = wakeUps.length === 0 ? null : Math.max(Math.min(...wakeUps), Date.now() + MIN_ALARM_DELAY_MS);
    this.alarmAt ??= await this.ctx.storage.getAlarm();
    if (this.alarmAt === at) return;
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
    this.alarmAt = at;
  }
}
