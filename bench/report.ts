// Turns the measurements into one table (Markdown, printed and written to BENCHMARKS.md), the
// verdict on each target, what bounds each figure, and the notes that explain the ratios.

import type { AckLevel, FloorLevel, LoadResult } from "./ack.ts";
import type { ArchiveResult, ConsumerRun } from "./archive.ts";
import { MIB, median, percentile } from "./receiver.ts";
import type { BurstResult, SequentialResult } from "./time-to-archive.ts";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  kernel: string;
  node: string;
  wrangler: string;
  workerd: string;
  autocannon: string;
  loadAverageAtStart: number[];
  /** Average cores' worth of CPU used during the run by other processes, by steal, by the bench. */
  otherCpuShare: number;
  stealShare: number;
  benchCpuShare: number;
}

export interface Settings {
  quick: boolean;
  ackRequests: number;
  ackMaxSeconds: number;
  ackDiagnosticLevel: number;
  ackWarmup: number;
  ackLevels: number[];
  archiveSize: number;
  rssSmall: number;
  rssLarge: number;
  sequentialTasks: number;
  burstTasks: number;
  burstConcurrency: number;
  burstTimeoutMs: number;
  sizes: { audio: number; cover: number };
}

export interface Report {
  startedAt: Date;
  runtimeMs: number;
  command: string;
  wranglerArgs: string[];
  /** Which code was measured: the commit and the uncommitted files of the snapshot. */
  tree: { commit: string; dirty: string[] };
  machine: Machine;
  settings: Settings;
  ack: AckLevel[] | null;
  /** The ack path's floor (bench/floor); absent in reports of older runs. */
  floor?: FloorLevel[] | null;
  archive: ArchiveResult | null;
  sequential: SequentialResult | null;
  burst: BurstResult | null;
  errors: string[];
}

export interface Verdict {
  target: string;
  met: boolean | null;
  detail: string;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : int(n));
const secs = (milliseconds: number) => `${(milliseconds / 1000).toFixed(milliseconds < 10_000 ? 2 : 1)} s`;
const mb = (bytes: number) => `${int(bytes / 1e6)} MB`;
const size = (bytes: number) =>
  bytes >= 1024 * MIB ? `${+(bytes / 1024 / MIB).toFixed(2)} GiB` : `${+(bytes / MIB).toFixed(2)} MiB`;
const rate = (bytes: number, milliseconds: number) => (bytes / MIB / (milliseconds / 1000)).toFixed(1);
const ratio = (n: number) => n.toFixed(2);
const mark = (met: boolean | null) => (met === null ? "" : met ? " ✅" : " ❌");

const cpuText = (r: LoadResult) =>
  r.runtimeCpuMs === null
    ? ""
    : ` · CPU/req ${ms(r.runtimeCpuMs)} ms Worker${r.proxyCpuMs === null ? "" : ` + ${ms(r.proxyCpuMs)} ms proxy`}`;

const loadText = (r: LoadResult) =>
  `${int(r.rps)} req/s · p50 ${ms(r.p50)} ms · p99 ${ms(r.p99)} ms${cpuText(r)}${r.non2xx || r.errors ? ` · ${r.non2xx} non-2xx, ${r.errors} errors` : ""}`;

const loadBound = (r: LoadResult) =>
  `${int(r.requests)} requests in ${r.seconds.toFixed(1)} s${r.capped ? " (time cap)" : ""}, ${r.connections} conn.`;

/** The ack baseline of a level: the mean requests/s of its two GET /healthz runs. */
export const healthzRps = (level: AckLevel | FloorLevel) => (level.healthz.rps + level.healthzAfter.rps) / 2;

/** The floor's ratio at a level: one new Durable Object + one row, against its own /healthz. */
const floorRatio = (level: FloorLevel) => level.object.rps / healthzRps(level);

