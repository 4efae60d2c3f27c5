/**
 * The layouts of the task's bundle (src/bundles/zip.ts: zip.js's bytes around the files),
 * each under the hash of what it lays out: laying a ZIP out costs CPU in proportion to its files'
 * sizes, writing one from its layout next to none, so a bundle is laid out once and then only
 * written. A cache: a missing layout is laid out again by the next download. The newest few are
 * kept (a partial bundle and the complete one differ); deleting the task deletes them
 * (TaskDeletion).
 */
export class BundleLayouts {
  static readonly KEPT = 3;

  constructor(private readonly sql: SqlStorage) {}

  get(key: string): string | null {
    return (
      this.sql.exec<{ layout: string }>("SELECT layout FROM bundle_layouts WHERE key = ?", key).toArray()[0]
        ?.layout ?? null
    );
  }

  save(key: string, layout: string, now: number): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO bundle_layouts (key, layout, saved_at) VALUES (?, ?, ?)",
      key,
      layout,
      now,
    );
    this.sql.exec(
      `DELETE FROM bundle_layouts WHERE key NOT IN
         (SELECT key FROM bundle_layouts ORDER BY saved_at DESC, rowid DESC LIMIT ?)`,
      BundleLayouts.KEPT,
    );
  }
}
