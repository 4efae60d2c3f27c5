import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { createSchema, hasSchema, MIGRATIONS, migrate } from "../../src/tasks/schema";
import { taskStub } from "../../src/tasks/stub";
import type { TaskObject } from "../../src/tasks/task-object";
import { uniqueId } from "../helpers/worker";

type Column = { name: string; type: string; notnull: number; dflt_value: string | null; pk: number };

/** Every table of the object with its columns (sorted by name: ALTER TABLE appends at the end). */
const describeSchema = (sql: SqlStorage) =>
  Object.fromEntries(
    sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\' ORDER BY name",
      )
      .toArray()
      .map(({ name }) => [
        name,
        sql
          .exec<Column>(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('${name}')`)
          .toArray()
          .sort((a, b) => a.name.localeCompare(b.name)),
      ]),
  );

const freshObject = <T>(run: (sql: SqlStorage) => T) =>
  runInDurableObject(taskStub(env, uniqueId("schema")), (_: TaskObject, state) => {
    expect(hasSchema(state.storage.sql)).toBe(false); // a fresh object has no tables yet
    return run(state.storage.sql);
  });

it("gives a fresh object, in one step, the very schema that replaying every migration gives", async () => {
  const created = await freshObject((sql) => {
    createSchema(sql);
    return {
      schema: describeSchema(sql),
      version: sql.exec("SELECT MAX(version) AS v FROM _migrations").one().v,
    };
  });
  const replayed = await freshObject((sql) => {
    migrate(sql);
    return {
      schema: describeSchema(sql),
      version: sql.exec("SELECT MAX(version) AS v FROM _migrations").one().v,
    };
  });
  expect(Object.keys(created.schema)).toEqual(
    expect.arrayContaining(["task", "assets", "callbacks", "events", "replaced_objects", "index_sync"]),
  );
  expect(created).toEqual(replayed);
});

it("brings an object of the first version up to date, keeping its rows", async () => {
  const current = await freshObject((sql) => {
    createSchema(sql);
    return describeSchema(sql);
  });
  const upgraded = await freshObject((sql) => {
    // As the first version left an object: its one migration applied, a task with a file.
    sql.exec(MIGRATIONS[0] ?? "");
    sql.exec("CREATE TABLE _migrations (version INTEGER PRIMARY KEY); INSERT INTO _migrations VALUES (1)");
    sql.exec(
      `INSERT INTO task (id, task_id, kind, state, stage, created_at) VALUES (1, 't1', 'music', 'succeeded', 'complete', 1)`,
    );
    sql.exec(
      `INSERT INTO assets (name, role, url, via, state, position, created_at, updated_at)
         VALUES ('audio-1', 'audio', 'https://example.com/a.mp3', 'callback', 'stored', 0, 1, 1)`,
    );
    migrate(sql);
    return {
      schema: describeSchema(sql),
      task: sql.exec("SELECT task_id, state, event_mark FROM task").one(),
      asset: sql.exec("SELECT name, state, url_rank, claim_id FROM assets").one(),
    };
  });
  expect(upgraded.schema).toEqual(current);
  expect(upgraded.task).toEqual({ task_id: "t1", state: "succeeded", event_mark: "before-events" });
  expect(upgraded.asset).toEqual({ name: "audio-1", state: "stored", url_rank: 4, claim_id: null });
});
