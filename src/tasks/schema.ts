/**
 * The task object's SQLite schema. `SCHEMA` is the present: a new object is created with it in
 * one statement. `MIGRATIONS` is history: the steps that bring an object created by an earlier
 * version up to `SCHEMA`, never edited once released, only appended to. The two therefore spell
 * the first tables twice (the first migration's CREATE TABLEs, and SCHEMA's with every later
 * column); `test/integration/task-schema.test.ts` fails unless replaying the migrations gives
 * exactly SCHEMA's tables and columns. A change of schema is a new migration *and* an edit of
 * SCHEMA. The rows' types are in rows.ts.
 */

/** Tables created whole by one migration, so SCHEMA and MIGRATIONS share their DDL. */
const EVENTS_TABLE = `CREATE TABLE events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    messages_sent INTEGER NOT NULL DEFAULT 0,
    send_until INTEGER,
    sent INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    attempt_until INTEGER,
    message_attempts INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  )`;
const REPLACED_OBJECTS_TABLE =
  "CREATE TABLE replaced_objects (key TEXT PRIMARY KEY, due_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)";
/** The index row's outbox, one row (see IndexSync in index-sync.ts). */
const INDEX_SYNC_TABLE = `CREATE TABLE IF NOT EXISTS index_sync (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    target TEXT NOT NULL,
    synced_version INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    writes INTEGER NOT NULL DEFAULT 0
  )`;

const BUNDLE_LAYOUTS_TABLE =
  "CREATE TABLE bundle_layouts (key TEXT PRIMARY KEY, layout TEXT NOT NULL, saved_at INTEGER NOT NULL)";

/**
 * The schema as the migrations below leave it. A fresh object is given it in one step: replaying
 * every ALTER TABLE was the largest cost of a new task's first callback. A test checks that both
 * ways end in the same tables and columns, so a new migration must change this too.
 */
const SCHEMA = `
  CREATE TABLE task (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    task_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    provider_code INTEGER,
    provider_message TEXT,
    separation_type TEXT,
    tracks TEXT NOT NULL DEFAULT '[]',
    duplicates INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER,
    first_callback_at INTEGER,
    last_callback_at INTEGER,
    manifest_version TEXT,
    next_poll_at INTEGER,
    poll_attempts INTEGER NOT NULL DEFAULT 0,
    poll_started_at INTEGER,
    last_poll_at INTEGER,
    last_poll_status TEXT,
    poll_error TEXT,
    manifest_failed_at INTEGER,
    callback_origin TEXT,
    event_mark TEXT,
    via TEXT NOT NULL DEFAULT 'callback',
    request TEXT,
    results TEXT
  );
  CREATE TABLE callbacks (
    hash TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    stage TEXT NOT NULL,
    code INTEGER NOT NULL,
    raw TEXT NOT NULL,
    message TEXT,
    duplicates INTEGER NOT NULL DEFAULT 0,
    recognized INTEGER NOT NULL DEFAULT 1,
    route TEXT
  );
  CREATE TABLE assets (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    url TEXT NOT NULL,
    fallback_url TEXT,
    using_fallback INTEGER NOT NULL DEFAULT 0,
    via TEXT NOT NULL,
    state TEXT NOT NULL,
    key TEXT,
    bytes INTEGER,
    sha256 TEXT,
    content_type TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    messages_sent INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    lease_until INTEGER,
    enqueue_until INTEGER,
    queued_at INTEGER,
    position INTEGER NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 0,
    download_ms INTEGER,
    publish_ms INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    claim_id TEXT,
    message_due_at INTEGER,
    url_rank INTEGER NOT NULL DEFAULT 0,
    content TEXT,
    crc32 INTEGER
  );
  ${EVENTS_TABLE};
  ${REPLACED_OBJECTS_TABLE};
  ${INDEX_SYNC_TABLE};
  ${BUNDLE_LAYOUTS_TABLE};`;