/** The baseline throughput of the archive comparison: the mean of the Content-Length bare puts. */
export function baselineMs(archive: ArchiveResult, bytes: number): number | null {
  const runs = archive.baselines.filter((b) => b.contentLength && b.bytes === bytes && b.ms !== null);
  if (runs.length === 0) return null;
  return runs.reduce((sum, b) => sum + (b.ms as number), 0) / runs.length;
}

export function verdicts(report: Report): Verdict[] {
  const out: Verdict[] = [];
  const top = report.ack?.at(-1);
  if (report.ack && top) {
    out.push({
      target: `callback ack p99 < 100 ms at ${top.connections} connections`,
      met: top.distinct.p99 < 100 && top.duplicate.p99 < 100,
      detail: `distinct tasks p99 ${ms(top.distinct.p99)} ms, duplicates p99 ${ms(top.duplicate.p99)} ms (GET /healthz itself: p99 ${ms(top.healthz.p99)} and ${ms(top.healthzAfter.p99)} ms)`,
    });
    const worst = report.ack.flatMap((level) => [
      { level, kind: "distinct", r: level.distinct.rps / healthzRps(level) },
      { level, kind: "duplicate", r: level.duplicate.rps / healthzRps(level) },
    ]);
    const min = worst.reduce((a, b) => (b.r < a.r ? b : a));
    out.push({
      target: "ack throughput ≥ 50% of GET /healthz",
      met: worst.every((w) => w.r >= 0.5),
      detail:
        worst.map((w) => `${w.kind} @${w.level.connections}: ${ratio(w.r)}`).join(", ") +
        ` (lowest: ${min.kind} at ${min.level.connections} connections)` +
        (report.floor?.length
          ? `; the floor (a Worker that only creates one Durable Object and writes one row per request) reaches ${report.floor.map((f) => `${ratio(floorRatio(f))} @${f.connections}`).join(", ")} of its own /healthz`
          : ""),
    });
  }
  if (report.archive) {
    const base = baselineMs(report.archive, report.settings.archiveSize);
    const runs = report.archive.consumer.filter((c) => c.bytes === report.settings.archiveSize && c.archived);
    if (base !== null && runs.length > 0) {
      const e2e = runs.map((c) => ({ c, r: base / c.endToEndMs }));
      const dl = runs.map((c) => ({ c, r: base / (c.downloadMs ?? Number.NaN) }));
      const hashed = runs.every((c) => c.sha256Ok === true);
      out.push({
        target: "archive throughput ≥ 80% of the bare put, with SHA-256 (end to end)",
        met: e2e.every((x) => x.r >= 0.8) && hashed,
        detail: `${e2e.map((x) => `${x.c.contentLength ? "Content-Length" : "chunked"} ${ratio(x.r)}`).join(", ")}; download phase alone ${dl.map((x) => `${x.c.contentLength ? "Content-Length" : "chunked"} ${ratio(x.r)}`).join(", ")}${hashed ? "; SHA-256 recorded and correct" : "; SHA-256 NOT verified"}`,
      });
    }
    const large = report.archive.consumer.find((c) => c.bytes === report.settings.rssLarge);
    const small = report.archive.consumer.find((c) => c.bytes === report.settings.rssSmall);
    if (large) {
      const growth = large.rss.peak - large.rss.before;
      out.push({
        target: `workerd RSS growth < 100 MB for ${size(large.bytes)}`,
        met: growth < 100e6 && large.archived,
        detail: `${size(large.bytes)}: +${mb(growth)} (${mb(large.rss.before)} → peak ${mb(large.rss.peak)})${small ? `; ${size(small.bytes)}: +${mb(small.rss.peak - small.rss.before)}` : ""}`,
      });
    }
  }
  if (report.burst) {
    const b = report.burst;
    out.push({
      target: `${b.tasks}-task burst fully archived`,
      met: b.notArchived === 0,
      detail:
        b.notArchived === 0
          ? `all ${b.tasks} archived in ${secs(b.allArchivedMs as number)}`
          : `${b.notArchived} of ${b.tasks} not archived within ${secs(b.timeoutMs)}`,
    });
  }
  return out;
}

type Row = [figure: string, result: string, baseline: string, ratio: string, target: string, bound: string];

