import type { AssetSpec, TaskUpdate, Via } from "../providers/model";
import { mergeUpdate, STAGE_RANK, type UrlSwitch, urlSwitch } from "./merge";
import type { TaskRow, TaskRows } from "./rows";

/** Writes an update (a callback's or a poll's) into the task: its fields, tracks and assets. */
export class TaskUpdates {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
  ) {}

  /**
   * Applies a validated update; a stage lower than the current one changes nothing. `task` is the
   * task row as it is now, when the caller has it; `fresh`: the task was created in this change,
   * so it has no assets yet.
   */
  apply(update: TaskUpdate, now: number, task: TaskRow = this.rows.requireTask(), fresh = false): void {
    const patch = mergeUpdate(task, update);
    if (!patch) return;
    this.sql.exec(
      `UPDATE task SET stage = ?, state = ?, provider_code = ?, provider_message = ?,
         separation_type = ?, tracks = ?, updated_at = ? WHERE id = 1`,
      patch.stage,
      patch.state,
      patch.providerCode,
      patch.providerMessage,
      patch.separationType,
      JSON.stringify(patch.tracks),
      now,
    );
    const rank = STAGE_RANK[update.stage];
    for (const spec of update.assets) this.upsertAsset(spec, update.via, rank, now, fresh);
  }

  /**
   * Each asset exists once. A later mention may add the `source_*` twin it lacked, and one from a
   * higher stage with another URL switches it to that URL (see `urlSwitch`).
   */
  private upsertAsset(spec: AssetSpec, via: Via, rank: number, now: number, fresh: boolean): void {
    const existing = fresh ? null : this.rows.asset(spec.name);
    if (!existing) {
      this.sql.exec(
        `INSERT INTO assets (name, role, url, fallback_url, via, state, created_at, updated_at, position, url_rank)
           VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, (SELECT COUNT(*) FROM assets), ?)`,
        spec.name,
        spec.role,
        spec.url,
        spec.fallbackUrl,
        via,
        now,
        now,
        rank,
      );
      return;
    }
    const change = urlSwitch(existing, spec, rank);
    if (change) {
      this.switchUrl(spec.name, change, via, rank, now);
      return;
    }
    this.sql.exec(
      `UPDATE assets SET url_rank = MAX(url_rank, ?),
         fallback_url = CASE WHEN fallback_url IS NULL AND using_fallback = 0 AND state <> 'stored'
                              AND ? IS NOT NULL AND ? <> url THEN ? ELSE fallback_url END
       WHERE name = ?`,
      rank,
      spec.fallbackUrl,
      spec.fallbackUrl,
      spec.fallbackUrl,
      spec.name,
    );
  }

  /**
   * Puts an asset on its new URL. A pending or queued one just fetches the new URL when claimed;
   * a failed or stored one is enqueued again (a stored one keeps its object, and its key in the
   * status, until the new file replaces it); a downloading one loses its claim: the consumer
   * fetching the old URL finds its lease gone at its next heartbeat or at the latest before it
   * commits, stores nothing, and its reports are ignored, while the asset is enqueued again.
   */
  private switchUrl(name: string, change: UrlSwitch, via: Via, rank: number, now: number): void {
    const again = change.effect === "keep" ? 0 : 1;
    this.sql.exec(
      `UPDATE assets SET url = ?, fallback_url = ?, using_fallback = 0, url_rank = ?, via = ?, confirmed = 0,
         updated_at = ?,
         state = CASE WHEN ? THEN 'pending' ELSE state END,
         claim_id = CASE WHEN ? THEN NULL ELSE claim_id END,
         lease_until = CASE WHEN ? THEN NULL ELSE lease_until END,
         enqueue_until = CASE WHEN ? THEN NULL ELSE enqueue_until END,
         error = CASE WHEN ? THEN NULL ELSE error END
       WHERE name = ?`,
      change.url,
      change.fallbackUrl,
      rank,
      via,
      now,
      again,
      again,
      again,
      again,
      again,
      name,
    );
  }
}
