import type { Kind } from "../core/ids";
import { QUEUED_STALE_MS } from "./outbox";
import type { Reconciler } from "./reconciler";
import type { TaskRows } from "./rows";

/**
 * How long a consumer owns an asset it claimed. Equal to a queue consumer's maximum wall time,
 * so an expired lease means that invocation is gone and the asset may be claimed again.
 */
export const DOWNLOAD_LEASE_MS = 15 * 60 * 1000;

export type Claim =
  | { status: "claimed"; kind: Kind; taskId: string; url: string }
  | { status: "stored" | "failed" | "busy" | "unknown" | "deleted" }
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
 * The consumer's side of an asset: one download at a time under a lease, and its outcome
 * (stored, failed — perhaps over to the `source_*` twin — or retrying later).
 */
export class ArchiveClaims {
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
      if (asset.state === "downloading" && (asset.lease_until ?? 0) > now) return { status: "busy" };
      if (!confirmed && this.reconciler.needsConfirmation(asset)) {
        const verdict = await this.reconciler.confirmUrl(task, asset.url);
        if (verdict === "unconfirmed") {
          this.fail(name, `unconfirmed_url: the provider's record-info does not list ${asset.url}`);
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
      return { status: "claimed", kind: task.kind, taskId: task.task_id, url: asset.url };
    }
  }

  stored(name: string, media: StoredMedia): void {
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
  }

  /**
   * A permanent failure. If the asset has an untried `source_*` twin, it switches to it and
   * returns its URL for the same consumer to fetch at once; otherwise the asset is failed.
   */
  async failed(name: string, error: string): Promise<{ retryUrl: string | null }> {
    const asset = this.rows.asset(name);
    const task = this.rows.task();
    if (!task || !asset || asset.state === "stored") return { retryUrl: null };
    const twin = asset.using_fallback ? null : asset.fallback_url;
    const twinNeedsConfirmation = this.reconciler.needsConfirmation({ ...asset, confirmed: 0 });
    if (twin && (!twinNeedsConfirmation || (await this.reconciler.confirmUrl(task, twin)) === "confirmed")) {
      this.sql.exec(
        `UPDATE assets SET url = fallback_url, fallback_url = url, using_fallback = 1, error = ?, updated_at = ?
           WHERE name = ?`,
        `${error} (now trying the source URL)`,
        Date.now(),
        name,
      );
      return { retryUrl: twin };
    }
    this.fail(name, error);
    return { retryUrl: null };
  }

  /** A transient failure: the message will be redelivered; the asset waits in `queued`. */
  retrying(name: string, error: string): void {
    const now = Date.now();
    this.sql.exec(
      `UPDATE assets SET state = 'queued', error = ?, lease_until = NULL, queued_at = ?, updated_at = ?
         WHERE name = ? AND state = 'downloading'`,
      error,
      now,
      now,
      name,
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
   * Makes failed and stuck assets pending again, for the outbox to send (the retry endpoint).
   * Returns how many.
   */
  reset(now: number): number {
    return this.sql.exec(
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
    ).rowsWritten;
  }

  /** A download whose lease ended lost its consumer: the asset is pending again. */
  expireLeases(now: number): void {
    this.sql.exec(
      `UPDATE assets SET state = 'pending', enqueue_until = NULL, lease_until = NULL, updated_at = ?
        WHERE state = 'downloading' AND lease_until <= ?`,
      now,
      now,
    );
  }

  /** When the earliest download lease ends. */
  nextWakeAt(): number | null {
    if (!this.rows.exists) return null;
    return this.sql
      .exec<{ next: number | null }>(
        "SELECT MIN(lease_until) AS next FROM assets WHERE state = 'downloading'",
      )
      .one().next;
  }

  private fail(name: string, error: string): void {
    this.sql.exec(
      "UPDATE assets SET state = 'failed', error = ?, lease_until = NULL, updated_at = ? WHERE name = ?",
      error,
      Date.now(),
      name,
    );
  }
}