export function tableRows(report: Report): Row[] {
  const rows: Row[] = [];
  const s = report.settings;
  for (const level of report.ack ?? []) {
    const c = level.connections;
    const base = healthzRps(level);
    const baseText = `${int(base)} req/s (mean of both /healthz runs)`;
    rows.push([
      `Ack, ${c} conn.: GET /healthz (baseline, first)`,
      loadText(level.healthz),
      "—",
      "—",
      "—",
      loadBound(level.healthz),
    ]);
    for (const [label, r] of [
      ["callback, distinct tasks", level.distinct],
      ["callback, same callback (duplicates)", level.duplicate],
    ] as const) {
      const rr = r.rps / base;
      const targets = [`≥ 0.50${mark(rr >= 0.5)}`];
      if (c === s.ackLevels.at(-1)) targets.push(`p99 < 100 ms${mark(r.p99 < 100)}`);
      const drain = level.drain;
      rows.push([
        `Ack, ${c} conn.: POST /callbacks, ${label}`,
        loadText(r),
        baseText,
        ratio(rr),
        targets.join("; "),
        r.route === "distinct"
          ? `${loadBound(r)}; consumer archived ${drain.archived}/${drain.acked}, the last ${drain.seconds.toFixed(1)} s after the run${drain.runtimeCpuMsPerTask === null ? "" : `; Worker CPU ${ms(drain.runtimeCpuMsPerTask)} ms per task incl. its archive`}`
          : loadBound(r),
      ]);
    }
    if (level.noAssets) {
      const r = level.noAssets;
      rows.push([
        `Ack, ${c} conn.: POST /callbacks, new tasks without media (diagnostic: music \`text\`)`,
        loadText(r),
        baseText,
        ratio(r.rps / base),
        "— (diagnostic)",
        loadBound(r),
      ]);
    }
    rows.push([
      `Ack, ${c} conn.: GET /healthz (baseline, again at the end of the level)`,
      loadText(level.healthzAfter),
      "—",
      "—",
      "—",
      loadBound(level.healthzAfter),
    ]);
  }
  for (const level of report.floor ?? []) {
    const c = level.connections;
    rows.push([
      `Ack floor, ${c} conn.: GET /healthz of the floor Worker`,
      `${loadText(level.healthz)}; again: ${int(level.healthzAfter.rps)} req/s · p99 ${ms(level.healthzAfter.p99)} ms`,
      "—",
      "—",
      "—",
      `${loadBound(level.healthz)}; bench/floor`,
    ]);
    rows.push([
      `Ack floor, ${c} conn.: POST /object/<new id> (one new SQLite Durable Object, one row)`,
      loadText(level.object),
      `${int(healthzRps(level))} req/s (its own /healthz, mean of both)`,
      ratio(floorRatio(level)),
      "— (floor)",
      loadBound(level.object),
    ]);
  }
  const archive = report.archive;
  if (archive) {
    const base = baselineMs(archive, s.archiveSize);
    for (const b of archive.baselines) {
      rows.push([
        `Archive: ${b.label.replace("bare fetch + put", "bare fetch + R2.put (baseline)")}`,
        b.ms !== null ? `${rate(b.bytes, b.ms)} MiB/s (${secs(b.ms)})` : `refused: ${b.error}`,
        "—",
        "—",
        "—",
        `1 request; RSS ${mb(b.rss.before)} → peak ${mb(b.rss.peak)}; slowest /healthz ${secs(b.slowestHealthzMs)}`,
      ]);
    }
    for (const c of archive.consumer.filter((run) => run.bytes === s.archiveSize)) {
      rows.push(...consumerRows(c, base));
    }
    for (const c of archive.consumer.filter((run) => run.bytes !== s.archiveSize)) {
      const growth = c.rss.peak - c.rss.before;
      const isLarge = c.bytes === s.rssLarge;
      rows.push([
        `Memory: ${c.label}`,
        `RSS ${mb(c.rss.before)} → peak ${mb(c.rss.peak)} (+${mb(growth)}); ${c.archived ? `${rate(c.bytes, c.endToEndMs)} MiB/s end to end${c.sha256Ok ? ", SHA-256 ok" : ", SHA-256 NOT ok"}` : `not archived: ${c.error}`}`,
        "—",
        "—",
        isLarge ? `growth < 100 MB${mark(growth < 100e6 && c.archived)}` : "—",
        `1 file; VmRSS of the Worker's workerd every 100 ms; slowest /healthz ${secs(c.slowestHealthzMs)}`,
      ]);
    }
  }
  const seq = report.sequential;
  if (seq) {
    rows.push([
      `Time to archive: ${seq.tasks} music tasks one after another (4 files, ${size(2 * (s.sizes.audio + s.sizes.cover))} each)`,
      seq.times.length
        ? `median ${secs(median(seq.times))} · p95 ${secs(percentile(seq.times, 95))} · max ${secs(Math.max(...seq.times))}; ${seq.archived}/${seq.tasks} archived`
        : `none archived`,
      "—",
      "—",
      "—",
      `${seq.tasks} tasks; callback 200 → archived seen (polled every 50 ms)`,
    ]);
  }
  const burst = report.burst;
  if (burst) {
    rows.push([
      `Time to archive: burst of ${burst.tasks} tasks (${burst.concurrency} callbacks in flight)`,
      `${burst.allArchivedMs !== null ? `all archived in ${secs(burst.allArchivedMs)}` : "NOT all archived"} · ${burst.notArchived} not archived${burst.failed ? ` (${burst.failed} failed)` : ""} · per task median ${secs(median(burst.times))}, p95 ${secs(percentile(burst.times, 95))} · ${rate(burst.bytes, burst.allArchivedMs ?? burst.timeoutMs)} MiB/s archived`,
      "—",
      "—",
      `all archived${mark(burst.notArchived === 0)}`,
      `${burst.tasks} tasks, timeout ${secs(burst.timeoutMs)}; oldest 16 unsettled polled every ~0.3 s`,
    ]);
    rows.push([
      `Time to archive: callback ack during the burst`,
      `p50 ${ms(burst.ackP50)} ms · p99 ${ms(burst.ackP99)} ms · ${burst.acked}/${burst.tasks} answered 200`,
      "—",
      "—",
      "—",
      `${burst.tasks} requests, ${burst.concurrency} in flight (Node fetch)`,
    ]);
  }
  return rows;
}

