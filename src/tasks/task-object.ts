import { DurableObject } from "cloudflare:workers";
import { config } from "../config";
import type { Kind } from "../ids";
import type { MediaJob } from "../media/job";
import { manifestKey } from "../media/keys";
import { fetchRecordInfo, type RecordInfo } from "../provider/record-info";
import {
  type AssetSpec,
  type ReceivedCallback,
  STAGE_RANK,
  type Stage,
  stateOfStage,
  type TaskUpdate,
  type TrackInfo,
} from "./model";
import { GIVE_UP_AFTER_MS, nextPollDelay } from "./reconcile";
import { type AssetRow, hasSchema, migrate, type TaskRow } from "./schema";
import { type AssetCounts, archiveState, buildStatus, type TaskStatus } from "./status";

/**
 * How long a consumer owns an asset it claimed. Equal to a queue consumer's maximum wall time,
 * so an expired lease means that invocation is gone and the asset may be claimed again.
 */
export const DOWNLOAD_LEASE_MS = 15 * 60 * 1000;
/** How long one send owns an asset's queue message; after that the watchdog sends it again. */
const ENQUEUE_LEASE_MS = 30 * 1000;
/** After a failed send, when the watchdog tries again. */
const SEND_RETRY_MS = 10 * 1000;
/** After a failed manifest write, when the watchdog tries again. */
const MANIFEST_RETRY_MS = 30 * 1000;
/** A `queued` asset untouched this long lost its message; the watchdog sends a new one. */
const QUEUED_STALE_MS = 60 * 60 * 1000;
const SEND_BATCH_LIMIT = 100;
/** How long a record-info answer counts as fresh when confirming callback URLs. */
const CONFIRMATION_FRESH_MS = 30_000;

export type ReceiveResult =
  | { outcome: "recorded"; duplicate: boolean; enqueued: number }
  | { outcome: "kind_conflict"; kind: Kind }
  /** Recorded, but the queue refused the messages: the caller answers 5xx so the provider retries. */
  | { outcome: "enqueue_failed" };

export type Claim =
  | { status: "claimed"; kind: Kind; taskId: string; url: string }
  | { status: "stored" | "failed" | "busy" | "unknown" }
  /** Not decidable now (confirmation mode, provider unreachable): redeliver later. */
  | { status: "retry"; reason: string };

export interface StoredMedia {
  key: string;
  bytes: number;
  sha256: string;
  contentType: string;
  downloadMs: number;
  publishMs: number;
}

/**
 * The single writer of one task's state (one object per taskId, SQLite-backed). Every callback,
 * poll result and consumer report goes through here; the SQL writes of one method run without
 * interleaving, and its answer is released only once they are durable.
 */