/**
 * How objects created by earlier versions reach SCHEMA, one step each, in order. Only ever
 * appended to; a fresh object skips them all.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE task (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     task_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     state TEXT NOT NULL,
     stage TEXT,
     provider_code INTEGER,
     provider_message TEXT,
     separation_type TEXT,
     tracks TEXT NOT NULL DEFAULT '[]',
     duplicates INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     updated_at INTEGER,
     first_callback_at INTEGER,
     last_callback_at INTEGER,
     manifest_version TEXT,
     next_poll_at INTEGER,
     poll_attempts INTEGER NOT NULL DEFAULT 0,
     poll_started_at INTEGER,
     last_poll_at INTEGER,
     last_poll_status TEXT,
     poll_error TEXT
   );
   CREATE TABLE callbacks (
     hash TEXT PRIMARY KEY,
     received_at INTEGER NOT NULL,
     stage TEXT NOT NULL,
     code INTEGER NOT NULL,
     raw TEXT NOT NULL
   );
   CREATE TABLE assets (
     name TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     url TEXT NOT NULL,
     fallback_url TEXT,
     using_fallback INTEGER NOT NULL DEFAULT 0,
     via TEXT NOT NULL,
     state TEXT NOT NULL,
     key TEXT,
     bytes INTEGER,
     sha256 TEXT,
     content_type TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     messages_sent INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     lease_until INTEGER,
     enqueue_until INTEGER,
     queued_at INTEGER,
     position INTEGER NOT NULL,
     confirmed INTEGER NOT NULL DEFAULT 0,
     download_ms INTEGER,
     publish_ms INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );`,
  `ALTER TABLE callbacks ADD COLUMN message TEXT;
   ALTER TABLE callbacks ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE task ADD COLUMN manifest_failed_at INTEGER;`,
  `ALTER TABLE assets ADD COLUMN claim_id TEXT;
   ALTER TABLE assets ADD COLUMN message_due_at INTEGER;`,
  // Which stage set an asset's URL (the latest authoritative one wins). Existing URLs count as
  // the task's stage.
  `ALTER TABLE assets ADD COLUMN url_rank INTEGER NOT NULL DEFAULT 0;
   UPDATE assets SET url_rank = COALESCE((SELECT CASE stage WHEN 'text' THEN 1 WHEN 'first' THEN 2
     WHEN 'error' THEN 3 WHEN 'complete' THEN 4 ELSE 0 END FROM task WHERE id = 1), 0);`,
  `ALTER TABLE task ADD COLUMN callback_origin TEXT;
   ALTER TABLE task ADD COLUMN event_mark TEXT;
   UPDATE task SET event_mark = 'before-events';
   ${EVENTS_TABLE};`,
  // Objects a re-archive replaced (another extension), deleted by ReplacedObjects.
  `${REPLACED_OBJECTS_TABLE};`,
  // The index row's outbox (IndexSync). Objects of the first indexed version created it
  // themselves, hence IF NOT EXISTS.
  `${INDEX_SYNC_TABLE};`,
  // How the task became known (callback, POST /tasks, or submitted through POST /provider/…) and
  // the submitted request. Earlier tasks that no callback reached can only have been registered.
  `ALTER TABLE task ADD COLUMN via TEXT NOT NULL DEFAULT 'callback';
   ALTER TABLE task ADD COLUMN request TEXT;
   UPDATE task SET via = 'register' WHERE first_callback_at IS NULL;`,
  // The whole callback family: a lyrics or MIDI task's results, callbacks of a shape stemvault
  // did not know (kept raw, re-parsed by a retry), and files stemvault makes from a callback's
  // data (the JSON they are rendered from).
  `ALTER TABLE task ADD COLUMN results TEXT;
   ALTER TABLE callbacks ADD COLUMN recognized INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE callbacks ADD COLUMN route TEXT;
   ALTER TABLE assets ADD COLUMN content TEXT;`,
  // A stored file's CRC-32, recorded as it is archived so that a bundle need not compute it.
  // Files stored earlier have none until a bundle computes it once (see recordCrc32).
  "ALTER TABLE assets ADD COLUMN crc32 INTEGER;",
  // Laid-out bundles (BundleLayouts), so that a bundle downloaded again is only written.
  `${BUNDLE_LAYOUTS_TABLE};`,
];

/** True once the object has a schema, i.e. once it has stored anything at all. */
export const hasSchema = (sql: SqlStorage) =>
  sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;

/** Gives a fresh object the current schema in one step. */
export function createSchema(sql: SqlStorage): void {
  sql.exec(`${SCHEMA}
    CREATE TABLE _migrations (version INTEGER PRIMARY KEY);
    INSERT INTO _migrations (version) VALUES (${MIGRATIONS.length});`);
}

/** Brings an object's SQLite schema up to date: each migration it lacks runs once, in order. */
export function migrate(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY)");
  const applied = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _migrations").one().v ?? 0;
  MIGRATIONS.slice(applied).forEach((step, index) => {
    sql.exec(step);
    sql.exec("INSERT INTO _migrations (version) VALUES (?)", applied + index + 1);
  });
}
