import tasks0001 from "../../migrations/0001_tasks.sql";

/**
 * The index's migrations, the very files `wrangler d1 migrations apply` reads (bundled as text),
 * named as wrangler names them. A new file in migrations/ must be listed here too; a test
 * compares this list with the folder.
 */
export const MIGRATIONS: readonly { name: string; sql: string }[] = [
  { name: "0001_tasks.sql", sql: tasks0001 },
];

/** wrangler's own bookkeeping table, so that both ways of migrating agree on what is applied. */
const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS d1_migrations(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`;

/** The statements of a migration file: `--` comments dropped, split at each `;` ending a line. */
export function statementsOf(sql: string): string[] {
  return sql
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

/**
 * Applies the migrations `db` lacks, exactly as `wrangler d1 migrations apply` would (each file
 * in one batch, i.e. one transaction, recorded in `d1_migrations`). For local development only:
 * a deployment applies them with `wrangler d1 migrations apply stemvault-index --remote`.
 */
export async function applyMigrations(db: D1Database): Promise<string[]> {
  await db.prepare(BOOKKEEPING).run();
  const { results } = await db.prepare("SELECT name FROM d1_migrations").all<{ name: string }>();
  const applied = new Set(results.map((row) => row.name));
  const missing = MIGRATIONS.filter((migration) => !applied.has(migration.name));
  for (const migration of missing) {
    try {
      await db.batch([
        ...statementsOf(migration.sql).map((statement) => db.prepare(statement)),
        db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(migration.name),
      ]);
    } catch (error) {
      // Another isolate applied it first: its batch committed, ours rolled back whole.
      const again = await db
        .prepare("SELECT 1 FROM d1_migrations WHERE name = ?")
        .bind(migration.name)
        .first();
      if (!again) throw error;
    }
  }
  return missing.map((migration) => migration.name);
}

let ensured: Promise<unknown> | null = null;

/**
 * Local development (`LOCAL_DEV=true`): the index's schema is brought up to date once per isolate
 * before its first use, so `npm run dev` lists tasks on a fresh clone and with any
 * `--persist-to` folder, with no setup step. Does nothing in a deployment.
 */
export function ensureLocalSchema(db: D1Database, localDev: boolean): Promise<unknown> {
  if (!localDev) return Promise.resolve();
  ensured ??= applyMigrations(db).catch((error) => {
    ensured = null; // tried again on the next use
    throw error;
  });
  return ensured;
}
