import type { TaskKind } from "../core/ids";
import { hasRecordInfo } from "../providers/record-info";
import type { PendingWork } from "./pending-work";
import type { Reconciler } from "./reconciler";
import type { TaskRows } from "./rows";

/**
 * How long a claimed download stays owned without a heartbeat. The consumer renews the lease
 * while bytes flow (every HEARTBEAT_MS), so a consumer that died — or whose body went silent —
 * loses the asset within about a minute, and the alarm re-drives it.
 */
export const DOWNLOAD_LEASE_MS = 60 * 1000;
/** How often a consumer renews its lease while bytes flow: three chances per lease. */
export const HEARTBEAT_MS = 20 * 1000;

export type Claim =
  | {
      status: "claimed";
      claimId: string;
      kind: TaskKind;
      taskId: string;
      url: string;
      /** A file stemvault makes: the JSON it is rendered from (nothing is downloaded). */
      content: string | null;
    }
  | { status: "stored" | "failed" | "unknown" | "deleted" }
  /** Another consumer holds a live lease: redeliver once it could have ended. */
  | { status: "busy"; retryAfterMs: number }
  /** Not decidable now (confirmation mode, provider unreachable): redeliver later. */
  | { status: "retry"; reason: string };

export interface StoredMedia {
  key: string;
  bytes: number;
  sha256: string;
  /** CRC-32 (the ZIP one) of the stored bytes, so that a bundle need not read them to compute it. */
  crc32: number;
  contentType: string;
  downloadMs: number;
  publishMs: number;
}

/**
 * For the retry endpoint, a queued asset's message is overdue this long after it was due. The
 * alarm waits longer (the outbox's grace, a minute or more) because it cannot tell a lost
 * message from a slow queue; an operator who asks has seen that something is stuck.
 */
const RETRY_OVERDUE_MS = 10 * 1000;

/** What the retry endpoint did with each asset that was not stored. */
export interface RetryReport {
  requeued: string[];
  /** Left alone: a download whose lease is alive, or a message that is not overdue yet. */
  untouched: { name: string; state: "downloading" | "queued"; until: string }[];
}

/**
 * The consumer's side of an asset: one download at a time under a lease that the consumer keeps
 * alive with heartbeats, and its outcome — stored, failed (perhaps over to the `source_*` twin)
 * or retrying later. Every report names its claim; a report under a claim that is no longer
 * current (its lease expired and the asset was re-driven) changes nothing.
 */