function consumerRows(c: ConsumerRun, base: number | null): Row[] {
  const kind = c.contentLength ? "Content-Length" : "chunked (multipart)";
  const prefix = `Archive: consumer ${size(c.bytes)}, ${kind}`;
  const bound = `1 file; RSS ${mb(c.rss.before)} → peak ${mb(c.rss.peak)}`;
  if (!c.archived || c.downloadMs === null || c.publishMs === null) {
    return [[prefix, `not archived: ${c.error}`, "—", "—", "—", bound]];
  }
  const baseText = base !== null ? `${rate(c.bytes, base)} MiB/s` : "—";
  const r = (phaseMs: number) => (base !== null ? ratio(base / phaseMs) : "—");
  const other = c.endToEndMs - c.downloadMs - c.publishMs;
  return [
    [
      `${prefix}: download + SHA-256 + staging (downloadMs)`,
      `${rate(c.bytes, c.downloadMs)} MiB/s (${secs(c.downloadMs)})`,
      baseText,
      r(c.downloadMs),
      "— (phase)",
      bound,
    ],
    [
      `${prefix}: publish, R2-verified copy (publishMs)`,
      `${rate(c.bytes, c.publishMs)} MiB/s (${secs(c.publishMs)})`,
      "—",
      "—",
      "— (phase)",
      "same run",
    ],
    [
      `${prefix}: end to end, callback 200 → archived`,
      `${rate(c.bytes, c.endToEndMs)} MiB/s (${secs(c.endToEndMs)}; queue wait, claim, polling ${secs(other)})${c.sha256Ok ? ", SHA-256 ok" : ", SHA-256 NOT ok"}`,
      baseText,
      r(c.endToEndMs),
      `≥ 0.80${mark(base !== null && base / c.endToEndMs >= 0.8 && c.sha256Ok === true)}`,
      `same run; polled every 100 ms; slowest /healthz ${secs(c.slowestHealthzMs)}`,
    ],
  ];
}

