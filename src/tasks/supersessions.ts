import type { TaskRows } from "./rows";

/**
 * Downloads overtaken by a later stage. When `complete` gives a downloading asset a new URL
 * (see `urlSwitch`), the consumer that holds its lease is still fetching the old one: whatever it
 * reports — stored, failed, retrying — is for a URL that is no longer the asset's, so the asset
 * goes back to `pending` and the outbox sends it again, to be fetched from the new URL.
 */
export class Supersessions {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
  ) {}

  /**
   * Called with a consumer's outcome for `name`: true when that outcome was for a superseded URL
   * and the asset is pending again (the caller flushes the outbox).
   */
  settle(name: string, now: number): boolean {
    const asset = this.rows.asset(name);
    if (!asset?.superseded) return false;
    this.sql.exec(
      `UPDATE assets SET state = 'pending', superseded = 0, lease_until = NULL, enqueue_until = NULL,
         error = NULL, updated_at = ? WHERE name = ?`,
      now,
      name,
    );
    return true;
  }

  /**
   * A mark outlives the download it was for when that download's lease ended (its consumer is
   * gone, and the next claim fetches the new URL anyway): forgotten before any claim, so that the
   * next consumer's outcome counts.
   */
  forgetStale(now: number): void {
    if (!this.rows.exists) return;
    this.sql.exec(
      `UPDATE assets SET superseded = 0
        WHERE superseded = 1 AND NOT (state = 'downloading' AND COALESCE(lease_until, 0) > ?)`,
      now,
    );
  }
}
