// Turns the measurements into one table (Markdown, printed and written to BENCHMARKS.md) and the
// verdict on each target, and fills the report's prose (bench/report.md) with the figures it
// cites: what bounds each figure, and the notes that explain the ratios.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AckLevel, LoadResult } from "./ack.ts";
import type { ArchiveResult, ConsumerRun } from "./archive.ts";
import type { BundleResult } from "./bundle.ts";
import { MIB, median, percentile } from "./measure.ts";
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
  /** The bundle section: each of its 12 stems, and its rounds; absent in reports of older runs. */
  bundleStemSize?: number;
  bundleRounds?: number;
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
  archive: ArchiveResult | null;
  sequential: SequentialResult | null;
  burst: BurstResult | null;
  /** The bundle section (bench/bundle.ts, its own part of BENCHMARKS.md); absent in older reports. */
  bundle?: BundleResult | null;
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

/**
 * Why a saved run cannot be rendered by this report, or null when it can: runs saved before the
 * floor was measured beside the receiver kept it in a section of its own, and their ack levels
 * lack the figures the targets compare. Runs saved before the floor + outbox runs existed render,
 * with a note that says so.
 */
export function olderFormat(report: Report): string | null {
  const levels: unknown[] = report.ack ?? [];
  if (levels.some((level) => !(typeof level === "object" && level !== null && "floorAfter" in level)))
    return "its ack levels have no floor runs beside the receiver's (the floor had a section of its own then)";
  return null;
}

/** The duplicates' baseline at a level: the mean requests/s of its two GET /healthz runs. */
export const healthzRps = (level: AckLevel) => (level.healthz.rps + level.healthzAfter.rps) / 2;

/** The new tasks' baseline at a level: the means of its two floor runs. */
interface Floor {
  rps: number;
  p99: number;
  /** Worker CPU per request; null when /proc could not be read. */
  cpuMs: number | null;
}

function meanOf(a: LoadResult | null | undefined, b: LoadResult | null | undefined): Floor | null {
  if (!a || !b) return null;
  const cpu =
    a.runtimeCpuMs === null || b.runtimeCpuMs === null ? null : (a.runtimeCpuMs + b.runtimeCpuMs) / 2;
  return { rps: (a.rps + b.rps) / 2, p99: (a.p99 + b.p99) / 2, cpuMs: cpu };
}

const floorOf = (level: AckLevel) => meanOf(level.floor, level.floorAfter);

/**
 * The floor plus the contract's per-task work (the outbox's alarm, the index row) at a level: the
 * means of its two runs; null when not measured (runs saved before it existed have none).
 */
const outboxOf = (level: AckLevel) => meanOf(level.outbox, level.outboxAfter);

/** Issue 20's targets for the ack path. */
const ACK_TARGET = { rps: 0.8, p99: 1.5, cpu: 2, duplicate: 0.8 } as const;

/** The new-task targets hold at every level but one connection, whose figures are shown bare. */
const targeted = (level: AckLevel) => level.connections > 1;

/** A new-task run against the floor of its level. */
interface AgainstFloor {
  rps: number;
  p99: number;
  cpu: number | null;
}

/** Figures (one run's, or the means of two) against a baseline's. */
const against = (x: Floor, base: Floor): AgainstFloor => ({
  rps: x.rps / base.rps,
  p99: x.p99 / base.p99,
  cpu: x.cpuMs === null || base.cpuMs === null ? null : x.cpuMs / base.cpuMs,
});

const againstFloor = (r: LoadResult, floor: Floor): AgainstFloor =>
  against({ rps: r.rps, p99: r.p99, cpuMs: r.runtimeCpuMs }, floor);

/** Whether each new-task figure meets its target; null when it could not be measured. */
const meets = (a: AgainstFloor) => ({
  rps: a.rps >= ACK_TARGET.rps,
  p99: a.p99 <= ACK_TARGET.p99,
  cpu: a.cpu === null ? null : a.cpu <= ACK_TARGET.cpu,
});

/** The new-task runs of a level: with one file each, and without media (null when not run). */
const newTasks = (level: AckLevel) =>
  [
    { variant: "with media", r: level.distinct },
    { variant: "`text`-only", r: level.noAssets },
  ] as const;

/** "1, 16 and 64" */
const andList = (items: readonly (string | number)[]) =>
  items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;

/** The median, or null when there are no values. */
const middle = (values: readonly number[]) => (values.length === 0 ? null : median(values));

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

