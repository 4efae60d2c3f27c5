import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyMigrations, ensureLocalSchema, MIGRATIONS, statementsOf } from "../../src/index-db/schema";
import { listTasks } from "../helpers/index";
import { bearer, request } from "../helpers/worker";

const tables = async () =>
  (
    await env.INDEX.prepare(
      "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name",
    ).all<{
      name: string;
    }>()
  ).results
    .map((row) => row.name)
    .filter((name) => !name.startsWith("sqlite_") && !name.startsWith("_cf"));

const squash = (sql: string) => sql.replace(/\s+/g, " ").replace(/;$/, "").trim();

describe("the index's schema", () => {
  it("bundles exactly the migration files wrangler reads, split into the same statements", () => {
    expect(MIGRATIONS.map((migration) => migration.name)).toEqual(env.INDEX_MIGRATIONS.map((m) => m.name));
    MIGRATIONS.forEach((migration, index) => {
      const wranglers = (env.INDEX_MIGRATIONS[index]?.queries ?? [])
        .map((query) => squash(query.replace(/--[^\n]*\n/g, "")))
        .filter((query) => query.length > 0);
      expect(statementsOf(migration.sql).map(squash)).toEqual(wranglers);
    });
  });

  it("has the tables and indexes the list needs", async () => {
    expect(await tables()).toEqual([
      "d1_migrations",
      "deleted_tasks",
      "tasks",
      "tasks_by_archive",
      "tasks_by_kind",
      "tasks_by_state",
      "tasks_by_updated",
    ]);
  });

  it("pages with an index, never a table scan and sort", async () => {
    const plan = async (where: string) =>
      (
        await env.INDEX.prepare(
          `EXPLAIN QUERY PLAN SELECT * FROM tasks ${where} ORDER BY updated_at DESC, task_id DESC LIMIT 51`,
        ).all<{ detail: string }>()
      ).results
        .map((row) => row.detail)
        .join("; ");
    expect(await plan("")).toMatch(/USING INDEX tasks_by_updated/);
    expect(await plan("WHERE (updated_at, task_id) < (1, 'x')")).toMatch(/USING INDEX tasks_by_updated/);
    expect(await plan("WHERE kind = 'music'")).toMatch(/USING INDEX tasks_by_kind/);
    expect(await plan("WHERE archive_state = 'failed'")).toMatch(/USING INDEX tasks_by_archive/);
    for (const where of ["", "WHERE kind = 'video'", "WHERE state = 'failed'"]) {
      expect(await plan(where)).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("is created from nothing by the Worker itself in local development, as wrangler would", async () => {
    await env.INDEX.batch(
      ["tasks", "deleted_tasks", "d1_migrations"].map((name) => env.INDEX.prepare(`DROP TABLE ${name}`)),
    );
    expect(await tables()).toEqual([]);
    // A fresh `--persist-to` folder: the first request brings the schema (LOCAL_DEV is on in tests).
    const { status, body } = await listTasks();
    expect([status, body]).toEqual([200, { tasks: [], nextCursor: null }]);
    expect(await tables()).toHaveLength(7);
    const applied = await env.INDEX.prepare("SELECT name FROM d1_migrations").all<{ name: string }>();
    expect(applied.results.map((row) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
    // Applying again finds nothing to do (and so would `wrangler d1 migrations apply`).
    expect(await applyMigrations(env.INDEX)).toEqual([]);
    await ensureLocalSchema(env.INDEX, true);
  });

  it("answers 503 index_not_ready, not a 500, when a deployment lacks the schema", async () => {
    await env.INDEX.batch(
      ["tasks", "deleted_tasks", "d1_migrations"].map((name) => env.INDEX.prepare(`DROP TABLE ${name}`)),
    );
    try {
      // A deployment (LOCAL_DEV unset) never creates the schema itself.
      const response = await request("/tasks", { headers: bearer }, { LOCAL_DEV: "false" });
      expect(response.status).toBe(503);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("index_not_ready");
      expect(body.error.message).toMatch(/wrangler d1 migrations apply stemvault-index --remote/);
      expect(await tables()).toEqual([]);
    } finally {
      await applyMigrations(env.INDEX);
    }
  });
});
