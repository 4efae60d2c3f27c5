// The task's Durable Object: its RPC surface (callbacks, the consumers' reports, the API's
// actions) and its one alarm. Over 300 lines only because that surface is wide — every method
// is a few lines that delegate to the capability that owns the concern.

import { DurableObject } from "cloudflare:workers";
import { config } from "../core/config";
import type { TaskKind } from "../core/ids";
import type { ReceivedCallback } from "../providers/model";
import { reparseCallback } from "../providers/parse-callback";
import { BundleLayouts } from "./bundle-layouts";
import { StoredChecksums, type StoredFile } from "./checksums";
import { ArchiveClaims, type Claim, type RetryReport, type StoredMedia } from "./claims";
import { TaskDeletion } from "./deletion";
import { EventAttempts } from "./event-attempts";
import type { AttemptReport, EventAttempt } from "./event-job";
import type { EventStatus } from "./event-status";
import { TaskEvents } from "./events";
import { FollowUps } from "./follow-ups";
import { IndexSync } from "./index-sync";
import { CallbackIntake, type ReceiveResult } from "./intake";
import { ManifestWriter } from "./manifest";
import { MediaOutbox } from "./outbox";
import type { PendingWork } from "./pending-work";
import { Reconciler } from "./reconciler";
import { ReplacedObjects } from "./replaced-objects";
import { TaskRows } from "./rows";
import { archiveState, buildStatus, type TaskStatus } from "./status";
import { TaskAlarm } from "./task-alarm";
import { TaskUpdates } from "./updates";

export type { Claim, ReceiveResult, RetryReport, StoredFile, StoredMedia };

/**
 * The single writer of one task's state (one object per taskId, SQLite-backed): an RPC shell
 * over capabilities that each own one concern (intake, outbox, claims, reconciliation,
 * manifest, events, deletion, the index row, the kept bundle layouts). It keeps what only it
 * can own: the RPC surface and the one alarm, which it sets to the earliest moment any
 * capability needs. The SQL writes of one method run without
 * interleaving, and its answer is released only once they are durable.
 */