/**
 * The ack targets: at every targeted level each new-task variant against the floor of the same
 * level (requests/s, p99, Worker CPU per request), and at every level the duplicates against
 * GET /healthz. A figure that is missing makes its verdict unknown rather than met.
 */
function ackVerdicts(levels: AckLevel[]): Verdict[] {
  const at = levels.filter(targeted);
  const where = `at ${andList(at.map((l) => l.connections))} connections`;
  const each = (
    figure: "rps" | "p99" | "cpu",
    text: (r: LoadResult, a: AgainstFloor) => string,
    floorText: (f: Floor) => string,
  ) => {
    const oks: (boolean | null)[] = [];
    const parts = at.map((level) => {
      const floor = floorOf(level);
      const runs = newTasks(level).map(({ variant, r }) => {
        const a = r && floor ? againstFloor(r, floor) : null;
        oks.push(a ? meets(a)[figure] : null);
        return `${variant} ${r && a ? text(r, a) : "not measured"}`;
      });
      return `${level.connections} conn.: ${runs.join(", ")} (floor ${floor ? floorText(floor) : "not measured"})`;
    });
    // One miss is a miss; otherwise a figure not measured leaves the verdict open.
    const met = oks.includes(false) ? false : oks.length === 0 || oks.includes(null) ? null : true;
    return { met, detail: parts.join("; ") };
  };
  const out: Verdict[] = [
    {
      target: `new-task ack ≥ ${ratio(ACK_TARGET.rps)}× the floor's req/s ${where} (with media and \`text\`-only)`,
      ...each(
        "rps",
        (r, a) => `${int(r.rps)} req/s = ${ratio(a.rps)}×`,
        (f) => `${int(f.rps)} req/s`,
      ),
    },
    {
      target: `new-task ack p99 ≤ ${ACK_TARGET.p99}× the floor's p99 ${where}`,
      ...each(
        "p99",
        (r, a) => `${ms(r.p99)} ms = ${ratio(a.p99)}×`,
        (f) => `${ms(f.p99)} ms`,
      ),
    },
    {
      target: `Worker CPU per new task ≤ ${ACK_TARGET.cpu}× the floor's ${where}`,
      ...each(
        "cpu",
        (r, a) => `${ms(r.runtimeCpuMs ?? 0)} ms = ${a.cpu === null ? "?" : ratio(a.cpu)}×`,
        (f) => (f.cpuMs === null ? "?" : `${ms(f.cpuMs)} ms`),
      ),
    },
  ];
  const duplicates = levels.map((level) => ({ level, r: level.duplicate.rps / healthzRps(level) }));
  out.push({
    target: `duplicates ≥ ${ratio(ACK_TARGET.duplicate)}× GET /healthz at every level`,
    met: duplicates.every((d) => d.r >= ACK_TARGET.duplicate),
    detail: duplicates
      .map(
        (d) =>
          `${d.level.connections} conn.: ${int(d.level.duplicate.rps)} req/s = ${ratio(d.r)}× (${int(healthzRps(d.level))})`,
      )
      .join("; "),
  });
  return out;
}

