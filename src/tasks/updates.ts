import type { AssetSpec, TaskUpdate, Via } from "../providers/model";
import { mergeUpdate } from "./merge";
import type { TaskRows } from "./rows";

/** Writes an update (a callback's or a poll's) into the task: its fields, tracks and assets. */
export class TaskUpdates {
  constructor(
    private readonly sql: SqlStorage,
    private readonly rows: TaskRows,
  ) {}

  /** Applies a validated update; a stage lower than the current one changes nothing. */
  apply(update: TaskUpdate, now: number): void {
    const patch = mergeUpdate(this.rows.requireTask(), update);
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
    for (const spec of update.assets) this.upsertAsset(spec, update.via, now);
  }

  /** Each asset exists once; a later mention may only add the `source_*` twin it lacked. */
  private upsertAsset(spec: AssetSpec, via: Via, now: number): void {
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
}
