// Turns the measurements into one table (Markdown, printed and written to BENCHMARKS.md), the
// verdict on each target, what bounds each figure, and the notes that explain the ratios.

import type { AckLevel, FloorLevel, LoadResult } from "./ack.ts";
import type { ArchiveResult, ConsumerRun } from "./archive.ts";
import type { EventLatency } from "./events.ts";
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
  /** Interleaved rounds of the archive comparison; absent in reports of older runs. */
  archiveRounds?: number;
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
  /** Outbound event latency in the time-to-archive section; absent in reports of older runs. */
  events?: { sequential: EventLatency; burst: EventLatency } | null;
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

/** The middle value (the mean of the two middle ones for an even count); null when empty. */
function middle(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[half] as number)
    : ((sorted[half - 1] as number) + (sorted[half] as number)) / 2;
}

/** The baseline time of the archive comparison: the median of the Content-Length bare puts. */
export function baselineMs(archive: ArchiveResult, bytes: number): number | null {
  return middle(
    archive.baselines
      .filter((b) => b.contentLength && b.bytes === bytes && b.ms !== null)
      .map((b) => b.ms as number),
  );
}

/** The consumer's runs of one kind in the archive comparison, and their medians. */
interface ConsumerKind {
  contentLength: boolean;
  /** "Content-Length" or "chunked". */
  name: string;
  /** Every run of this kind at the comparison size, in the order measured. */
  runs: ConsumerRun[];
  /** The runs that archived with both timings: the medians are taken over these. */
  measured: ConsumerRun[];
  endToEndMs: number | null;
  downloadMs: number | null;
  publishMs: number | null;
  /** End to end minus both phases (queue delivery, claim, polling), median per run. */
  restMs: number | null;
  /** Every run archived, with the right size and SHA-256. */
  hashed: boolean;
  /** Each measured run's bare put: the one of the same round (else the median of all). */
  baseOf: (c: ConsumerRun) => number | null;
  /** Medians over the measured runs of baseline ÷ run, each run against its own round's put. */
  endToEndRatio: number | null;
  downloadRatio: number | null;
}

function consumerKinds(archive: ArchiveResult, bytes: number): ConsumerKind[] {
  const overall = baselineMs(archive, bytes);
  const baseOf = (c: ConsumerRun) =>
    archive.baselines.find(
      (b) => b.round !== undefined && b.round === c.round && b.contentLength && b.bytes === bytes,
    )?.ms ?? overall;
  return [true, false]
    .map((contentLength) => {
      const runs = archive.consumer.filter((c) => c.bytes === bytes && c.contentLength === contentLength);
      const measured = runs.filter((c) => c.archived && c.downloadMs !== null && c.publishMs !== null);
      const pick = (f: (c: ConsumerRun) => number) => middle(measured.map(f));
      const paired = (f: (c: ConsumerRun) => number) =>
        middle(measured.flatMap((c) => (baseOf(c) === null ? [] : [(baseOf(c) as number) / f(c)])));
      return {
        baseOf,
        endToEndRatio: paired((c) => c.endToEndMs),
        downloadRatio: paired((c) => c.downloadMs as number),
        contentLength,
        name: contentLength ? "Content-Length" : "chunked",
        runs,
        measured,
        endToEndMs: pick((c) => c.endToEndMs),
        downloadMs: pick((c) => c.downloadMs as number),
        publishMs: pick((c) => c.publishMs as number),
        restMs: pick((c) => c.endToEndMs - (c.downloadMs as number) - (c.publishMs as number)),
        hashed: runs.length > 0 && runs.every((c) => c.archived && c.sha256Ok === true),
      };
    })
    .filter((kind) => kind.runs.length > 0);
}

/** The round of a run: recorded since rounds exist, else its place among the runs of its kind. */
const roundOf = (run: { round?: number }, index: number) => run.round ?? index + 1;