export function verdicts(report: Report): Verdict[] {
  const out: Verdict[] = [];
  if (report.ack?.length) out.push(...ackVerdicts(report.ack));
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

/** One level of the ack section, in the order it was measured. */
function ackRows(level: AckLevel): Row[] {
  const c = level.connections;
  const rows: Row[] = [];
  const plain = (label: string, r: LoadResult | null, bound = "") => {
    if (r) rows.push([`Ack, ${c} conn.: ${label}`, loadText(r), "—", "—", "—", `${loadBound(r)}${bound}`]);
  };
  const floor = floorOf(level);
  const floorText = floor
    ? `floor ${int(floor.rps)} req/s · p99 ${ms(floor.p99)} ms${floor.cpuMs === null ? "" : ` · CPU/req ${ms(floor.cpuMs)} ms`} (means of both floor runs)`
    : "—";
  const outbox = outboxOf(level);
  // Information beside the target's baseline, never a verdict: issue 20's targets are against the floor.
  const outboxText = outbox
    ? `; floor + outbox ${int(outbox.rps)} req/s · p99 ${ms(outbox.p99)} ms${outbox.cpuMs === null ? "" : ` · CPU/req ${ms(outbox.cpuMs)} ms`} (means of both outbox runs)`
    : "";
  const ratios = (a: AgainstFloor) =>
    `${ratio(a.rps)} req/s · ${ratio(a.p99)} p99 · ${a.cpu === null ? "?" : ratio(a.cpu)} CPU`;
  const newTask = (label: string, r: LoadResult | null, bound: string) => {
    if (!r) return;
    const a = floor ? againstFloor(r, floor) : null;
    const met = a ? meets(a) : null;
    const o = outbox ? againstFloor(r, outbox) : null;
    rows.push([
      `Ack, ${c} conn.: POST /callbacks, ${label}`,
      loadText(r),
      `${floorText}${outboxText}`,
      `${a ? ratios(a) : "—"}${o ? `; to floor + outbox (information): ${ratios(o)}` : ""}`,
      !targeted(level)
        ? "— (1 connection)"
        : `≥ ${ratio(ACK_TARGET.rps)}${mark(met?.rps ?? null)}; p99 ≤ ${ACK_TARGET.p99}×${mark(met?.p99 ?? null)}; CPU ≤ ${ACK_TARGET.cpu}×${mark(met?.cpu ?? null)}`,
      `${loadBound(r)}${bound}`,
    ]);
  };
  const objectLabel = "floor: POST /object/<new id> (one new SQLite Durable Object, one row)";
  const outboxLabel =
    "floor + outbox: POST /outbox/<new id> (the floor + an alarm armed with the row; after the answer one D1 index row, then the alarm cleared)";
  const indexed = level.outboxIndexed;
  const indexedText = indexed
    ? `; both runs: ${indexed.answered} answered 200 of ${indexed.issued} sent, ${indexed.indexed} indexed`
    : "";
  plain("GET /healthz (first)", level.healthz);
  plain(`${objectLabel}, first`, level.floor, "; bench/floor");
  plain(`${outboxLabel}, first`, level.outbox ?? null, "; bench/floor");
  const drain = level.drain;
  newTask(
    "new tasks with one file each",
    level.distinct,
    `; consumer archived ${drain.archived}/${drain.acked}, the last ${drain.seconds.toFixed(1)} s after the run${drain.runtimeCpuMsPerTask === null ? "" : `; Worker CPU ${ms(drain.runtimeCpuMsPerTask)} ms per task incl. its archive`}`,
  );
  newTask("new tasks without media (music `text`)", level.noAssets, "");
  const dup = level.duplicate.rps / healthzRps(level);
  rows.push([
    `Ack, ${c} conn.: POST /callbacks, the same callback (duplicates)`,
    loadText(level.duplicate),
    `${int(healthzRps(level))} req/s (mean of both /healthz runs)`,
    ratio(dup),
    `≥ ${ratio(ACK_TARGET.duplicate)}${mark(dup >= ACK_TARGET.duplicate)}`,
    loadBound(level.duplicate),
  ]);
  plain(`${outboxLabel}, again`, level.outboxAfter ?? null, `; bench/floor${indexedText}`);
  plain(`${objectLabel}, again`, level.floorAfter, "; bench/floor");
  plain("GET /healthz (again at the end of the level)", level.healthzAfter);
  return rows;
}

export function tableRows(report: Report): Row[] {
  const rows: Row[] = [];
  const s = report.settings;
  for (const level of report.ack ?? []) rows.push(...ackRows(level));
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

type View = { [key: string]: unknown };

/**
 * Fills a Markdown template: `{{path}}` is a value (`{{.}}` the current item); `{{#path}}…{{/path}}`
 * is shown when the value is truthy, once per item for a list (with the item as context), and
 * `{{^path}}…{{/path}}` when it is not. A path is looked up from the innermost context outwards. A
 * section tag alone on its line takes the line's end with it.
 */
export function render(template: string, view: View): string {
  const lookup = (path: string, stack: unknown[]): unknown => {
    if (path === ".") return stack[0];
    for (const context of stack) {
      let value: unknown = context;
      for (const part of path.split(".")) value = (value as View | null)?.[part];
      if (value !== undefined) return value;
    }
    return undefined;
  };
  const fill = (text: string, stack: unknown[]): string =>
    text
      .replace(
        /\{\{([#^])([\w.]+)\}\}([\s\S]*?)\{\{\/\2\}\}/g,
        (_, kind: string, path: string, body: string) => {
          const value = lookup(path, stack);
          const items = Array.isArray(value) ? value : value ? [value] : [];
          if (kind === "^") return items.length ? "" : fill(body, stack);
          return items.map((item) => fill(body, [item, ...stack])).join("");
        },
      )
      .replace(/\{\{([\w.]+)\}\}/g, (_, path: string) => {
        const value = lookup(path, stack);
        if (value === undefined || value === null) throw new Error(`report.md: no value for {{${path}}}`);
        return String(value);
      });
  return fill(template.replace(/^(\{\{[#^/][\w.]+\}\})\n/gm, "$1"), [view]);
}

/** The figures the notes of report.md cite; a note whose entry is null is left out. */
function notes(report: Report): View {
  const archive = report.archive;
  const s = report.settings;
  const base = archive ? baselineMs(archive, s.archiveSize) : null;
  const view: View = {};
  if (archive && base !== null) {
    const kinds = consumerKinds(archive, s.archiveSize);
    view.archive = true;
    view.kinds = kinds.flatMap((k) => {
      const { endToEndMs, downloadMs, publishMs, restMs } = k;
      if (endToEndMs === null || downloadMs === null || publishMs === null || restMs === null) return [];
      return [
        {
          name: k.contentLength ? "Content-Length" : "Chunked",
          size: size(s.archiveSize),
          runs: k.measured.length > 1 ? k.measured.length : null,
          endToEndRatio: ratio(k.endToEndRatio ?? base / endToEndMs),
          endToEnd: secs(endToEndMs),
          download: secs(downloadMs),
          downloadRatio: ratio(k.downloadRatio ?? base / downloadMs),
          publish: commitMs(publishMs),
          rest: secs(restMs),
        },
      ];
    });
    const fixed = kinds.find((k) => k.contentLength && k.downloadMs !== null);
    const chunked = kinds.find((k) => !k.contentLength && k.downloadMs !== null);
    const downloadRatio = (k: ConsumerKind) => ratio(k.downloadRatio ?? base / (k.downloadMs as number));
    if (fixed) view.fixed = { ratio: downloadRatio(fixed) };
    const lone = archive.consumer.filter((r) => r.archived && r.downloadMs !== null && r.publishMs !== null);
    if (lone.length) {
      const waits = lone.map((r) => r.endToEndMs - (r.downloadMs as number) - (r.publishMs as number));
      view.waits = { min: secs(Math.min(...waits)), max: secs(Math.max(...waits)) };
    }
    const firstBare = archive.warmup?.baseline ?? archive.baselines[0];
    const firstReal = archive.warmup?.consumer ?? archive.consumer[0];
    const memoryRuns = archive.consumer.filter((r) => r.bytes !== s.archiveSize);
    if (firstBare && firstReal && memoryRuns.length) {
      view.memory = {
        first: archive.warmup ? "the warm-up transfers" : "the first transfers",
        bareBefore: mb(firstBare.rss.before),
        barePeak: mb(firstBare.rss.peak),
        firstBefore: mb(firstReal.rss.before),
        firstPeak: mb(firstReal.rss.peak),
        later: memoryRuns
          .map((r) => `${size(r.bytes)} run added ${mb(r.rss.peak - r.rss.before)}`)
          .join(" and the "),
      };
    }
    const stalled = archive.consumer.reduce<ConsumerRun | null>(
      (worst, r) => (worst === null || r.slowestHealthzMs > worst.slowestHealthzMs ? r : worst),
      null,
    );
    const bareWorst = secs(Math.max(0, ...archive.baselines.map((b) => b.slowestHealthzMs)));
    const stalls = archive.consumer.filter((r) => r.slowestHealthzMs > 2000);
    const list = (runs: ConsumerRun[]) =>
      runs.map((r) => `${r.label} (${secs(r.slowestHealthzMs)})`).join(", ");
    if (stalled && stalls.length > 0) {
      view.stalls = {
        label: stalled.label,
        slowest: secs(stalled.slowestHealthzMs),
        download: secs(stalled.downloadMs ?? 0),
        publish: commitMs(stalled.publishMs ?? 0),
        stalls: list(stalls),
        calm: list(archive.consumer.filter((r) => r.slowestHealthzMs <= 2000)),
        bareWorst,
      };
    } else if (stalled) {
      view.responsive = { slowest: secs(stalled.slowestHealthzMs), label: stalled.label, bareWorst };
    }
    if (chunked && fixed) {
      view.chunked = {
        chunked: secs(chunked.downloadMs as number),
        fixed: secs(fixed.downloadMs as number),
        medians: chunked.measured.length > 1 || fixed.measured.length > 1,
        chunkedRatio: downloadRatio(chunked),
        fixedRatio: downloadRatio(fixed),
        chunkedPublish: commitMs(chunked.publishMs ?? 0),
        fixedPublish: commitMs(fixed.publishMs ?? 0),
      };
    }
    const refused = archive.baselines.find((b) => !b.contentLength)?.error;
    if (refused) view.refused = { error: refused };
  }
  const ack = report.ack ?? [];
  if (ack.some((level) => floorOf(level))) view.floor = true;
  const withOutbox = ack.filter((level) => outboxOf(level));
  if (withOutbox.length > 0) {
    const cpuText = (n: number | null) => (n === null ? "?" : `${ms(n)} ms`);
    const cpuRatio = (a: AgainstFloor) => (a.cpu === null ? "?" : `${ratio(a.cpu)}×`);
    view.outbox = {
      levels: withOutbox.map((level) => {
        const outbox = outboxOf(level) as Floor;
        const floor = floorOf(level);
        const vs = floor ? against(outbox, floor) : null;
        return {
          connections: level.connections,
          rps: int(outbox.rps),
          p99: ms(outbox.p99),
          cpu: cpuText(outbox.cpuMs),
          floor: vs
            ? `${ratio(vs.rps)}× the floor's req/s, ${ratio(vs.p99)}× its p99, ${cpuRatio(vs)} its CPU`
            : null,
          newTasks: newTasks(level)
            .flatMap(({ variant, r }) => {
              if (!r) return [];
              const a = againstFloor(r, outbox);
              return [`${variant} ${ratio(a.rps)}× req/s, ${ratio(a.p99)}× p99, ${cpuRatio(a)} CPU`];
            })
            .join("; "),
        };
      }),
    };
  } else if (ack.some((level) => floorOf(level))) {
    view.noOutbox = true;
  }
  if (ack.length > 0) {
    const cpu = (r: LoadResult | null) => (r === null || r.runtimeCpuMs === null ? "?" : ms(r.runtimeCpuMs));
    view.cpu = {
      levels: ack.map((level) => ({
        connections: level.connections,
        healthz: cpu(level.healthz),
        healthzAfter: cpu(level.healthzAfter),
        floor: level.floor ? `${cpu(level.floor)} and ${cpu(level.floorAfter)}` : null,
        outbox: level.outbox ? `${cpu(level.outbox)} and ${cpu(level.outboxAfter ?? null)}` : null,
        duplicate: cpu(level.duplicate),
        noAssets: level.noAssets ? cpu(level.noAssets) : null,
        distinct: cpu(level.distinct),
        withArchive: level.drain.runtimeCpuMsPerTask === null ? null : ms(level.drain.runtimeCpuMsPerTask),
        proxy: level.healthz.proxyCpuMs === null ? "?" : ms(level.healthz.proxyCpuMs),
      })),
    };
  }
  return view;
}

export function markdownReport(report: Report): string {
  const m = report.machine;
  const s = report.settings;
  const rounds = report.archive?.rounds ?? s.archiveRounds ?? 1;
  const template = readFileSync(join(import.meta.dirname, "report.md"), "utf8");
  return render(template, {
    command: report.command,
    startedAt: report.startedAt.toISOString(),
    runtime: secs(report.runtimeMs),
    quick: s.quick,
    machine: {
      ...m,
      memory: `${(m.memoryBytes / 1024 ** 3).toFixed(1)} GiB`,
      load: m.loadAverageAtStart.map((n) => n.toFixed(2)).join(", "),
      benchCpu: m.benchCpuShare.toFixed(2),
      otherCpu: m.otherCpuShare.toFixed(2),
      steal: m.stealShare.toFixed(2),
    },
    wranglerArgs: report.wranglerArgs.join(" "),
    commit: report.tree.commit,
    dirty: report.tree.dirty.map((file) => `\`${file}\``).join(", "),
    table: markdownTable(tableRows(report)),
    targets: verdicts(report).map((v) => ({
      ...v,
      mark: v.met === null ? "?" : v.met ? "✅ met" : "❌ missed",
    })),
    errors: report.errors,
    bounds: {
      ackRequests: int(s.ackRequests),
      ackSeconds: s.ackMaxSeconds,
      ackWarmup: int(s.ackWarmup),
      archiveSize: size(s.archiveSize),
      warmup: size(Math.min(s.archiveSize, 64 * MIB)),
      rounds,
      manyRounds: rounds > 1,
      audio: size(s.sizes.audio),
      cover: size(s.sizes.cover),
      sequentialTasks: s.sequentialTasks,
      burstTasks: s.burstTasks,
      burstConcurrency: s.burstConcurrency,
      burstTimeout: secs(s.burstTimeoutMs),
    },
    notes: notes(report),
  });
}
