// `npm run bench:index` (not part of `npm test`): the task index at scale, and what it costs the
// ack path.
//
// 1. List latency. For 10,000 and 100,000 tasks: a fresh `--persist-to` folder whose D1 gets the
//    schema with `wrangler d1 migrations apply --local` and the rows with `wrangler d1 execute
//    --local --file` (seeded directly, as a long-running deployment would have them), then a
//    `wrangler dev` on it (support/dev-server.ts), and GET /tasks through the typed client
//    (support/api-client.ts): the first page, filtered pages, a page deep behind a cursor — each
//    `--requests` times, one at a time, reporting p50/p99 — and a walk over every page (limit
//    200) that must yield every task exactly once.
// 2. Ack cost. The ack section of `npm run bench` (bench/ack.ts) run on the Worker before the
//    index (`--base`, default: where this branch left main) and on this tree, alternately, in the
//    same run: POST /callbacks with distinct tasks and with duplicates at 1, 16 and 64
//    connections.
//
// Writes its section of BENCHMARKS.md (between the `bench:index` markers; `npm run bench` keeps
// it) unless --quick.
//
//   node bench/index.ts [--quick] [--only list,ack] [--base <commit>] [--sizes 10000,100000]
//   node bench/index.ts --from bench/.state/index-run.json   (renders a saved run again)

import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { apiClient } from "../support/api-client.ts";
import { Client } from "../support/client.ts";
import { startDevServer } from "../support/dev-server.ts";
import { startOrigin } from "../support/origin.ts";
import { type AckLevel, runAck } from "./ack.ts";
import { percentile, progress } from "./measure.ts";
import { workerdPids } from "./workerd.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const START = "<!-- bench:index:start -->";
const END = "<!-- bench:index:end -->";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string", default: "list,ack" },
    base: { type: "string" },
    sizes: { type: "string" },
    requests: { type: "string" },
    from: { type: "string" },
  },
});
const quick = values.quick ?? false;
const sections = new Set((values.only ?? "").split(","));
const sizes = (values.sizes ?? (quick ? "2000" : "10000,100000")).split(",").map(Number);
const requests = Number(values.requests ?? (quick ? 40 : 300));
const git = (...args: string[]) => execFileSync("git", ["-C", ROOT, ...args], { encoding: "utf8" }).trim();
const base = values.base ?? git("merge-base", "HEAD", "main");