const escapeCell = (text: string) => text.replaceAll("|", "\\|");

export function markdownTable(rows: Row[]): string {
  const header: Row = ["Figure", "Result", "Baseline (same run)", "Ratio", "Target", "Bound"];
  const line = (cells: readonly string[]) => `| ${cells.map(escapeCell).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function boundsSection(report: Report): string {
  const s = report.settings;
  return [
    "- **Everything** runs on one machine over loopback: the load generator (autocannon, in the bench's own Node process), the media origin (test/helpers/origin.ts, the same process) and `wrangler dev` (its Node process and two workerd processes) share the cores listed above, so every figure includes that contention, and absolute figures vary from run to run by tens of percent; the ratios, measured minutes apart on the same server, are the figures to compare. Each section gets a freshly started `wrangler dev` with its own port and a new temporary persistence folder, deleted when it stops.",
    `- **Ack rows**: each run ends after ${int(s.ackRequests)} requests or ${s.ackMaxSeconds} s, whichever comes first (the Bound column says which and how many), pipelining 1, 30 s request timeout, after a warm-up of ${int(s.ackWarmup)} requests per route at 16 connections. At each level GET /healthz runs first and again last, and the ratios use the mean of the two. Requests/s is completed requests ÷ wall time of the run; p50/p99 are computed from every response's latency (float ms). CPU/req is the CPU time (user + system, /proc) the Worker's workerd and wrangler's proxy workerd used during the run, divided by its requests. The distinct-task callbacks are video callbacks whose file is 1 KiB on the local origin: the consumer archives them *while* the run goes on (real work competing for the same cores); the backlog is then drained and every acked task is checked to be archived before the duplicate run and the next level start.`,
    `- **Archive rows**: one file per row (sizes as shown), pattern bytes from the local origin; the baseline is \`POST /__bench/baseline-put\` (bare \`fetch\` then \`R2.put(body)\`, no checks, no hash), run before and after the consumer's two ${size(s.archiveSize)} runs, and the ratio uses their mean. \`downloadMs\` and \`publishMs\` come from the asset's \`timings\` in the status JSON; end to end is from the callback's 200 until \`archive.state = "archived"\` was seen (polled every 100 ms), so it also contains the queue's batch wait, the claim RPC and up to 100 ms of polling. The archived SHA-256 is compared with the expected digest of the pattern after the clock stops. RSS is VmRSS of the workerd process that runs the Worker (not the proxy workerd), sampled every 100 ms; "before" is just before the request.`,
    `- **Time to archive**: music \`complete\` callbacks shaped like test/fixtures/kie.music.complete.json, 2 tracks × (${size(s.sizes.audio)} audio + ${size(s.sizes.cover)} cover), all served with Content-Length. Sequential: ${s.sequentialTasks} tasks, one at a time, polled every 50 ms. Burst: ${s.burstTasks} tasks' callbacks with ${s.burstConcurrency} in flight, then polled until all settle or ${secs(s.burstTimeoutMs)} pass — each round (250 ms apart, 4 requests in flight) asks about the 16 oldest unsettled tasks, every 20th round about all of them, because each status request costs the Worker CPU that the consumer needs; "all archived in" runs from the first callback sent to the round in which the last task was seen archived. Status polling (every 50/100 ms in the sequential and archive rows) costs the Worker a few ms of CPU per request, included in those figures.`,
    "- **Local, not production**: miniflare's local Queue hands the consumer one batch at a time (`max_batch_size = 4`, so at most 4 files in flight) and waits `max_batch_timeout` (1 s) before a partial batch; production queues scale consumers out. Local R2 (miniflare) stores objects as files, passes every put through a JavaScript TransformStream that computes MD5 (plus SHA-256 when asked to verify), and reassembles a multipart object's parts in JavaScript when it is read; all of it runs in the same workerd process as the Worker. The deployed 128 MB isolate memory limit cannot be measured locally.",
  ].join("\n");
}