/** `publishMs`: whole milliseconds, as the Worker's clock gives them. */
const commitMs = (n: number) => `${int(n)} ms`;

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
    const kinds = consumerKinds(report.archive, report.settings.archiveSize);
    if (base !== null && kinds.some((k) => k.endToEndMs !== null)) {
      const many = kinds.some((k) => k.measured.length > 1);
      const each = (f: (k: ConsumerKind) => number | null) =>
        kinds.map((k) => `${k.name} ${f(k) === null ? "—" : ratio(f(k) as number)}`).join(", ");
      const rounds = kinds
        .filter((k) => k.measured.length > 1)
        .map(
          (k) => `${k.name} ${k.measured.map((c) => ratio((k.baseOf(c) ?? base) / c.endToEndMs)).join(", ")}`,
        )
        .join("; ");
      const hashed = kinds.every((k) => k.hashed);
      const runCount = kinds.reduce((n, k) => n + k.runs.length, 0);
      const hashedCount = kinds.reduce((n, k) => n + k.runs.filter((c) => c.sha256Ok === true).length, 0);
      out.push({
        target: `archive throughput ≥ 80% of the bare put, with SHA-256 (end to end${many ? ", medians over the rounds" : ""})`,
        met: kinds.every((k) => k.endToEndRatio !== null && k.endToEndRatio >= 0.8) && hashed,
        detail: `${many ? "medians of the per-round ratios: " : ""}${each((k) => k.endToEndRatio)}${many ? ` (per round, each against that round's bare put: ${rounds})` : ""}; download phase alone ${each((k) => k.downloadRatio)}${hashed ? `; SHA-256 recorded and correct in ${runCount}/${runCount} runs` : `; SHA-256 NOT verified (${hashedCount}/${runCount} runs archived with the right one)`}`,
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
  if (report.events) {
    const { sequential, burst } = report.events;
    const p95s = [sequential, burst].map((l) =>
      l.times.length ? percentile(l.times, 95) : Number.POSITIVE_INFINITY,
    );
    out.push({
      target: "event answered < 2 s after the last file stored, p95 (single tasks and the burst)",
      met: p95s.every((p) => p < 2000),
      detail: `single tasks p95 ${secs(p95s[0] as number)}, burst p95 ${secs(p95s[1] as number)}`,
    });
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
    const bareRow = (b: (typeof archive.baselines)[number]): Row => [
      `Archive: ${b.label.replace("bare fetch + put", "bare fetch + R2.put (baseline)")}`,
      b.ms !== null ? `${rate(b.bytes, b.ms)} MiB/s (${secs(b.ms)})` : `refused: ${b.error}`,
      "—",
      "—",
      "—",
      `1 request; RSS ${mb(b.rss.before)} → peak ${mb(b.rss.peak)}; slowest /healthz ${secs(b.slowestHealthzMs)}`,
    ];
    const isBase = (b: (typeof archive.baselines)[number]) => b.contentLength && b.bytes === s.archiveSize;
    const bases = archive.baselines.filter(isBase);
    rows.push(...bases.map(bareRow));
    const measuredBases = bases.filter((b) => b.ms !== null).length;
    if (base !== null && measuredBases > 1) {
      rows.push([
        `Archive: bare fetch + R2.put (baseline), ${size(s.archiveSize)}, Content-Length: median of ${measuredBases}`,
        `${rate(s.archiveSize, base)} MiB/s (${secs(base)})`,
        "—",
        "—",
        "—",
        "the baseline of every archive ratio",
      ]);
    }
    rows.push(...archive.baselines.filter((b) => !isBase(b)).map(bareRow));
    for (const kind of consumerKinds(archive, s.archiveSize)) {
      rows.push(...consumerRows(kind, base, s.archiveSize));
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
  const events = report.events;
  if (events) {
    const row = (label: string, l: EventLatency): Row => [
      `Event latency: ${label}`,
      l.times.length
        ? `median ${secs(median(l.times))} · p95 ${secs(percentile(l.times, 95))} · max ${secs(Math.max(...l.times))}; ${l.times.length}/${l.expected} received${l.unverified ? `, ${l.unverified} NOT verified` : ", all verified"}`
        : "none received",
      "—",
      "—",
      `p95 < 2 s${mark(l.times.length > 0 && percentile(l.times, 95) < 2000)}`,
      "last file stored (the event's timestamp) → the local endpoint answered it",
    ];
    rows.push(row(`${events.sequential.expected} single tasks`, events.sequential));
    rows.push(row(`the burst of ${events.burst.expected} tasks`, events.burst));
  }
  return rows;
}

/** Per kind: one compact row per round (when there are several), then the medians. */
function consumerRows(kind: ConsumerKind, base: number | null, bytes: number): Row[] {
  const prefix = `Archive: consumer ${size(bytes)}, ${kind.contentLength ? "Content-Length" : "chunked (multipart)"}`;
  const baseText = base !== null ? `${rate(bytes, base)} MiB/s` : "—";
  const hash = (c: ConsumerRun) => (c.sha256Ok ? "SHA-256 ok" : "SHA-256 NOT ok");
  const rss = (c: ConsumerRun) => `RSS ${mb(c.rss.before)} → peak ${mb(c.rss.peak)}`;
  const rows: Row[] = [];
  const several = kind.runs.length > 1;
  kind.runs.forEach((c, index) => {
    const label = several ? `${prefix}, round ${roundOf(c, index)}` : prefix;
    const bound = `1 file; ${rss(c)}; slowest /healthz ${secs(c.slowestHealthzMs)}`;
    if (!c.archived || c.downloadMs === null || c.publishMs === null) {
      rows.push([label, `not archived: ${c.error}`, "—", "—", "—", bound]);
    } else if (several) {
      const own = kind.baseOf(c);
      rows.push([
        label,
        `${rate(bytes, c.endToEndMs)} MiB/s end to end (${secs(c.endToEndMs)}); downloadMs ${secs(c.downloadMs)}, publishMs ${commitMs(c.publishMs)}; ${hash(c)}`,
        own !== null ? `${rate(bytes, own)} MiB/s (this round's bare put)` : "—",
        own !== null ? ratio(own / c.endToEndMs) : "—",
        "—",
        bound,
      ]);
    }
  });
  const { measured, downloadMs, publishMs, endToEndMs, restMs } = kind;
  if (downloadMs === null || publishMs === null || endToEndMs === null || restMs === null) return rows;
  const n = measured.length;
  const of = n > 1 ? `, median of ${n}` : "";
  // Ratios pair each run with the bare put of its own round, measured just before it.
  const pairedText = n > 1 ? `${baseText} (median); ratio: median of the per-round ratios` : baseText;
  const only = n === 1 ? (measured[0] as ConsumerRun) : null;
  const slowest = Math.max(...measured.map((c) => c.slowestHealthzMs));
  const hashes = kind.hashed
    ? n > 1
      ? `, SHA-256 ok in ${kind.runs.length}/${kind.runs.length}`
      : ", SHA-256 ok"
    : `, SHA-256 ok in only ${kind.runs.filter((c) => c.sha256Ok === true).length}/${kind.runs.length}`;
  rows.push(
    [
      `${prefix}${of}: download + SHA-256 + streaming into R2 (downloadMs)`,
      `${rate(bytes, downloadMs)} MiB/s (${secs(downloadMs)})`,
      pairedText,
      kind.downloadRatio === null ? "—" : ratio(kind.downloadRatio),
      "— (phase)",
      only ? `1 file; ${rss(only)}` : `${n} files, one per round`,
    ],
    [
      `${prefix}${of}: R2 commits the object (publishMs)`,
      `${commitMs(publishMs)} after the last byte`,
      "—",
      "—",
      "— (phase)",
      only ? "same run" : "same runs",
    ],
    [
      `${prefix}${of}: end to end, callback 200 → archived`,
      `${rate(bytes, endToEndMs)} MiB/s (${secs(endToEndMs)}; queue delivery, claim, polling ${secs(restMs)})${hashes}`,
      pairedText,
      kind.endToEndRatio === null ? "—" : ratio(kind.endToEndRatio),
      `≥ 0.80${mark(kind.endToEndRatio !== null && kind.endToEndRatio >= 0.8 && kind.hashed)}`,
      `${only ? "same run" : "same runs"}; polled every 100 ms; slowest /healthz ${secs(slowest)}`,
    ],
  );
  return rows;
}

const escapeCell = (text: string) => text.replaceAll("|", "\\|");

export function markdownTable(rows: Row[]): string {
  const header: Row = ["Figure", "Result", "Baseline (same run)", "Ratio", "Target", "Bound"];
  const line = (cells: readonly string[]) => `| ${cells.map(escapeCell).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function boundsSection(report: Report): string {
  const s = report.settings;
  const rounds = report.archive?.rounds ?? s.archiveRounds ?? 1;
  return [
    "- **Everything** runs on one machine over loopback: the load generator (autocannon, in the bench's own Node process), the media origin (test/helpers/origin.ts, the same process) and `wrangler dev` (its Node process and two workerd processes) share the cores listed above, so every figure includes that contention, and absolute figures vary from run to run by tens of percent; the ratios, measured minutes apart on the same server, are the figures to compare. Each section gets a freshly started `wrangler dev` with its own port and a new temporary persistence folder, deleted when it stops.",
    `- **Ack rows**: each run ends after ${int(s.ackRequests)} requests or ${s.ackMaxSeconds} s, whichever comes first (the Bound column says which and how many), pipelining 1, 30 s request timeout, after a warm-up of ${int(s.ackWarmup)} requests per route at 16 connections. At each level GET /healthz runs first and again last, and the ratios use the mean of the two. Requests/s is completed requests ÷ wall time of the run; p50/p99 are computed from every response's latency (float ms). CPU/req is the CPU time (user + system, /proc) the Worker's workerd and wrangler's proxy workerd used during the run, divided by its requests. The distinct-task callbacks are video callbacks whose file is 1 KiB on the local origin: the consumer archives them *while* the run goes on (real work competing for the same cores); the backlog is then drained and every acked task is checked to be archived before the duplicate run and the next level start.`,
    `- **Archive rows**: one file per run, pattern bytes from the local origin, each run with its own seed. The ${size(s.archiveSize)} comparison runs ${rounds > 1 ? `in ${rounds} interleaved rounds of [bare put with Content-Length, consumer with Content-Length, consumer chunked], so that drift of the machine reaches all three alike` : "once: bare put with Content-Length, consumer with Content-Length, consumer chunked"}; the baseline is \`POST /__bench/baseline-put\` (bare \`fetch\` then \`R2.put(body)\`, no checks, no hash)${rounds > 1 ? ", and each consumer run is divided by the bare put of its own round, measured just before it (the machine's speed drifts by tens of percent between rounds, and both runs of a round drift together); the per-round rows are the single runs, and each kind's summary rows give the median of each figure and of the per-round ratios (the target uses the median ratio)" : ", and the ratios divide by that bare put"}. The consumer writes each file once, straight to its archive key; \`downloadMs\` (from the origin's response to its last byte: download + SHA-256 + streaming into R2) and \`publishMs\` (from the last byte until R2 committed the object: the tail of the put, or the multipart upload's \`complete\`) come from the asset's \`timings\` in the status JSON; end to end is from the callback's 200 until \`archive.state = "archived"\` was seen (polled every 100 ms), so it also contains the queue's delivery, the claim RPC and up to 100 ms of polling. The SHA-256 the task recorded (status JSON \`assets[].sha256\`) is compared with the expected digest of the pattern after the clock stops. RSS is VmRSS of the workerd process that runs the Worker (not the proxy workerd), sampled every 100 ms; "before" is just before the request.`,
    `- **Time to archive**: music \`complete\` callbacks shaped like test/fixtures/kie.music.complete.json, 2 tracks × (${size(s.sizes.audio)} audio + ${size(s.sizes.cover)} cover), all served with Content-Length. Sequential: ${s.sequentialTasks} tasks, one at a time, polled every 50 ms. Burst: ${s.burstTasks} tasks' callbacks with ${s.burstConcurrency} in flight, then polled until all settle or ${secs(s.burstTimeoutMs)} pass — each round (250 ms apart, 4 requests in flight) asks about the 16 oldest unsettled tasks, every 20th round about all of them, because each status request costs the Worker CPU that the consumer needs; "all archived in" runs from the first callback sent to the round in which the last task was seen archived. Status polling (every 50/100 ms in the sequential and archive rows) costs the Worker a few ms of CPU per request, included in those figures.`,
    "- **Event latency**: during the time-to-archive section its dev server has `EVENTS_URL` set to a local endpoint (tools/events-endpoint.ts, the README's receiver, verifying each delivery with the `standardwebhooks` library); per task, from the event's `timestamp` (taken by the task's Durable Object when the last file was reported stored, in the same transaction) to the endpoint's answer. Both clocks are this machine's.",
    "- **Local, not production**: miniflare's local Queue hands the consumer one batch at a time (`max_batch_size = 4`, so at most 4 files in flight); with `max_batch_timeout = 0` it delivers without waiting for a batch to fill; production queues scale consumers out. Local R2 (miniflare) stores objects as files, passes every put through a JavaScript TransformStream that computes MD5 (plus SHA-256 when asked to verify), and reassembles a multipart object's parts in JavaScript when it is read; all of it runs in the same workerd process as the Worker. The deployed 128 MB isolate memory limit cannot be measured locally.",
  ].join("\n");
}

function notesSection(report: Report): string {
  const notes: string[] = [];
  const archive = report.archive;
  const base = archive ? baselineMs(archive, report.settings.archiveSize) : null;
  if (archive && base !== null) {
    const kinds = consumerKinds(archive, report.settings.archiveSize);
    for (const k of kinds) {
      const { endToEndMs, downloadMs, publishMs, restMs } = k;
      if (endToEndMs === null || downloadMs === null || publishMs === null || restMs === null) continue;
      const n = k.measured.length;
      notes.push(
        `- ${k.contentLength ? "Content-Length" : "Chunked"} ${size(report.settings.archiveSize)}${n > 1 ? ` (medians of ${n} runs)` : ""}: end to end ${ratio(k.endToEndRatio ?? base / endToEndMs)}× the bare put. Of its ${secs(endToEndMs)}, the download phase (reading the body, hashing it, streaming it into R2) took ${secs(downloadMs)}, ${ratio(k.downloadRatio ?? base / downloadMs)}× the bare put's rate; R2 committed the object ${commitMs(publishMs)} after the last byte; the queue's delivery, the claim and the status polling took the remaining ${secs(restMs)}.`,
      );
    }
    notes.push(
      "- The consumer writes each file once, straight to its archive key (a streamed put with a known length, a multipart upload without one); R2 creates the object only when its last byte is in. The SHA-256 is computed while streaming and recorded by the task's Durable Object (status JSON `assets[].sha256` and the manifest); the object's custom metadata holds the task id, the asset and the source URL. The earlier design carried the SHA-256 in the object's custom metadata, which R2 takes only when an object is created, while a streamed body's hash is known only after its last byte: it staged the bytes while hashing, then copied them to the archive key with the hash, R2 verifying the copy. That crossed R2 twice, and measured 0.41× (Content-Length) and 0.27× (chunked) the bare put end to end in the previous BENCHMARKS.md, so it was dropped.",
    );
    const fixedKind = kinds.find((k) => k.contentLength && k.downloadMs !== null);
    if (fixedKind) {
      notes.push(
        `- What remains between the consumer's download phase (${ratio(fixedKind.downloadRatio ?? base / (fixedKind.downloadMs as number))}× the bare put with Content-Length) and the bare put, which hands the response body to R2 untouched: the consumer reads the body in a JavaScript loop, hashes every chunk with SHA-256 and writes it on, and locally that runs on the same workerd thread as local R2's own JavaScript TransformStream that computes MD5 over every put, the bare one's too.`,
      );
    }
    const lone = archive.consumer.filter((r) => r.archived && r.downloadMs !== null && r.publishMs !== null);
    if (lone.length) {
      const waits = lone.map((r) => r.endToEndMs - (r.downloadMs as number) - (r.publishMs as number));
      notes.push(
        `- The rest of the end-to-end time (${secs(Math.min(...waits))}–${secs(Math.max(...waits))} per file) is the queue's delivery of the message, the claim RPC and up to 100 ms of status polling.`,
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
    if (stalled && stalls.length > 0) {
      notes.push(
        `- The local runtime did not always answer other requests while the consumer moved a file: during the ${stalled.label} run, GET /healthz once took ${secs(stalled.slowestHealthzMs)} (its download phase took ${secs(stalled.downloadMs ?? 0)}, R2's commit ${commitMs(stalled.publishMs ?? 0)}). Consumer runs with a stall over 2 s: ${stalls.map((r) => `${r.label} (${secs(r.slowestHealthzMs)})`).join(", ")}${calm.length ? `; without: ${calm.map((r) => `${r.label} (${secs(r.slowestHealthzMs)})`).join(", ")}` : ""}. During the bare fetch + put runs it never took more than ${secs(bareWorst)}.`,
      );
    } else if (stalled) {
      notes.push(
        `- The Worker stayed responsive while it moved the bytes: the slowest GET /healthz answer was ${secs(stalled.slowestHealthzMs)} during the consumer's runs (${stalled.label}) and ${secs(bareWorst)} during the bare fetch + put runs.`,
      );
    }
    const chunkedKind = kinds.find((k) => !k.contentLength && k.downloadMs !== null);
    if (chunkedKind && fixedKind) {
      const [chunkedMs, fixedMs] = [chunkedKind.downloadMs as number, fixedKind.downloadMs as number];
      notes.push(
        `- Without Content-Length the download phase took ${secs(chunkedMs)} against ${secs(fixedMs)} with it${chunkedKind.measured.length > 1 || fixedKind.measured.length > 1 ? " (medians)" : ""}, ${ratio(chunkedKind.downloadRatio ?? base / chunkedMs)}× and ${ratio(fixedKind.downloadRatio ?? base / fixedMs)}× the bare put: R2 takes a body of unknown length only as a multipart upload, so the consumer copies the chunks into part buffers and uploads them as parts, reading the next part while the previous one uploads (within a 48 MiB part-buffer budget per isolate), and completes the upload after the last one (${commitMs(chunkedKind.publishMs ?? 0)}, against ${commitMs(fixedKind.publishMs ?? 0)} for the end of the streamed put).`,
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
        `- Where the ack time goes (${diag.connections} connections, CPU of the Worker's workerd per request, from /proc): GET /healthz ${cpu(diag.healthz)} and ${cpu(diag.healthzAfter)} ms; a duplicate ${cpu(diag.duplicate)} ms; a new task without media ${cpu(diag.noAssets)} ms; a new task with one file ${cpu(diag.distinct)} ms during the run${withArchive === null ? "" : `, ${ms(withArchive)} ms once its archive is counted`}. wrangler's proxy workerd adds about ${diag.healthz.proxyCpuMs === null ? "?" : ms(diag.healthz.proxyCpuMs)} ms to every request. A new task is a new Durable Object: locally a new SQLite database (file, journal, WAL) with its schema and a dozen SQL statements, committed as one transaction together with the send leases and the watchdog alarm, then one queue send, all before the 200; and the consumer archiving earlier callbacks' files runs on the same two cores at the same time. Everything is CPU-bound here, so the ratio to /healthz is roughly the ratio of CPU per request.`,
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