export class TaskObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Whether this object has ever recorded anything (and so has its tables). */
  private exists: boolean;
  /** The provider's latest record-info for this task, shared by concurrent confirmations. */
  private recordInfo: { at: number; answer: Promise<RecordInfo> } | null = null;
  /** The alarm as this instance last set or read it (undefined: not read yet). */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Reads of an unknown task must not create it, so a fresh object gets its schema only when
    // it first records something (ensureTask); existing objects are brought up to date here.
    this.exists = hasSchema(this.sql);
    if (this.exists) migrate(this.sql);
    else this.alarmAt = null; // nothing was ever stored, so no alarm either
  }

  /**
   * Records a callback (deduplicated by content hash) and enqueues every newly ready asset: the
   * callback, its assets, their send leases and the watchdog alarm are written in one
   * transaction, then the queue messages are sent, and only then does it answer (a 200 means
   * recorded and enqueued). A failed send is retried by the watchdog within SEND_RETRY_MS and
   * by the provider's retry, which the caller asks for with a 5xx.
   */
  async receiveCallback(callback: ReceivedCallback): Promise<ReceiveResult> {
    const now = Date.now();
    const task = this.ensureTask(callback.taskId, callback.kind, now);
    if (task.kind !== callback.kind) return { outcome: "kind_conflict", kind: task.kind };

    const duplicate =
      this.sql.exec("SELECT 1 FROM callbacks WHERE hash = ?", callback.hash).toArray().length > 0;
    if (duplicate) {
      this.sql.exec("UPDATE task SET duplicates = duplicates + 1, last_callback_at = ? WHERE id = 1", now);
      // The common duplicate changes nothing else: answer without the bookkeeping below.
      if (this.dueAssets(now).length === 0) return { outcome: "recorded", duplicate, enqueued: 0 };
    } else {
      this.sql.exec(
        "INSERT INTO callbacks (hash, received_at, stage, code, raw) VALUES (?, ?, ?, ?, ?)",
        callback.hash,
        now,
        callback.stage,
        callback.code,
        callback.raw,
      );
      this.sql.exec(
        `UPDATE task SET first_callback_at = COALESCE(first_callback_at, ?), last_callback_at = ? WHERE id = 1`,
        now,
        now,
      );
      this.apply(callback, now);
      this.rescheduleReconciliation(now);
    }
    // A duplicate still re-drives assets whose earlier enqueue failed: that is why providers retry.
    const due = this.leaseDue(now);
    // Committed with the record: the alarm at the lease's end, in case this object dies mid-send.
    if (due.length > 0) await this.scheduleAlarm();
    const sent = due.length === 0 || (await this.send(due));
    await this.afterChange();
    return sent ? { outcome: "recorded", duplicate, enqueued: due.length } : { outcome: "enqueue_failed" };
  }

  /** Registers a task submitted to the provider; no-op when it already exists. */
  async register(taskId: string, kind: Kind): Promise<{ created: boolean; status: TaskStatus }> {
    const existing = this.task();
    if (!existing) this.ensureTask(taskId, kind, Date.now());
    await this.afterChange();
    return { created: !existing, status: this.statusOrThrow() };
  }

  status(): TaskStatus | null {
    const task = this.task();
    return task ? this.statusOf(task) : null;
  }

  /**
   * Hands an asset to one consumer at a time; a stored or failed asset is never fetched again.
   * In confirmation mode a callback's URL is first checked against the provider's record-info.
   */
  async claim(name: string): Promise<Claim> {
    for (let confirmed = false; ; confirmed = true) {
      const task = this.task();
      const asset = this.asset(name);
      if (!task || !asset) return { status: "unknown" };
      if (asset.state === "stored" || asset.state === "failed") return { status: asset.state };
      const now = Date.now();
      if (asset.state === "downloading" && (asset.lease_until ?? 0) > now) return { status: "busy" };
      if (!confirmed && this.needsConfirmation(asset)) {
        const verdict = await this.confirmUrl(task, asset.url);
        if (verdict === "unconfirmed") {
          await this.failAsset(
            name,
            `unconfirmed_url: the provider's record-info does not list ${asset.url}`,
          );
          return { status: "failed" };
        }
        if (verdict !== "confirmed") {
          this.sql.exec("UPDATE assets SET error = ? WHERE name = ?", verdict.reason, name);
          return { status: "retry", reason: verdict.reason };
        }
        continue; // the await let other requests in: look at the asset again
      }
      this.sql.exec(
        `UPDATE assets SET state = 'downloading', lease_until = ?, enqueue_until = NULL,
           attempts = attempts + 1, updated_at = ? WHERE name = ?`,
        now + DOWNLOAD_LEASE_MS,
        now,
        name,
      );
      await this.scheduleAlarm();
      return {
        status: "claimed",
        kind: task.kind,
        taskId: task.task_id,
        url: asset.url,
      };
    }
  }

  async assetStored(name: string, media: StoredMedia): Promise<void> {
    this.sql.exec(
      `UPDATE assets SET state = 'stored', key = ?, bytes = ?, sha256 = ?, content_type = ?, error = NULL,
         download_ms = ?, publish_ms = ?, lease_until = NULL, updated_at = ? WHERE name = ?`,
      media.key,
      media.bytes,
      media.sha256,
      media.contentType,
      media.downloadMs,
      media.publishMs,
      Date.now(),
      name,
    );
    await this.afterChange();
  }

  /**
   * A permanent failure. If the asset has an untried `source_*` twin, it switches to it and
   * returns its URL for the same consumer to fetch at once; otherwise the asset is failed.
   */
  async assetFailed(name: string, error: string): Promise<{ retryUrl: string | null }> {
    const asset = this.asset(name);
    const task = this.task();
    if (!task || !asset || asset.state === "stored") return { retryUrl: null };
    const twin = asset.using_fallback ? null : asset.fallback_url;
    const twinNeedsConfirmation = this.needsConfirmation({ ...asset, confirmed: 0 });
    if (twin && (!twinNeedsConfirmation || (await this.confirmUrl(task, twin)) === "confirmed")) {
      this.sql.exec(
        `UPDATE assets SET url = fallback_url, fallback_url = url, using_fallback = 1, error = ?, updated_at = ?
           WHERE name = ?`,
        `${error} (now trying the source URL)`,
        Date.now(),
        name,
      );
      return { retryUrl: twin };
    }
    await this.failAsset(name, error);
    return { retryUrl: null };
  }

  /** A transient failure: the message will be redelivered; the asset waits in `queued`. */
  async assetRetrying(name: string, error: string): Promise<void> {
    this.sql.exec(
      `UPDATE assets SET state = 'queued', error = ?, lease_until = NULL, queued_at = ?, updated_at = ?
         WHERE name = ? AND state = 'downloading'`,
      error,
      Date.now(),
      Date.now(),
      name,
    );
  }

  /** The asset's message exhausted its retries. Unless it got stored meanwhile, it failed. */
  async assetDeadLettered(name: string): Promise<void> {
    const asset = this.asset(name);
    if (!asset || asset.state === "stored" || asset.state === "failed") return;
    if (asset.state === "downloading" && (asset.lease_until ?? 0) > Date.now()) return;
    await this.failAsset(name, `retries exhausted: ${asset.error ?? "no error recorded"}`);
  }

  /** Re-enqueues failed and stuck assets (the retry endpoint). Returns how many. */
  async retryAssets(): Promise<number | null> {
    if (!this.task()) return null;
    const now = Date.now();
    const cursor = this.sql.exec(
      `UPDATE assets SET state = 'pending', enqueue_until = NULL, error = NULL,
         url = CASE WHEN using_fallback = 1 THEN fallback_url ELSE url END,
         fallback_url = CASE WHEN using_fallback = 1 THEN url ELSE fallback_url END,
         using_fallback = 0, updated_at = ?
       WHERE state = 'failed'
          OR (state = 'downloading' AND lease_until <= ?)
          OR (state = 'queued' AND queued_at <= ?)
          OR (state = 'pending' AND (enqueue_until IS NULL OR enqueue_until <= ?))`,
      now,
      now,
      now - QUEUED_STALE_MS,
      now,
    );
    const count = cursor.rowsWritten;
    await this.enqueueDue(now);
    return count;
  }

  /**
   * The task's one alarm: the watchdog (re-drives assets whose lease expired or whose message went
   * missing) and reconciliation (polls record-info for a task the callbacks left silent).
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null; // it has fired; whatever runs below arms the next one
    if (!this.exists) return;
    const now = Date.now();
    this.sql.exec(
      `UPDATE assets SET state = 'pending', enqueue_until = NULL, lease_until = NULL, updated_at = ?
        WHERE (state = 'downloading' AND lease_until <= ?) OR (state = 'queued' AND queued_at <= ?)`,
      now,
      now,
      now - QUEUED_STALE_MS,
    );
    const task = this.task();
    if (task && this.pollDueAt(task) !== null && (this.pollDueAt(task) as number) <= now) {
      await this.reconcile(task, now);
    }
    await this.enqueueDue(now);
    await this.afterChange();
  }

  private statusOf(task: TaskRow): TaskStatus {
    const distinct = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM callbacks").one().n;
    return buildStatus(task, this.assets(), distinct, this.pollDueAt(task));
  }

  private task(): TaskRow | null {
    if (!this.exists) return null;
    return this.sql.exec<TaskRow>("SELECT * FROM task WHERE id = 1").toArray()[0] ?? null;
  }

  private statusOrThrow(): TaskStatus {
    const status = this.status();
    if (!status) throw new Error("task row missing");
    return status;
  }

  private asset(name: string): AssetRow | null {
    if (!this.exists) return null;
    return this.sql.exec<AssetRow>("SELECT * FROM assets WHERE name = ?", name).toArray()[0] ?? null;
  }

  private assets(): AssetRow[] {
    return this.sql.exec<AssetRow>("SELECT * FROM assets ORDER BY position").toArray();
  }

  private ensureTask(taskId: string, kind: Kind, now: number): TaskRow {
    if (!this.exists) migrate(this.sql);
    this.exists = true;
    this.sql.exec(
      `INSERT INTO task (id, task_id, kind, state, created_at, next_poll_at)
         VALUES (1, ?, ?, 'awaiting_callback', ?, ?)
         ON CONFLICT (id) DO NOTHING`,
      taskId,
      kind,
      now,
      now + config(this.env).reconcileAfterSeconds * 1000,
    );
    return this.task() as TaskRow;
  }

  private async failAsset(name: string, error: string): Promise<void> {
    this.sql.exec(
      "UPDATE assets SET state = 'failed', error = ?, lease_until = NULL, updated_at = ? WHERE name = ?",
      error,
      Date.now(),
      name,
    );
    await this.afterChange();
  }

  /** A callback shows the provider is alive: polling starts over, after another quiet period. */
  private rescheduleReconciliation(now: number): void {
    this.sql.exec(
      `UPDATE task SET poll_attempts = 0, poll_started_at = NULL, poll_error = NULL,
         next_poll_at = CASE WHEN state IN ('succeeded', 'failed') THEN NULL ELSE ? END WHERE id = 1`,
      now + config(this.env).reconcileAfterSeconds * 1000,
    );
  }

  /** When the task should next be polled; null when polling is off or the task is finished. */
  private pollDueAt(task: TaskRow): number | null {
    if (!config(this.env).providerApiKey) return null;
    if (task.state === "succeeded" || task.state === "failed") return null;
    return task.next_poll_at;
  }

  /**
   * Asks the provider's record-info for the task's result and records what it says, like a
   * callback would (assets found this way say `via: "poll"`). Errors are kept on the task and
   * polled again later, on a schedule that grows; after 24 hours the task is given up.
   */
  private async reconcile(task: TaskRow, now: number): Promise<void> {
    const info = await fetchRecordInfo(config(this.env), task.kind, task.task_id);
    this.recordInfo = { at: now, answer: Promise.resolve(info) };
    const attempts = task.poll_attempts + 1;
    const startedAt = task.poll_started_at ?? now;
    if (info.outcome === "result") {
      if (info.update) this.apply(info.update, now);
    } else {
      console.warn(
        JSON.stringify({
          event: "reconcile_failed",
          taskId: task.task_id,
          outcome: info.outcome,
          error: info.message,
        }),
      );
    }
    const finished = ["succeeded", "failed"].includes((this.task() as TaskRow).state);
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

  private needsConfirmation(asset: AssetRow): boolean {
    return config(this.env).confirmWithProvider && asset.via === "callback" && !asset.confirmed;
  }

  /**
   * Confirmation mode: is `url` one the provider itself lists for this task? Concurrent claims
   * share one record-info request, and an answer is reused for CONFIRMATION_FRESH_MS.
   */
  private async confirmUrl(
    task: TaskRow,
    url: string,
  ): Promise<"confirmed" | "unconfirmed" | { reason: string }> {
    const cfg = config(this.env);
    if (!cfg.providerApiKey) return { reason: "CONFIRM_WITH_PROVIDER is on but PROVIDER_API_KEY is not set" };
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

  /** Applies a validated update; a stage lower than the current one changes nothing. */
  private apply(update: TaskUpdate, now: number): void {
    const task = this.task() as TaskRow;
    const current = task.stage ? STAGE_RANK[task.stage as Stage] : 0;
    if (STAGE_RANK[update.stage] < current) return;
    this.sql.exec(
      `UPDATE task SET stage = ?, state = ?, provider_code = ?, provider_message = ?,
         separation_type = COALESCE(?, separation_type), tracks = ?, updated_at = ? WHERE id = 1`,
      update.stage,
      stateOfStage(update.stage),
      update.code,
      update.message,
      update.separationType,
      JSON.stringify(mergeTracks(JSON.parse(task.tracks) as TrackInfo[], update.tracks)),
      now,
    );
    for (const spec of update.assets) this.upsertAsset(spec, update.via, now);
  }

  /** Each asset exists once; a later mention may only add the `source_*` twin it lacked. */
  private upsertAsset(spec: AssetSpec, via: string, now: number): void {
    this.sql.exec(
      `INSERT INTO assets (name, role, url, fallback_url, via, state, created_at, updated_at, position)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, (SELECT COUNT(*) FROM assets))
       ON CONFLICT (name) DO UPDATE SET fallback_url = excluded.fallback_url
         WHERE assets.fallback_url IS NULL AND assets.using_fallback = 0 AND assets.state <> 'stored'
           AND excluded.fallback_url IS NOT NULL AND excluded.fallback_url <> assets.url`,
      spec.name,
      spec.role,
      spec.url,
      spec.fallbackUrl,
      via,
      now,
      now,
    );
  }

  /** Pending assets whose queue message is not being sent right now. */
  private dueAssets(now: number): string[] {
    return this.sql
      .exec<{ name: string }>(
        `SELECT name FROM assets WHERE state = 'pending' AND (enqueue_until IS NULL OR enqueue_until <= ?)
           ORDER BY position`,
        now,
      )
      .toArray()
      .map((row) => row.name);
  }

  /**
   * Takes the send lease of every due asset (so that concurrent deliveries of the same callback
   * do not send twice) and returns them; the caller sends them with `send`.
   */
  private leaseDue(now: number): string[] {
    const due = this.dueAssets(now);
    for (const name of due)
      this.sql.exec("UPDATE assets SET enqueue_until = ? WHERE name = ?", now + ENQUEUE_LEASE_MS, name);
    return due;
  }

  /**
   * Sends one message per leased asset (batches of SEND_BATCH_LIMIT), then marks them `queued`.
   * If a send fails, the leases are dropped, so a duplicate delivery of the callback re-drives
   * the assets at once, and the watchdog does SEND_RETRY_MS later (see nextAlarmAt). Never
   * throws; false if it failed. The caller sets the alarm.
   */
  private async send(assets: string[]): Promise<boolean> {
    const { task_id: taskId } = this.task() as TaskRow;
    const mark = (sql: string, ...params: SqlStorageValue[]) => {
      for (const name of assets) this.sql.exec(sql, ...params, name);
    };
    try {
      for (let i = 0; i < assets.length; i += SEND_BATCH_LIMIT) {
        const jobs = assets.slice(i, i + SEND_BATCH_LIMIT).map((asset): MediaJob => ({ taskId, asset }));
        await this.env.MEDIA_QUEUE.sendBatch(jobs.map((body) => ({ body, contentType: "json" })));
      }
    } catch (error) {
      console.error(
        JSON.stringify({ event: "enqueue_failed", taskId, assets: assets.length, error: String(error) }),
      );
      mark(
        "UPDATE assets SET enqueue_until = NULL, updated_at = ? WHERE name = ? AND state = 'pending'",
        Date.now(),
      );
      return false;
    }
    mark(
      `UPDATE assets SET messages_sent = messages_sent + 1, enqueue_until = NULL, queued_at = ?,
         state = CASE state WHEN 'pending' THEN 'queued' ELSE state END WHERE name = ?`,
      Date.now(),
    );
    return true;
  }

  /** Leases and sends every due asset, waiting for the send (alarm and retry endpoint). */
  private async enqueueDue(now: number): Promise<number> {
    const due = this.leaseDue(now);
    if (due.length > 0) await this.send(due);
    return due.length;
  }

  /** Writes the manifest whenever the task reaches a new settled state, and sets the alarm. */
  private async afterChange(): Promise<void> {
    const task = this.task();
    if (!task) return;
    // One aggregate query decides; the full status is built only when a manifest is written.
    const counts = this.sql
      .exec<AssetCounts>(
        `SELECT COUNT(*) AS total, COALESCE(SUM(state = 'stored'), 0) AS stored,
           COALESCE(SUM(state = 'failed'), 0) AS failed FROM assets`,
      )
      .one();
    const state = archiveState(task, counts);
    const version = `${task.stage}:${counts.total}:${counts.stored}:${state}`;
    if ((state === "archived" || state === "failed") && task.manifest_version !== version) {
      try {
        const status = this.statusOf(task);
        await this.env.MEDIA.put(manifestKey(task.kind, task.task_id), JSON.stringify(status, null, 2), {
          httpMetadata: { contentType: "application/json" },
        });
        this.sql.exec("UPDATE task SET manifest_version = ? WHERE id = 1", version);
      } catch (error) {
        // The task's state is already durable; the watchdog alarm writes the manifest later.
        console.error(
          JSON.stringify({ event: "manifest_write_failed", taskId: task.task_id, error: String(error) }),
        );
        await this.scheduleAlarm(Date.now() + MANIFEST_RETRY_MS);
        return;
      }
    }
    await this.scheduleAlarm();
  }

  /**
   * Sets the task's one alarm to exactly when it is next needed, as the stored state says (see
   * nextAlarmAt), or to `retryAt` if that is earlier; clears it when nothing is pending. So an
   * alarm armed for a lease that has since ended never fires for nothing.
   */
  private async scheduleAlarm(retryAt: number | null = null): Promise<void> {
    const next = this.nextAlarmAt();
    const at = next === null || retryAt === null ? (next ?? retryAt) : Math.min(next, retryAt);
    this.alarmAt ??= await this.ctx.storage.getAlarm();
    if (this.alarmAt === at) return;
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
    this.alarmAt = at;
  }

  /**
   * When an asset could next be stranded or a poll is due; null if never. A leased asset is due
   * when its lease ends; a pending one without a lease (its send failed) SEND_RETRY_MS after
   * that; a queued one when its message counts as lost.
   */
  private nextAlarmAt(): number | null {
    const { next } = this.sql
      .exec<{ next: number | null }>(
        `SELECT MIN(CASE state WHEN 'downloading' THEN lease_until
                               WHEN 'pending' THEN COALESCE(enqueue_until, updated_at + ?)
                               WHEN 'queued' THEN queued_at + ? END) AS next
           FROM assets WHERE state IN ('downloading', 'pending', 'queued')`,
        SEND_RETRY_MS,
        QUEUED_STALE_MS,
      )
      .one();
    const task = this.task();
    const poll = task ? this.pollDueAt(task) : null;
    const earliest = [next, poll].filter((at): at is number => at !== null);
    if (earliest.length === 0) return null;
    return Math.max(Math.min(...earliest), Date.now() + 1000);
  }
}

function mergeTracks(known: TrackInfo[], incoming: TrackInfo[]): TrackInfo[] {
  const byId = new Map(known.map((track) => [track.id, track]));
  for (const track of incoming) {
    const previous = byId.get(track.id);
    const merged = { ...previous, ...track } as TrackInfo;
    if (previous) {
      for (const field of Object.keys(merged) as (keyof TrackInfo)[]) {
        if (merged[field] === null && previous[field] !== null)
          Object.assign(merged, { [field]: previous[field] });
      }
    }
    byId.set(track.id, merged);
  }
  return [...byId.values()];
}