function notesSection(report: Report): string {
  const notes: string[] = [];
  const archive = report.archive;
  const base = archive ? baselineMs(archive, report.settings.archiveSize) : null;
  if (archive && base !== null) {
    for (const c of archive.consumer.filter((r) => r.bytes === report.settings.archiveSize && r.archived)) {
      if (c.downloadMs === null || c.publishMs === null) continue;
      const share = (c.publishMs / c.endToEndMs) * 100;
      notes.push(
        `- ${c.contentLength ? "Content-Length" : "Chunked"} ${size(c.bytes)}: download + hash + staging ran at ${ratio(base / c.downloadMs)}× the bare put; publishing the verified copy took another ${secs(c.publishMs)} (${share.toFixed(0)}% of the end-to-end time), which is what takes the end-to-end ratio to ${ratio(base / c.endToEndMs)}.`,
      );
    }
    notes.push(
      "- Why there is a second write: R2 takes custom metadata only when an object is created, and the contract wants the SHA-256 in the archived object's custom metadata. A streamed body's hash is known only after its last byte, so the consumer stages the bytes while hashing, then writes the archive key with the hash in its metadata and R2 verifying the copy against it (`put(key, staged.body, { sha256, customMetadata })`). The bytes therefore cross R2 twice: the end-to-end figure is bounded by roughly download + publish, i.e. about half the bare put, however fast the hashing is.",
    );
    const lone = archive.consumer.filter((r) => r.archived && r.downloadMs !== null && r.publishMs !== null);
    if (lone.length) {
      const waits = lone.map((r) => r.endToEndMs - (r.downloadMs as number) - (r.publishMs as number));
      notes.push(
        `- The rest of the end-to-end time (${secs(Math.min(...waits))}–${secs(Math.max(...waits))} per file) is mostly the queue: \`max_batch_timeout = 1\` in wrangler.toml makes a lone message wait about a second for a batch of 4 to fill; then the claim and the status polling.`,
      );
    }
    const stalled = archive.consumer.reduce<ConsumerRun | null>(
      (worst, r) => (worst === null || r.slowestHealthzMs > worst.slowestHealthzMs ? r : worst),
      null,
    );
    const firstBare = archive.baselines[0];
    const firstReal = archive.consumer[0];
    const memoryRuns = archive.consumer.filter((r) => r.bytes !== report.settings.archiveSize);
    if (firstBare && firstReal && memoryRuns.length) {
      notes.push(
        `- Memory: on the freshly started server the first large transfers raise the runtime's RSS (bare put ${mb(firstBare.rss.before)} → ${mb(firstBare.rss.peak)}, then the first consumer run ${mb(firstReal.rss.before)} → ${mb(firstReal.rss.peak)}) and it stays there: that is V8 and allocator memory kept after the first big transfers, not buffering per file, since the later ${memoryRuns.map((r) => `${size(r.bytes)} run added ${mb(r.rss.peak - r.rss.before)}`).join(" and the ")}. The memory rows therefore run after the others, on a warm server, and compare growth within each run.`,
      );
    }
    const bareWorst = Math.max(0, ...archive.baselines.map((b) => b.slowestHealthzMs));
    const stalls = archive.consumer.filter((r) => r.slowestHealthzMs > 2000);
    const calm = archive.consumer.filter((r) => r.slowestHealthzMs <= 2000);
    if (stalled && stalled.publishMs !== null && stalls.length > 0) {
      notes.push(
        `- While a large file is published, the local runtime can stop answering anything else: during the ${stalled.label} run, GET /healthz once took ${secs(stalled.slowestHealthzMs)} (the publish phase took ${secs(stalled.publishMs)}, the download phase ${secs(stalled.downloadMs ?? 0)}). Consumer runs with a stall over 2 s: ${stalls.map((r) => `${r.label} (${secs(r.slowestHealthzMs)})`).join(", ")}${calm.length ? `; without: ${calm.map((r) => `${r.label} (${secs(r.slowestHealthzMs)})`).join(", ")}` : ""}. During the bare fetch + put runs it never took more than ${secs(bareWorst)}. The publish is an R2 \`get\` of the staged object piped into a \`put\`; locally both ends are files on disk, and workerd can pump that stream without serving other requests in between (a Worker that does nothing but \`put(b, (await get(a)).body)\` shows the same). This is a property of local mode — in production the get is a network stream — but local tests and dev sessions can freeze for the length of a large publish, and the bench's status polling has a long timeout because of it.`,
      );
    }
    const chunked = archive.consumer.find((r) => !r.contentLength && r.archived && r.downloadMs !== null);
    const fixed = archive.consumer.find(
      (r) => r.contentLength && r.bytes === chunked?.bytes && r.archived && r.downloadMs !== null,
    );
    if (chunked && fixed && (chunked.downloadMs as number) > 1.1 * (fixed.downloadMs as number)) {
      notes.push(
        `- Without Content-Length the download phase took ${secs(chunked.downloadMs as number)} against ${secs(fixed.downloadMs as number)} with it: in the code measured, the multipart path copies each chunk into a part buffer and awaits every \`uploadPart\` before reading on, so reading from the origin stops while each part is uploaded.`,
      );
    }
    if (chunked && fixed && chunked.publishMs !== null && fixed.publishMs !== null) {
      notes.push(
        `- Publishing took ${secs(chunked.publishMs)} for the chunked file against ${secs(fixed.publishMs)} for the Content-Length one: its staged object is a multipart object, and local R2 reads one back by reassembling the parts in JavaScript.`,
      );
    }
    const chunkedBaseline = archive.baselines.find((b) => !b.contentLength);
    if (chunkedBaseline?.error) {
      notes.push(
        `- A bare \`R2.put\` of a chunked body (no Content-Length) is refused by the runtime (${chunkedBaseline.error}); the consumer streams such bodies as a multipart upload instead, so its chunked runs are compared with the Content-Length baseline.`,
      );
    }
  }
  if (report.ack) {
    const top = report.ack.at(-1);
    const diag = report.ack.find((level) => level.noAssets);
    if (top) {
      const needed = top.connections / 0.1;
      const worstHealthz = Math.max(top.healthz.p99, top.healthzAfter.p99);
      notes.push(
        `- Latency at ${top.connections} connections is set by throughput: with ${top.connections} requests always in flight, latency ≈ ${top.connections} ÷ requests/s (Little's law), so a p99 under 100 ms needs at least ${int(needed)} req/s with little spread. The callback runs at ${int(top.distinct.rps)} (distinct) and ${int(top.duplicate.rps)} (duplicates) req/s there.${worstHealthz >= 100 ? ` Even GET /healthz, at ${int(healthzRps(top))} req/s, had a p99 of ${ms(worstHealthz)} ms at ${top.connections} connections: on this machine the target is out of reach for a route that does nothing.` : ""}`,
      );
    }
    const floor = report.floor ?? [];
    if (floor.length > 0) {
      const pairs = floor.map((f) => {
        const level = report.ack?.find((l) => l.connections === f.connections);
        const real = level ? level.distinct.rps / healthzRps(level) : null;
        return `${f.connections} conn.: floor ${ratio(floorRatio(f))}, the callback ${real === null ? "?" : ratio(real)}${real === null ? "" : ` (${Math.round((real / floorRatio(f)) * 100)}% of the floor's ratio)`}`;
      });
      notes.push(
        `- The floor of a new task (bench/floor, measured in the same run on its own \`wrangler dev\`): a Worker whose only work per request is to create the task's Durable Object and write one row to its SQLite storage before answering — no source check, no parsing, no queue. Against its own GET /healthz: ${pairs.join("; ")}. Any receiver that records each callback durably in its task's own object before answering pays at least this locally, where every new object is a new SQLite database on disk${floor.every((f) => floorRatio(f) < 0.5) ? "; since even the floor stays under 0.50 at every level, the 50% target for distinct tasks cannot be met here by any receiver built this way" : ""}. Production Durable Objects are not local files, so this floor does not carry over; the ratio there would have to be measured on a deployed Worker.`,
      );
    }
    if (diag?.noAssets) {
      const cpu = (r: LoadResult) => (r.runtimeCpuMs === null ? "?" : ms(r.runtimeCpuMs));
      const withArchive = diag.drain.runtimeCpuMsPerTask;
      notes.push(
        `- Where the ack time goes (${diag.connections} connections, CPU of the Worker's workerd per request, from /proc): GET /healthz ${cpu(diag.healthz)} and ${cpu(diag.healthzAfter)} ms; a duplicate ${cpu(diag.duplicate)} ms; a new task without media ${cpu(diag.noAssets)} ms; a new task with one file ${cpu(diag.distinct)} ms during the run${withArchive === null ? "" : `, ${ms(withArchive)} ms once its archive is counted`}. wrangler's proxy workerd adds about ${diag.healthz.proxyCpuMs === null ? "?" : ms(diag.healthz.proxyCpuMs)} ms to every request. A new task is a new Durable Object: locally a new SQLite database (file, journal, WAL) with its schema and a dozen SQL statements, committed as one transaction together with the send leases and the watchdog alarm before the 200; the queue send follows the answer (a transactional outbox), and the consumer archiving earlier callbacks' files runs on the same two cores at the same time. Everything is CPU-bound here, so the ratio to /healthz is roughly the ratio of CPU per request.`,
      );
    }
  }
  return notes.join("\n");
}

export function markdownReport(report: Report): string {
  const m = report.machine;
  const v = verdicts(report);
  const table = markdownTable(tableRows(report));
  return `# Benchmarks

Written by \`${report.command}\` on ${report.startedAt.toISOString()}; the whole run took ${secs(report.runtimeMs)}.${report.settings.quick ? " **Quick mode: reduced sizes and counts, not the reference figures.**" : ""}
Every ratio compares two figures measured in the same run, on the same \`wrangler dev\`.

## Machine

- CPU: ${m.cpuModel}, ${m.cores} cores; memory ${(m.memoryBytes / 1024 ** 3).toFixed(1)} GiB; Linux ${m.kernel}
- Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}, autocannon ${m.autocannon}
- Load average when the run started: ${m.loadAverageAtStart.map((n) => n.toFixed(2)).join(", ")}; during the run the bench and its dev servers used ${m.benchCpuShare.toFixed(2)} cores on average, other processes ${m.otherCpuShare.toFixed(2)}, hypervisor steal ${m.stealShare.toFixed(2)}

## Command

\`${report.command}\` (\`node bench/run.ts\`) copies \`src/\` and the Worker's configuration into a temporary folder (so that edits during the run cannot reload the Worker mid-measurement), starts the local media origin and, for each section, its own

\`\`\`
wrangler ${report.wranglerArgs.join(" ")}
\`\`\`

(a free port, a new temporary \`--persist-to\` folder, \`--log-level warn\`) in that copy, and stops it by its process id afterwards; the copy and every persistence folder are deleted at the end.

Code measured: commit \`${report.tree.commit}\`${report.tree.dirty.length ? ` plus uncommitted changes to ${report.tree.dirty.map((f) => `\`${f}\``).join(", ")}` : ", with no uncommitted changes to `src/` or `wrangler.toml`"}.

## Results

${table}

## Targets

${v.map((x) => `- ${x.met === null ? "?" : x.met ? "✅ met" : "❌ missed"}: ${x.target} — ${x.detail}`).join("\n")}
${report.errors.length ? `\n## Errors\n\n${report.errors.map((e) => `- ${e}`).join("\n")}\n` : ""}
## What bounds each figure

${boundsSection(report)}

## Notes

${notesSection(report)}
`;
}