export class ArchiveClaims implements PendingWork {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
    private readonly reconciler: Reconciler,
  ) {}

  /**
   * Hands an asset to one consumer at a time; a stored or failed asset is never fetched again.
   * In confirmation mode a callback's URL is first checked against the provider's record-info.
   */
  async claim(name: string): Promise<Claim> {
    for (let confirmed = false; ; confirmed = true) {
      const task = this.rows.task();
      const asset = this.rows.asset(name);
      if (!task || !asset) return { status: "unknown" };
      if (asset.state === "stored" || asset.state === "failed") return { status: asset.state };
      const now = Date.now();
      const leaseLeft = asset.state === "downloading" ? (asset.lease_until ?? 0) - now : 0;
      if (leaseLeft > 0) return { status: "busy", retryAfterMs: leaseLeft };
      if (!confirmed && this.reconciler.needsConfirmation(asset)) {
        const verdict = await this.reconciler.confirmUrl(task, asset.url);
        if (verdict === "unconfirmed") {
          this.fail(
            name,
            hasRecordInfo(task.kind)
              ? `unconfirmed_url: the provider's record-info does not list ${asset.url}`
              : `unconfirmed_url: ${task.kind} tasks have no record-info to confirm ${asset.url} with`,
          );
          return { status: "failed" };
        }
        if (verdict !== "confirmed") {
          this.sql.exec("UPDATE assets SET error = ? WHERE name = ?", verdict.reason, name);
          return { status: "retry", reason: verdict.reason };
        }
        continue; // the await let other requests in: look at the asset again
      }
      const claimId = crypto.randomUUID();
      this.sql.exec(
        `UPDATE assets SET state = 'downloading', claim_id = ?, lease_until = ?, enqueue_until = NULL,
           message_due_at = NULL, attempts = attempts + 1, updated_at = ? WHERE name = ?`,
        claimId,
        now + DOWNLOAD_LEASE_MS,
        now,
        name,
      );
      return {
        status: "claimed",
        claimId,
        kind: task.kind,
        taskId: task.task_id,
        url: asset.url,
        content: asset.content,
      };
    }
  }

  /** A heartbeat: extends the lease if `claimId` still holds it; false tells the consumer to stop. */
  renew(name: string, claimId: string): boolean {
    return (
      this.sql.exec(
        "UPDATE assets SET lease_until = ? WHERE name = ? AND state = 'downloading' AND claim_id = ?",
        Date.now() + DOWNLOAD_LEASE_MS,
        name,
        claimId,
      ).rowsWritten > 0
    );
  }

  /** Records a stored file; false (nothing recorded) when the claim is no longer current. */
  stored(name: string, claimId: string, media: StoredMedia): boolean {
    return (
      this.sql.exec(
        `UPDATE assets SET state = 'stored', key = ?, bytes = ?, sha256 = ?, crc32 = ?, content_type = ?,
           error = NULL, download_ms = ?, publish_ms = ?, lease_until = NULL, claim_id = NULL, updated_at = ?
         WHERE name = ? AND state = 'downloading' AND claim_id = ?`,
        media.key,
        media.bytes,
        media.sha256,
        media.crc32 ?? null, // a consumer of the previous version, mid-deploy, sends none
        media.contentType,
        media.downloadMs,
        media.publishMs,
        Date.now(),
        name,
        claimId,
      ).rowsWritten > 0
    );
  }

  /**
   * A permanent failure. If the asset has an untried `source_*` twin, it switches to it and
   * returns its URL for the same consumer to fetch at once (same claim); otherwise the asset is
   * failed. A stale claim changes nothing.
   */
  async failed(name: string, claimId: string, error: string): Promise<{ retryUrl: string | null }> {
    const task = this.rows.task();
    const asset = this.rows.asset(name);
    if (!task || !asset || !this.holds(name, claimId)) return { retryUrl: null };
    const twin = asset.using_fallback ? null : asset.fallback_url;
    const twinNeedsConfirmation = this.reconciler.needsConfirmation({ ...asset, confirmed: 0 });
    if (twin && (!twinNeedsConfirmation || (await this.reconciler.confirmUrl(task, twin)) === "confirmed")) {
      if (!this.holds(name, claimId)) return { retryUrl: null }; // the await let a reset in
      this.sql.exec(
        `UPDATE assets SET url = fallback_url, fallback_url = url, using_fallback = 1, error = ?,
           lease_until = ?, updated_at = ? WHERE name = ?`,
        `${error} (now trying the source URL)`,
        Date.now() + DOWNLOAD_LEASE_MS,
        Date.now(),
        name,
      );
      return { retryUrl: twin };
    }
    if (this.holds(name, claimId)) this.fail(name, error);
    return { retryUrl: null };
  }

  /**
   * A transient failure: the consumer redelivers the message after `delayMs`; until then (plus
   * a grace period) the asset waits in `queued`, and the outbox re-sends it if it never comes.
   */
  retrying(name: string, claimId: string, error: string, delayMs: number): void {
    const now = Date.now();
    this.sql.exec(
      `UPDATE assets SET state = 'queued', error = ?, lease_until = NULL, claim_id = NULL, queued_at = ?,
         message_due_at = ?, updated_at = ?
       WHERE name = ? AND state = 'downloading' AND claim_id = ?`,
      error,
      now,
      now + delayMs,
      now,
      name,
      claimId,
    );
  }

  /** The asset's message exhausted its retries. Unless it got stored meanwhile, it failed. */
  deadLettered(name: string): void {
    const asset = this.rows.asset(name);
    if (!asset || asset.state === "stored" || asset.state === "failed") return;
    if (asset.state === "downloading" && (asset.lease_until ?? 0) > Date.now()) return;
    this.fail(name, `retries exhausted: ${asset.error ?? "no error recorded"}`);
  }

  /**
   * The retry endpoint: every asset that is not stored and not really in progress becomes
   * pending again, for the outbox to send — failed ones, downloads whose lease is dead, queued
   * ones whose message is overdue, pending ones whose send is not under way. A download under a
   * live lease is never started twice.
   */
  reset(now: number): RetryReport {
    const iso = (ms: number | null) => new Date(ms ?? now).toISOString();
    const untouched = this.sql
      .exec<{ name: string; state: "downloading" | "queued"; until: number | null }>(
        `SELECT name, state, CASE state WHEN 'downloading' THEN lease_until
                                 ELSE COALESCE(message_due_at, queued_at) + ? END AS until
           FROM assets
          WHERE (state = 'downloading' AND lease_until > ?)
             OR (state = 'queued' AND COALESCE(message_due_at, queued_at) + ? > ?)
          ORDER BY position`,
        RETRY_OVERDUE_MS,
        now,
        RETRY_OVERDUE_MS,
        now,
      )
      .toArray()
      .map((row) => ({ name: row.name, state: row.state, until: iso(row.until) }));
    const requeued = this.sql
      .exec<{ name: string }>(
        `UPDATE assets SET state = 'pending', enqueue_until = NULL, lease_until = NULL, claim_id = NULL,
           message_due_at = NULL, error = NULL,
           url = CASE WHEN using_fallback = 1 THEN fallback_url ELSE url END,
           fallback_url = CASE WHEN using_fallback = 1 THEN url ELSE fallback_url END,
           using_fallback = 0, updated_at = ?
         WHERE state = 'failed'
            OR (state = 'downloading' AND lease_until <= ?)
            OR (state = 'queued' AND COALESCE(message_due_at, queued_at) + ? <= ?)
            OR (state = 'pending' AND (enqueue_until IS NULL OR enqueue_until <= ?))
         RETURNING name`,
        now,
        now,
        RETRY_OVERDUE_MS,
        now,
        now,
      )
      .toArray()
      .map((row) => row.name);
    return { requeued, untouched };
  }

  /** When the earliest download lease ends. */
  readonly dueQuery = "SELECT MIN(lease_until) AS next FROM assets WHERE state = 'downloading'";

  nextDueAt(): number | null {
    if (!this.rows.exists) return null;
    return this.sql.exec<{ next: number | null }>(this.dueQuery).one().next;
  }

  /** A download whose lease ended lost its consumer: the asset is pending again. */
  runDue(now: number): void {
    this.sql.exec(
      `UPDATE assets SET state = 'pending', enqueue_until = NULL, lease_until = NULL, claim_id = NULL,
         updated_at = ?
       WHERE state = 'downloading' AND lease_until <= ?`,
      now,
      now,
    );
  }

  private holds(name: string, claimId: string): boolean {
    const asset = this.rows.asset(name);
    return asset?.state === "downloading" && asset.claim_id === claimId;
  }

  private fail(name: string, error: string): void {
    this.sql.exec(
      `UPDATE assets SET state = 'failed', error = ?, lease_until = NULL, claim_id = NULL, updated_at = ?
         WHERE name = ?`,
      error,
      Date.now(),
      name,
    );
  }
}