const wrangler = (cwd: string, args: string[]) =>
  execFileSync(join(ROOT, "node_modules", ".bin", "wrangler"), args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`,
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
    },
    maxBuffer: 64 * 1024 * 1024,
  });

/** A copy of the Worker's source as of `commit` (or of the work tree), so edits cannot reload it. */
function snapshot(commit: string | null): string {
  const dir = mkdtempSync(join(os.tmpdir(), "stemvault-bench-index-"));
  const entries = [
    "src",
    "public",
    "migrations",
    "wrangler.toml",
    "package.json",
    "tsconfig.json",
    "worker-configuration.d.ts",
  ];
  if (commit) {
    const present = entries.filter((entry) => {
      try {
        git("cat-file", "-e", `${commit}:${entry}`);
        return true;
      } catch {
        return false;
      }
    });
    execFileSync("sh", [
      "-c",
      `git -C "${ROOT}" archive ${commit} ${present.join(" ")} | tar -x -C "${dir}"`,
    ]);
  } else {
    for (const entry of entries) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** Deterministic pseudo-random numbers (mulberry32), so every run seeds the same rows. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: number, weighted: [T, number][]): T => {
  let acc = 0;
  for (const [value, weight] of weighted) {
    acc += weight;
    if (r < acc) return value;
  }
  return weighted[weighted.length - 1]?.[0] as T;
};

/**
 * `n` tasks as a month of traffic might leave them: 60% music, 25% separation, 15% video; most
 * archived, some failed or in progress; updated within 30 days at whole seconds (so many share
 * an updatedAt); provider-style 32-hex ids. Multi-row INSERTs of 400 rows (each < 100 KB).
 */
function seedSql(n: number, now: number): string {
  const next = random(12345);
  const hex = () => Array.from({ length: 32 }, () => "0123456789abcdef"[Math.floor(next() * 16)]).join("");
  const lines: string[] = [];
  let rows: string[] = [];
  const flush = () => {
    if (rows.length === 0) return;
    lines.push(
      `INSERT INTO tasks (task_id, kind, state, stage, archive_state, stored, failed, total, bytes, created_at, updated_at, version) VALUES\n${rows.join(",\n")};`,
    );
    rows = [];
  };
  for (let i = 0; i < n; i++) {
    const kind = pick(next(), [
      ["music", 0.6],
      ["separation", 0.25],
      ["video", 0.15],
    ]);
    const total = kind === "music" ? 4 : kind === "separation" ? 12 : 1;
    const [state, stage, archive] = pick(next(), [
      [["succeeded", "complete", "archived"], 0.82],
      [["succeeded", "complete", "failed"], 0.03],
      [["succeeded", "complete", "archiving"], 0.03],
      [["failed", "error", "none"], 0.05],
      [["in_progress", kind === "music" ? "first" : "complete", "archiving"], 0.04],
      [["awaiting_callback", null, "none"], 0.03],
    ] as [[string, string | null, string], number][]);
    const stored = archive === "archived" ? total : archive === "none" ? 0 : Math.floor(total / 2);
    const failed = archive === "failed" ? 1 : 0;
    const updatedAt = Math.floor((now - next() * 30 * 86_400_000) / 1000) * 1000;
    const createdAt = updatedAt - Math.floor(next() * 3_600_000);
    const bytes = stored * 3_000_000;
    rows.push(
      `('${hex()}','${kind}','${state}',${stage ? `'${stage}'` : "NULL"},'${archive}',${stored},${failed},${archive === "none" && state !== "awaiting_callback" ? 0 : total},${bytes},${createdAt},${updatedAt},1)`,
    );
    if (rows.length === 400) flush();
  }
  flush();
  return lines.join("\n");
}

/** Bytes of the SQLite files (and their WAL) under `dir`. */
function sqliteBytes(dir: string): number | null {
  if (!existsSync(dir)) return null;
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && /\.sqlite(-wal)?$/.test(entry.name))
      total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

interface Latency {
  label: string;
  query: string;
  requests: number;
  p50: number;
  p99: number;
  mean: number;
  rows: number;
}

interface ListResult {
  n: number;
  seedSeconds: number;
  /** The database file's size after seeding (tables and indexes). */
  databaseBytes?: number | null;
  latencies: Latency[];
  walk: { pages: number; tasks: number; unique: number; seconds: number; p50: number; p99: number };
}

type Query = Record<string, string | number>;

async function measureList(n: number): Promise<ListResult> {
  const project = snapshot(null);
  const persistDir = mkdtempSync(join(os.tmpdir(), "stemvault-bench-d1-"));
  const now = Date.now();
  try {
    progress(`list ${n}: applying migrations and seeding ${n} rows`);
    const seedStarted = performance.now();
    wrangler(project, [
      "d1",
      "migrations",
      "apply",
      "stemvault-index",
      "--local",
      "--persist-to",
      persistDir,
    ]);
    const seedFile = join(persistDir, "seed.sql");
    writeFileSync(seedFile, seedSql(n, now));
    wrangler(project, [
      "d1",
      "execute",
      "stemvault-index",
      "--local",
      "--persist-to",
      persistDir,
      "--file",
      seedFile,
      "--yes",
    ]);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    // The local D1's SQLite file (D1's own pragmas are not allowed): tables and indexes.
    const databaseBytes = sqliteBytes(join(persistDir, "v3", "d1"));
    const dev = await startDevServer({ cwd: project, persistDir, logLevel: "warn" });
    try {
      const client = apiClient({ baseUrl: dev.url, apiToken: "dev-api-token" });
      const list = async (query: Query) => {
        const started = performance.now();
        const { data, response } = await client.GET("/tasks", { params: { query: query as never } });
        const ms = performance.now() - started;
        if (!data) throw new Error(`GET /tasks ${JSON.stringify(query)} answered ${response.status}`);
        return { ms, data };
      };

      progress(`list ${n}: walking every page (limit 200)`);
      const walkTimes: number[] = [];
      const seen = new Set<string>();
      let count = 0;
      let cursor: string | null = null;
      let deepCursor: string | null = null;
      const walkStarted = performance.now();
      do {
        const { ms, data } = await list(cursor ? { limit: 200, cursor } : { limit: 200 });
        walkTimes.push(ms);
        for (const task of data.tasks) seen.add(task.taskId);
        count += data.tasks.length;
        cursor = data.nextCursor;
        if (!deepCursor && count >= n * 0.95 && cursor) deepCursor = cursor;
      } while (cursor);
      const walk = {
        pages: walkTimes.length,
        tasks: count,
        unique: seen.size,
        seconds: (performance.now() - walkStarted) / 1000,
        p50: percentile(walkTimes, 50),
        p99: percentile(walkTimes, 99),
      };
      if (count !== n || seen.size !== n)
        throw new Error(`the walk saw ${count} tasks (${seen.size} distinct), not ${n}`);

      const day = new Date(now - 86_400_000).toISOString();
      const prefix = [...seen][0]?.slice(0, 2) as string;
      const scenarios: [string, Query][] = [
        ["first page", {}],
        ["first page, limit 200", { limit: 200 }],
        ["kind=video (15%)", { kind: "video" }],
        ["archive=failed (3%)", { archive: "failed" }],
        ["kind=separation&state=failed (~1%)", { kind: "separation", state: "failed" }],
        ["since = 24 h ago", { since: day }],
        [`q=${prefix} (id prefix, ~1/256)`, { q: prefix }],
        ["deep page: cursor at 95%", { cursor: deepCursor as string }],
      ];
      const latencies: Latency[] = [];
      for (const [label, query] of scenarios) {
        progress(`list ${n}: ${label}`);
        for (let i = 0; i < 10; i++) await list(query);
        const times: number[] = [];
        let rows = 0;
        for (let i = 0; i < requests; i++) {
          const { ms, data } = await list(query);
          times.push(ms);
          rows = data.tasks.length;
        }
        latencies.push({
          label,
          query: new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))
            .toString()
            .replace(/cursor=[^&]+/, "cursor=…"),
          requests,
          p50: percentile(times, 50),
          p99: percentile(times, 99),
          mean: times.reduce((a, b) => a + b, 0) / times.length,
          rows,
        });
      }
      return { n, seedSeconds, databaseBytes, latencies, walk };
    } finally {
      await dev.stop();
    }
  } finally {
    rmSync(persistDir, { recursive: true, force: true });
    rmSync(project, { recursive: true, force: true });
  }
}

interface AckRun {
  variant: "before the index" | "with the index";
  commit: string;
  levels: AckLevel[];
}

async function measureAck(originUrl: string): Promise<AckRun[]> {
  const variants: [AckRun["variant"], string | null][] = [
    ["before the index", base],
    ["with the index", null],
  ];
  const runs: AckRun[] = [];
  // Alternated twice, so drift of the machine over the run shows up in both.
  for (const round of quick ? [1] : [1, 2]) {
    for (const [variant, commit] of variants) {
      const project = snapshot(commit);
      const dev = await startDevServer({ cwd: project, logLevel: "warn" });
      try {
        progress(`ack, round ${round}: ${variant}`);
        const levels = await runAck({
          receiver: Client.dev(dev.url),
          originUrl,
          runId: `${Date.now().toString(36)}${round}${variant.length}`,
          pids: workerdPids(dev.pid, dev.port),
          floor: null,
          levels: quick ? [16] : [1, 16, 64],
          withoutMedia: false,
          requests: quick ? 300 : 2000,
          maxSeconds: quick ? 8 : 12,
          warmupRequests: quick ? 50 : 200,
          drainTimeoutMs: 180_000,
        });
        runs.push({ variant, commit: commit ? commit.slice(0, 7) : "work tree", levels });
      } finally {
        await dev.stop();
        rmSync(project, { recursive: true, force: true });
      }
    }
  }
  return runs;
}

/** What one D1 database can take of this write pattern, and what the design does past it. */
const CEILING = `### The ceiling of one D1 database for this write pattern

**What is written.** Each task's object has a new version of its row with every change the list
shows: its first sight, each stage (\`text\`, \`first\`, \`complete\`/\`error\`), each asset stored
or failed, a retry, a deletion — 9 versions for a music task (2 tracks × audio + cover, three
stages), 13 for a 12-stem separation, 2 for a video. D1 gets only the latest version of a burst:
the write waits until the task is quiet for 1 s, and while files are in flight until 3 s after
the first unwritten change (never longer). Measured in workerd with small local files, that is
3 writes for the music task (one per stage, its files stored within the last second), 1 for the
separation and 1 for the video; with real downloads that take seconds each, about one more
write per 3 s of archiving — say **2–6 writes per task, ~4 on average**. In D1's billing unit a first write costs 6 rows written and
every later one 5 (the row, its entries in the four indexes that hold \`updated_at\`, and on
insert the primary key's; asserted in \`test/integration/task-index.test.ts\`): **~20 rows
written per task**.

**D1's limits** (developers.cloudflare.com/d1/platform/limits and …/d1/platform/pricing): a
database holds at most 10 GB (not increasable); it is single-threaded and runs one query at a
time, so its throughput is the inverse of query duration — about 1,000 queries/s at 1 ms — and
writes "can take several milliseconds" because they are persisted in several locations; past
its queue it answers \`overloaded\`. Workers Paid includes 50 million rows written a month, then
$1.00 per million; Free allows 100,000 rows written a day.

**Ceiling.** At 2–5 ms per write, one database takes about 200–500 index writes/s: **50–125
tasks/s sustained** (4–10 million tasks a day) at ~4 writes per task, less what the list's reads
take (a page is one index range, ~1 ms). Storage runs out at about **20 million tasks** (the
seeded database holds ~440 bytes per task with its index entries; 10 GB). Cost: ~20 rows written
per task, so the included 50 million cover ~2.5 million tasks a month; the Free plan's 100,000 a
day, ~5,000 tasks a day.

**Past it.** Nothing on the callback path depends on D1: acks, archiving and the task objects go
on at their own pace. An overloaded or full D1 makes index writes fail; each task's object keeps
its latest row due and its alarm retries with backoff (1, 2, 4 … 30 s), so the list lags and then
converges, and never shows an older state over a newer one. To raise the ceiling, in order:
write less (a still longer wait while files are in flight; drop a filter index that does not pay
for its row written per write — reads cost a thousandth of writes); then shard: \`INDEX_0 …
INDEX_n\` chosen by a hash of the task id, each object writing only its own, the version guard
and \`deleted_tasks\` unchanged per shard, and the list merging the shards' keyset ranges
newest-first under a cursor that holds one position per shard (each shard query is still one
index range); or, for storage alone, a database per period with the cursor naming it.`;

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

interface Run {
  startedAt: string;
  seconds: number;
  commit: string;
  listResults: ListResult[];
  ackRuns: AckRun[];
}

function render({ listResults: list, ackRuns: ack, startedAt, seconds, commit }: Run): string {
  const cpus = os.cpus();
  const version = (name: string) =>
    (
      JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  const out: string[] = [
    START,
    "## The task index (`npm run bench:index`)",
    "",
    `Written by \`npm run bench:index\` on ${startedAt} (${seconds.toFixed(0)} s), commit \`${commit}\`; machine: ${cpus[0]?.model ?? "?"}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}; Node ${process.versions.node}, wrangler ${version("wrangler")}, local D1 (SQLite in workerd) under \`wrangler dev\`. Latencies are client-side (Node → wrangler's proxy → Worker → local D1 → back), one request at a time, after 10 warm-up requests.`,
    "",
  ];
  if (list.length > 0) {
    out.push("### GET /tasks latency", "");
    out.push("| tasks in D1 | query | rows | p50 ms | p99 ms | mean ms | requests |");
    out.push("| ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for (const result of list) {
      for (const l of result.latencies) {
        out.push(
          `| ${result.n.toLocaleString("en")} | ${l.label} (\`${l.query || "—"}\`) | ${l.rows} | ${fmt(l.p50)} | ${fmt(l.p99)} | ${fmt(l.mean)} | ${l.requests} |`,
        );
      }
      const w = result.walk;
      out.push(
        `| ${result.n.toLocaleString("en")} | every page, limit 200 (walk) | ${w.tasks.toLocaleString("en")} (${w.unique.toLocaleString("en")} distinct) | ${fmt(w.p50)} | ${fmt(w.p99)} | — | ${w.pages} pages in ${w.seconds.toFixed(1)} s |`,
      );
    }
    out.push("");
    for (const result of list) {
      out.push(
        `- ${result.n.toLocaleString("en")} rows: seeded in ${result.seedSeconds.toFixed(1)} s (\`wrangler d1 migrations apply\` + \`d1 execute --file\`)${result.databaseBytes ? `; the database then holds ${(result.databaseBytes / 2 ** 20).toFixed(1)} MiB, ${Math.round(result.databaseBytes / result.n)} bytes per task with its index entries` : ""}.`,
      );
    }
    out.push("");
  }
  if (ack.length > 0) {
    out.push("### The ack path with and without the index (same run)", "");
    out.push("| connections | route | variant | req/s | p50 ms | p99 ms | Worker CPU ms/req |");
    out.push("| ---: | --- | --- | ---: | ---: | ---: | ---: |");
    const levels = [...new Set(ack.flatMap((run) => run.levels.map((level) => level.connections)))];
    for (const connections of levels) {
      for (const route of ["distinct", "duplicate", "healthz"] as const) {
        for (const run of ack) {
          const level = run.levels.find((candidate) => candidate.connections === connections);
          const r = level?.[route];
          if (!r) continue;
          const label =
            route === "distinct"
              ? "POST /callbacks, new tasks"
              : route === "duplicate"
                ? "POST /callbacks, duplicates"
                : "GET /healthz";
          out.push(
            `| ${connections} | ${label} | ${run.variant} (\`${run.commit}\`) | ${r.rps.toFixed(0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.runtimeCpuMs?.toFixed(2) ?? "—"} |`,
          );
        }
      }
    }
    out.push("");
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
    for (const connections of levels) {
      for (const route of ["distinct", "duplicate"] as const) {
        const rps = (variant: AckRun["variant"]) =>
          mean(
            ack
              .filter((run) => run.variant === variant)
              .map((run) => run.levels.find((l) => l.connections === connections)?.[route].rps ?? 0),
          );
        const before = rps("before the index");
        const after = rps("with the index");
        out.push(
          `- ${connections} conn., ${route === "distinct" ? "new tasks" : "duplicates"}: ${after.toFixed(0)} req/s with the index vs ${before.toFixed(0)} before (mean of the rounds), ratio ${(after / before).toFixed(2)}.`,
        );
      }
    }
    out.push("");
  }
  out.push(CEILING, "", END);
  return out.join("\n");
}

async function measure(): Promise<Run> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const listResults: ListResult[] = [];
  let ackRuns: AckRun[] = [];
  if (sections.has("list")) for (const n of sizes) listResults.push(await measureList(n));
  if (sections.has("ack")) {
    const origin = await startOrigin();
    try {
      ackRuns = await measureAck(origin.url);
    } finally {
      await origin.close();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const run = { startedAt, seconds, commit: git("rev-parse", "--short", "HEAD"), listResults, ackRuns };
  // bench/.state is git-ignored, so a fresh clone does not have it yet.
  mkdirSync(join(ROOT, "bench", ".state"), { recursive: true });
  writeFileSync(join(ROOT, "bench", ".state", "index-run.json"), JSON.stringify(run, null, 2));
  return run;
}

const run: Run = values.from ? JSON.parse(readFileSync(resolve(values.from), "utf8")) : await measure();
const section = render(run);
process.stdout.write(`${section}\n`);
if (!quick) {
  const file = join(ROOT, "BENCHMARKS.md");
  const current = existsSync(file) ? readFileSync(file, "utf8") : "";
  const at = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    at >= 0 && end > at
      ? `${current.slice(0, at)}${section}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  progress("wrote the bench:index section of BENCHMARKS.md");
}