export class TaskObject extends DurableObject<Env> {
  private readonly rows: TaskRows;
  private readonly intake: CallbackIntake;
  private readonly outbox: MediaOutbox;
  private readonly claims: ArchiveClaims;
  private readonly checksums: StoredChecksums;
  private readonly layouts: BundleLayouts;
  private readonly reconciler: Reconciler;
  private readonly manifest: ManifestWriter;
  private readonly events: TaskEvents;
  private readonly eventAttempts: EventAttempts;
  private readonly deletion: TaskDeletion;
  private readonly index: IndexSync;
  private readonly replaced: ReplacedObjects;
  /** Every capability with pending work, in the order the alarm runs them. */
  private readonly pending: PendingWork[];
  /** What follows each change: the hand-on after an answer, the alarm, the index row's write. */
  private readonly follow: FollowUps;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    this.rows = new TaskRows(sql);
    const updates = new TaskUpdates(sql, this.rows);
    this.reconciler = new Reconciler(sql, this.rows, updates, () => config(this.env));
    this.outbox = new MediaOutbox(sql, this.rows, env.MEDIA_QUEUE);
    this.intake = new CallbackIntake(sql, this.rows, updates, this.reconciler, this.outbox);
    this.claims = new ArchiveClaims(sql, this.rows, this.reconciler);
    this.checksums = new StoredChecksums(sql);
    this.layouts = new BundleLayouts(sql);
    this.manifest = new ManifestWriter(sql, this.rows, env.MEDIA, () => this.requireStatus());
    this.events = new TaskEvents(
      sql,
      this.rows,
      env.EVENTS_QUEUE,
      () => config(this.env),
      () => this.requireStatus(),
    );
    this.eventAttempts = new EventAttempts(sql, this.rows);
    this.replaced = new ReplacedObjects(sql, this.rows, env.MEDIA);
    this.deletion = new TaskDeletion(sql, this.rows, env.MEDIA);
    this.index = new IndexSync(
      sql,
      this.rows,
      env.INDEX,
      () => this.deletion.tombstone(),
      () => config(this.env).localDev,
    );
    // The events right after the reconciler: a poll that settles the task records its event at
    // once; the index row last, so that it shows what everything before it did.
    this.pending = [
      this.claims,
      this.reconciler,
      this.events,
      this.outbox,
      this.manifest,
      this.replaced,
      this.deletion,
      this.index,
    ];
    this.follow = new FollowUps(
      {
        rows: this.rows,
        outbox: this.outbox,
        manifest: this.manifest,
        events: this.events,
        index: this.index,
        deletion: this.deletion,
      },
      new TaskAlarm(ctx.storage, this.rows, this.pending),
      (promise) => ctx.waitUntil(promise),
    );
    // A task recorded before the index existed (or whose last write was lost with its instance)
    // is indexed the next time its object wakes.
    this.index.mark(Date.now());
    if (this.index.pending()) {
      ctx.waitUntil(
        this.follow.scheduleAlarm().then(
          () => this.follow.syncIndexSoon(),
          () => {}, // the next change arms it
        ),
      );
    }
  }

  /**
   * Records a callback (deduplicated by content hash) and answers as soon as that is durable: the
   * callback, its assets with their send leases (the outbox), the index row's outbox, an event of
   * a settlement and the alarm are written in this one synchronous transaction, and the answer is
   * released only once it is committed. The queue messages, the index row and the event are then
   * handed on after the answer (`FollowUps.handOnLater`); should this instance die first, the alarm armed here
   * sends them (at the latest when the send lease ends, seconds later). A 200 therefore means
   * recorded and on its way, which is all the provider waits for.
   */
  async receiveCallback(callback: ReceivedCallback, origin?: string): Promise<ReceiveResult> {
    if (this.deletion.deleted) return { outcome: "deleted" };
    const now = Date.now();
    const limit = config(this.env).maxAssetsPerTask;
    const recorded = this.intake.record(callback, now, limit);
    if ("kind_conflict" in recorded) return { outcome: "kind_conflict", kind: recorded.kind_conflict };
    if ("too_many_assets" in recorded) {
      return { outcome: "too_many_assets", total: recorded.too_many_assets, limit };
    }
    this.events.noteOrigin(origin);
    const unrecognized = !callback.recognized && !recorded.duplicate && this.events.observeUnrecognized(now);
    const settled = this.events.observe(now) || unrecognized;
    const { duplicate, due } = recorded;
    if (duplicate && due.length === 0 && !settled) return { outcome: "recorded", duplicate, enqueued: 0 };
    this.index.mark(now);
    await this.follow.scheduleAlarm();
    this.follow.handOnLater(due);
    return { outcome: "recorded", duplicate, enqueued: due.length };
  }

  /** Duplicates the Worker answered from memory (DuplicateTally), added to the counts. */
  async countDuplicates(counts: { hash: string; count: number }[], lastAt: number): Promise<void> {
    if (this.deletion.deleted) return;
    const leased = this.intake.countDuplicates(counts, lastAt, Date.now());
    if (leased.length === 0) return;
    await this.follow.scheduleAlarm();
    this.follow.handOnLater(leased);
  }

  /**
   * Registers a task submitted to the provider (by the user, or through `POST /provider/…` with
   * its request's non-secret fields, as JSON); an existing task keeps its state.
   */
  async register(
    taskId: string,
    kind: TaskKind,
    origin?: string,
    submission?: { via: "submit"; request: string },
  ): Promise<{ created: boolean; status: TaskStatus } | { deleted: true }> {
    if (this.deletion.deleted) return { deleted: true };
    const existing = this.rows.task();
    const now = Date.now();
    if (!existing) this.rows.ensureTask(taskId, kind, now, this.reconciler.firstPollAt(now));
    this.rows.noteVia(submission?.via ?? "register", submission?.request ?? null, !existing);
    this.events.noteOrigin(origin, true); // a callback's origin, once one arrives, takes over
    await this.follow.afterChange();
    return { created: !existing, status: this.requireStatus() };
  }

  status(): TaskStatus | null {
    return this.rows.task() ? this.requireStatus() : null;
  }

  async claim(name: string): Promise<Claim> {
    if (this.deletion.deleted) return { status: "deleted" };
    const claim = await this.claims.claim(name);
    await this.follow.afterChange();
    return claim;
  }

  /** The consumer's heartbeat while bytes flow; false: the lease is gone, stop and store nothing. */
  async renewLease(name: string, claimId: string): Promise<boolean> {
    if (this.deletion.deleted) return false;
    // A renewal only moves a lease's end later: the alarm, armed for the earlier end at the
    // latest, stays (should it fire first, it finds the lease alive and re-arms).
    return this.claims.renew(name, claimId);
  }

  /**
   * A consumer stored the asset; `accepted` is false when its claim is no longer current (its
   * lease expired and the asset was re-driven, or a later stage gave it another URL). The file it replaced (a
   * re-archive from a newer URL may end in another extension) is deleted. `archived` is the
   * task's status when this file archived it, for the consumer to lay out its bundle.
   */
  async assetStored(
    name: string,
    claimId: string,
    media: StoredMedia,
  ): Promise<{ accepted: boolean; archived: TaskStatus | null }> {
    // A download in flight when the task was deleted: what it stored goes too.
    if (this.deletion.deleted) {
      await this.deletion.removeLate(media.key);
      return { accepted: false, archived: null };
    }
    const replaced = this.rows.asset(name)?.key;
    const accepted = this.claims.stored(name, claimId, media);
    if (accepted && replaced && replaced !== media.key) {
      this.replaced.add(replaced, Date.now()); // with the new object's record, then deleted
      await this.replaced.runDue(Date.now());
    }
    await this.follow.afterChange();
    const task = this.rows.task();
    const archived = accepted && task && archiveState(task, this.rows.assetCounts()) === "archived";
    return { accepted, archived: archived ? this.requireStatus() : null };
  }

  /** The stored files with their CRC-32s, for a bundle; empty for a deleted or unknown task. */
  storedFiles(): StoredFile[] {
    if (this.deletion.deleted || !this.rows.task()) return [];
    return this.checksums.files();
  }

  /** A bundle computed the CRC-32 of a file stored without one (see StoredChecksums.record). */
  recordCrc32(key: string, bytes: number, sha256: string | null, crc32: number): boolean {
    if (this.deletion.deleted || !this.rows.task()) return false;
    return this.checksums.record(key, bytes, sha256, crc32);
  }

  /** The bundle's layout kept under `key` (see BundleLayouts), or null. */
  bundleLayout(key: string): string | null {
    if (this.deletion.deleted || !this.rows.task()) return null;
    return this.layouts.get(key);
  }

  saveBundleLayout(key: string, layout: string): void {
    if (this.deletion.deleted || !this.rows.task()) return;
    this.layouts.save(key, layout, Date.now());
  }

  async assetFailed(name: string, claimId: string, error: string): Promise<{ retryUrl: string | null }> {
    if (this.deletion.deleted) return { retryUrl: null };
    const result = await this.claims.failed(name, claimId, error);
    await this.follow.afterChange();
    return result;
  }

  async assetRetrying(name: string, claimId: string, error: string, delayMs: number): Promise<void> {
    if (this.deletion.deleted) return;
    this.claims.retrying(name, claimId, error, delayMs);
    await this.follow.afterChange();
  }

  async assetDeadLettered(name: string): Promise<void> {
    if (this.deletion.deleted) return;
    this.claims.deadLettered(name);
    await this.follow.afterChange();
  }

  /**
   * The retry endpoint: re-drives every asset that is not stored and not really in progress,
   * and says what it did; null for an unknown task.
   */
  async retryAssets(): Promise<(RetryReport & { reparsed: number }) | null> {
    if (!this.rows.task()) return null;
    const now = Date.now();
    // Callbacks kept raw are parsed again: this version may know their shape.
    const reparsed = this.intake.reparse(reparseCallback, config(this.env).maxAssetsPerTask, now);
    const report = { ...this.claims.reset(now), reparsed };
    this.events.observe(now); // unsettled again: its next settlement gets a new event
    this.index.mark(now);
    await this.outbox.flush(now);
    await this.follow.afterChange();
    return report;
  }

  /**
   * Deletes the task: tombstone, callbacks, assets and index row, and every R2 object under its
   * prefix. `deleted` counts the objects removed (in total, when an earlier attempt was cut
   * short); `complete` is false when R2 failed midway (the alarm goes on, and so does another
   * DELETE). "gone" for a task already deleted, "unknown" for one that never existed.
   */
  async deleteTask(): Promise<{ deleted: number; complete: boolean } | "gone" | "unknown"> {
    if (this.deletion.deleted && this.deletion.purged) return "gone";
    if (!this.deletion.deleted) {
      if (!this.deletion.markDeleted(Date.now())) return "unknown";
      this.index.mark(Date.now());
      await this.follow.scheduleAlarm(); // with the tombstone: the sweep, and the index row's removal
    }
    const complete = await this.deletion.purge(Date.now()).then(
      () => true,
      () => false,
    );
    await this.follow.afterChange();
    return { deleted: this.deletion.removed, complete };
  }

  /** Whether the task was deleted (its id stays dead). */
  isDeleted(): boolean {
    return this.deletion.deleted;
  }

  /** The events consumer, before each attempt: what to send, or why not. */
  async beginEventAttempt(eventId: string, message: number): Promise<EventAttempt> {
    const attempt = this.eventAttempts.beginAttempt(eventId, message, Date.now());
    await this.follow.scheduleAlarm();
    return attempt;
  }

  /** The events consumer, after each attempt. */
  async eventAttempted(eventId: string, message: number, report: AttemptReport): Promise<void> {
    this.eventAttempts.attempted(eventId, message, report, Date.now());
    await this.follow.scheduleAlarm();
  }

  /** The events dead-letter queue: the event's retries are exhausted. */
  async eventDeadLettered(eventId: string, message: number): Promise<void> {
    this.eventAttempts.deadLettered(eventId, message, Date.now());
    await this.follow.scheduleAlarm();
  }

  /** Sends an event again (same id, fresh signature); null when the task or the event is unknown. */
  async redeliverEvent(eventId: string): Promise<EventStatus | null> {
    if (!this.rows.task()) return null;
    const event = await this.events.redeliver(eventId, Date.now());
    await this.follow.scheduleAlarm();
    return event;
  }

  /**
   * The task's one alarm: runs whatever the stored state says is due (expired download leases,
   * overdue or unsent queue messages, a poll, a failed manifest write, an event, a deleted
   * task's sweep, the index row), then re-arms.
   */
  override async alarm(): Promise<void> {
    this.follow.alarmFired();
    if (!this.rows.exists) return;
    const now = Date.now();
    for (const work of this.pending) await work.runDue(now);
    await this.follow.scheduleAlarm();
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
}
