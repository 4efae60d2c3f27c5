// `npm run bench`: the ack path and the archive path against their baselines, in one run.
//
// Starts a local media origin (support/origin.ts) and, per section, its own `wrangler dev`
// (support/dev-server.ts: own port, own temporary persistence folder, `--log-level warn`) of the
// Worker and, where a section compares with one, of a bench-only Worker (bench/floor,
// bench/baseline), all on 127.0.0.1; stops each by its process id and deletes its folder. Prints
// one table to stdout (progress goes to stderr) and writes BENCHMARKS.md from bench/report.md.
//
//   npm run bench [-- --quick] [-- --out <file>] [-- --only ack,archive,time,bundle]
//   npm run bench -- --from bench/.state/last-run.json [--out <file>]
//
// --quick shrinks every count and size (a couple of minutes, for checking the bench itself) and
// then writes nothing unless --out is given. Every run saves its raw figures to
// bench/.state/last-run.json; --from renders such a file again without measuring anything (a file
// saved by an older format of the bench is refused, exit code 2). Exit code 1 when a correctness
// check failed (a wrong hash, a task not archived, a section that could not run); missed
// performance targets are reported, not failed.

import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "../support/client.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { startOrigin } from "../support/origin.ts";
import { type AckLevel, runAck } from "./ack.ts";
import { type ArchiveResult, runArchive } from "./archive.ts";
import {
  BUNDLE_END,
  BUNDLE_START,
  type BundleResult,
  bundleMarkdown,
  bundleVerdicts,
  runBundle,
} from "./bundle.ts";
import { MIB, progress } from "./measure.ts";
import {
  markdownReport,
  markdownTable,
  olderFormat,
  type Report,
  type Settings,
  tableRows,
  verdicts,
} from "./report.ts";
import { type BurstResult, runBurst, runSequential, type SequentialResult } from "./time-to-archive.ts";
import { cpuMs, groupCpuMs, systemCpu, workerdPids } from "./workerd.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The raw figures of the last full or quick run, for `--from` (bench/.state is git-ignored). */
const LAST_RUN = join(ROOT, "bench", ".state", "last-run.json");

/** Prints the table and the verdicts, and writes the Markdown report when `outFile` is set. */
function publish(report: Report, outFile: string | null): void {
  process.stdout.write(`${markdownTable(tableRows(report))}\n\n`);
  process.stdout.write(
    `CPU during the run (cores, average): bench and dev servers ${report.machine.benchCpuShare.toFixed(2)}, other processes ${report.machine.otherCpuShare.toFixed(2)}, steal ${report.machine.stealShare.toFixed(2)}\n`,
  );
  for (const v of verdicts(report)) {
    process.stdout.write(
      `${v.met === null ? "?     " : v.met ? "met   " : "MISSED"}  ${v.target}: ${v.detail}\n`,
    );
  }
  const bundle = report.bundle ?? null;
  for (const v of bundle ? bundleVerdicts(bundle) : []) {
    process.stdout.write(`${v.met ? "met   " : "MISSED"}  ${v.target}: ${v.detail}\n`);
  }
  for (const error of report.errors) process.stdout.write(`ERROR  ${error}\n`);
  if (outFile) {
    // The sections that `npm run bench:index` and `npm run bench:recovery` write, and the profile
    // of the ack path, are kept as they are, and so is the bundle section of an earlier run when this one did not measure bundles.
    const path = resolve(ROOT, outFile);
    const previous = existsSync(path) ? readFileSync(path, "utf8") : "";
    const bundleSection = new RegExp(`${BUNDLE_START}[\\s\\S]*${BUNDLE_END}`);
    const bundleText = bundle
      ? bundleMarkdown(bundle, {
          startedAt: report.startedAt,
          machine: `${report.machine.cores} × ${report.machine.cpuModel}`,
          commit: report.tree.commit,
          rounds: report.settings.bundleRounds ?? 1,
        })
      : (bundleSection.exec(previous)?.[0] ?? null);
    const onlyBundle = report.ack === null && report.archive === null && report.sequential === null;
    if (onlyBundle && previous && bundleText) {
      // `--only bundle`: the other sections of the file stay as the last full run wrote them.
      const next = bundleSection.test(previous)
        ? previous.replace(bundleSection, () => bundleText)
        : `${previous.trimEnd()}\n\n${bundleText}\n`;
      writeFileSync(path, next);
    } else {
      const kept = [
        /<!-- bench:index:start -->[\s\S]*<!-- bench:index:end -->/,
        /<!-- bench:recovery -->[\s\S]*<!-- \/bench:recovery -->/,
        // Written by hand from `npm run bench:profile` (it writes no report itself).
        /<!-- bench:profile -->[\s\S]*<!-- \/bench:profile -->/,
      ].flatMap((section) => section.exec(previous)?.[0] ?? []);
      const parts = [markdownReport(report).trimEnd(), bundleText, ...kept].filter((part) => part !== null);
      writeFileSync(path, `${parts.join("\n\n")}\n`);
    }
    progress(`wrote ${outFile} (run took ${(report.runtimeMs / 1000).toFixed(0)} s)`);
  }
}

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string" },
    only: { type: "string" },
    from: { type: "string" },
  },
});
// --from <file>: render a saved run again (the report's wording changed, not the figures).
if (values.from) {
  const saved = JSON.parse(readFileSync(resolve(values.from), "utf8")) as Report;
  const older = olderFormat(saved);
  if (older) {
    process.stderr.write(
      `${values.from} is from an older format of the bench: ${older}; run the bench again\n`,
    );
    process.exit(2);
  }
  saved.startedAt = new Date(saved.startedAt);
  publish(saved, values.out ?? (saved.settings.quick ? null : "BENCHMARKS.md"));
  process.exit(saved.errors.length > 0 ? 1 : 0);
}

const quick = values.quick ?? false;
const sections = new Set((values.only ?? "ack,archive,time,bundle").split(",").map((s) => s.trim()));
const outFile = values.out ?? (quick ? null : "BENCHMARKS.md");

const full: Settings = {
  quick: false,
  ackRequests: 2_000,
  ackMaxSeconds: 12,
  ackWarmup: 200,
  ackLevels: [1, 16, 64],
  archiveSize: 300 * MIB,
  archiveRounds: 3,
  rssSmall: 100 * MIB,
  rssLarge: 1024 * MIB,
  sequentialTasks: 20,
  burstTasks: 200,
  burstConcurrency: 32,
  burstTimeoutMs: 300_000,
  sizes: { audio: 4 * MIB, cover: 200 * 1024 },
  // 12 stems of 86 MiB: 1,032 MiB, just over 1 GiB.
  bundleStemSize: 86 * MIB,
  bundleRounds: 3,
};
const settings: Settings = quick
  ? {
      ...full,
      quick,
      ...{ ackRequests: 300, ackMaxSeconds: 10, ackWarmup: 100, archiveSize: 48 * MIB, archiveRounds: 1 },
      ...{ rssSmall: 16 * MIB, rssLarge: 96 * MIB, sequentialTasks: 5, burstTasks: 20, burstConcurrency: 8 },
      ...{ bundleStemSize: 4 * MIB, bundleRounds: 1 },
      burstTimeoutMs: 120_000,
    }
  : full;

const version = (path: string) => {
  for (const candidate of [
    join(ROOT, "node_modules", "wrangler", "node_modules", path),
    join(ROOT, "node_modules", path),
    join(ROOT, "bench", "node_modules", path),
  ]) {
    if (existsSync(candidate))
      return (JSON.parse(readFileSync(candidate, "utf8")) as { version: string }).version;
  }
  return "unknown";
};

const startedAt = new Date();
const loadAtStart = os.loadavg();
const cpuAtStart = systemCpu();
/** CPU the dev servers used (summed just before each is stopped), to tell other load apart. */
let devServersCpuMs = 0;
const started = performance.now();
const runId = startedAt.getTime().toString(36);
const errors: string[] = [];
let wranglerArgs: string[] = [];

/** The bench-only Workers, each started on a `wrangler dev` of its own. */
const WORKERS = ["bench/floor", "bench/baseline"];

/**
 * The Worker is run from a copy of its source taken now: `wrangler dev` rebuilds and restarts
 * the Worker whenever a file under src/ changes, which would cut a measurement in half.
 */
function snapshotProject(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "stemvault-bench-src-"));
  for (const entry of [
    "src",
    "public",
    "migrations",
    "wrangler.toml",
    "package.json",
    "tsconfig.json",
    "worker-configuration.d.ts",
    ...WORKERS,
  ]) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  for (const worker of [".", ...WORKERS]) {
    symlinkSync(join(ROOT, "node_modules"), join(dir, worker, "node_modules"), "dir");
  }
  return dir;
}

function gitTree(): { commit: string; dirty: string[] } {
  const git = (...args: string[]) => execFileSync("git", ["-C", ROOT, ...args], { encoding: "utf8" });
  try {
    // Porcelain lines are "XY path"; only what the Worker is built from matters here.
    const dirty = git("status", "--porcelain", "--", "src", "wrangler.toml")
      .split("\n")
      .filter((line) => line.length > 3)
      .map((line) => line.slice(3));
    return { commit: git("rev-parse", "--short", "HEAD").trim(), dirty };
  } catch {
    return { commit: "unknown", dirty: [] };
  }
}

const tree = gitTree();
const projectCopy = snapshotProject();
const origin = await startOrigin();
const running: DevServer[] = [];

// Whatever happens, what this run started is stopped (by pid) and its folders removed.
const shutdown = async () => {
  await Promise.all(running.map((dev) => dev.stop()));
  await origin.close();
  rmSync(projectCopy, { recursive: true, force: true });
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping what the bench started`);
    void shutdown().finally(() => process.exit(130));
  });
}

/**
 * Runs one section on freshly started `wrangler dev`s of the Workers it names ("." is the
 * receiver), stopped (and their state deleted) after.
 */
async function section<T>(
  name: string,
  workers: string[],
  body: (...devs: DevServer[]) => Promise<T>,
): Promise<T | null> {
  const devs: DevServer[] = [];
  try {
    for (const worker of workers) {
      progress(`${name}: starting wrangler dev${worker === "." ? "" : ` of ${worker}`}`);
      const dev = await startDevServer({ cwd: join(projectCopy, worker), logLevel: "warn" });
      devs.push(dev);
      if (worker === ".") wranglerArgs = dev.args;
    }
    running.push(...devs);
    return await body(...devs);
  } catch (error) {
    const message = `${name}: ${error instanceof Error ? error.message : String(error)}`;
    errors.push(message);
    progress(`FAILED ${message}\n${devs.map((dev) => dev.output().slice(-4000)).join("\n")}`);
    return null;
  } finally {
    for (const dev of devs) {
      devServersCpuMs += groupCpuMs(dev.pid);
      await dev.stop();
      if (existsSync(dev.persistDir))
        errors.push(`${name}: persistence folder ${dev.persistDir} was left behind`);
    }
    running.length = 0;
    progress(`${name}: wrangler dev stopped, its folders removed`);
  }
}

let ack: AckLevel[] | null = null;
let archive: ArchiveResult | null = null;
let sequential: SequentialResult | null = null;
let burst: BurstResult | null = null;
let bundle: BundleResult | null = null;
try {
  if (sections.has("ack")) {
    ack = await section("ack", [".", "bench/floor"], (dev, floor) =>
      runAck({
        receiver: Client.dev(dev.url),
        originUrl: origin.url,
        runId,
        pids: workerdPids(dev.pid, dev.port),
        floor: { url: floor.url, pids: workerdPids(floor.pid, floor.port) },
        levels: settings.ackLevels,
        withoutMedia: true,
        maxSeconds: settings.ackMaxSeconds,
        requests: settings.ackRequests,
        warmupRequests: settings.ackWarmup,
        drainTimeoutMs: 180_000,
      }),
    );
  }
  if (sections.has("archive")) {
    archive = await section("archive", [".", "bench/baseline"], async (dev, bare) => {
      const { runtime } = workerdPids(dev.pid, dev.port);
      const result = await runArchive({
        receiver: Client.dev(dev.url),
        receiverPid: runtime,
        baseline: { url: bare.url, pid: workerdPids(bare.pid, bare.port).runtime },
        originUrl: origin.url,
        runId,
        size: settings.archiveSize,
        rounds: settings.archiveRounds ?? 1,
        small: settings.rssSmall,
        large: settings.rssLarge,
      });
      if (cpuMs(runtime) === null) throw new Error("the Worker's workerd restarted during the archive runs");
      return result;
    });
  }
  if (sections.has("time")) {
    await section("time to archive", ["."], async (dev) => {
      const options = {
        receiver: Client.dev(dev.url),
        originUrl: origin.url,
        runId,
        sizes: settings.sizes,
        sequentialTasks: settings.sequentialTasks,
        burstTasks: settings.burstTasks,
        burstConcurrency: settings.burstConcurrency,
        burstTimeoutMs: settings.burstTimeoutMs,
      };
      sequential = await runSequential(options);
      burst = await runBurst(options);
    });
  }
  if (sections.has("bundle")) {
    bundle = await section("bundle", ["."], async (dev) => {
      const { runtime } = workerdPids(dev.pid, dev.port);
      const result = await runBundle({
        receiver: Client.dev(dev.url),
        receiverPid: runtime,
        originUrl: origin.url,
        runId,
        stemSize: settings.bundleStemSize ?? 86 * MIB,
        rounds: settings.bundleRounds ?? 1,
      });
      if (cpuMs(runtime) === null) throw new Error("the Worker's workerd restarted during the bundle runs");
      return result;
    });
  }
} finally {
  await shutdown();
}

for (const level of ack ?? []) {
  if (level.drain.archived !== level.drain.acked)
    errors.push(`ack: only ${level.drain.archived} of ${level.drain.acked} acked tasks were archived`);
  const outbox = level.outboxIndexed;
  // A request cut off by a run's time cap may be recorded and indexed unanswered, hence ≥.
  if (outbox && outbox.indexed < outbox.answered)
    errors.push(
      `ack, ${level.connections} conn.: the floor's outbox route indexed only ${outbox.indexed} of the ${outbox.answered} tasks it answered`,
    );
}
for (const error of (archive as ArchiveResult | null)?.errors ?? []) errors.push(`archive: ${error}`);
for (const run of archive?.consumer ?? []) {
  if (!run.archived) errors.push(`archive: ${run.label} not archived: ${run.error}`);
  else if (run.sha256Ok !== true) errors.push(`archive: ${run.label}: wrong size or SHA-256`);
}
const seq = sequential as SequentialResult | null;
const bst = burst as BurstResult | null;
if (seq?.failures.length) errors.push(`time to archive: ${seq.failures.join("; ")}`);
if (bst?.failures.length) errors.push(`burst: ${bst.failures.join("; ")}`);
for (const error of (bundle as BundleResult | null)?.errors ?? []) errors.push(`bundle: ${error}`);

const cpus = os.cpus();
const runtimeMs = performance.now() - started;
const cpuAtEnd = systemCpu();
const ownCpu = process.cpuUsage();
const benchCpuMs = devServersCpuMs + (ownCpu.user + ownCpu.system) / 1000;
const report: Report = {
  startedAt,
  runtimeMs,
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
  wranglerArgs,
  tree,
  machine: {
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    kernel: os.release(),
    node: process.versions.node,
    wrangler: version("wrangler/package.json"),
    workerd: version("workerd/package.json"),
    autocannon: version("autocannon/package.json"),
    loadAverageAtStart: loadAtStart,
    // Busy CPU of the whole machine that neither the bench nor its dev servers account for.
    otherCpuShare: Math.max(0, cpuAtEnd.busyMs - cpuAtStart.busyMs - benchCpuMs) / runtimeMs,
    stealShare: (cpuAtEnd.stealMs - cpuAtStart.stealMs) / runtimeMs,
    benchCpuShare: benchCpuMs / runtimeMs,
  },
  settings,
  ack,
  archive,
  sequential: seq,
  burst: bst,
  bundle,
  errors,
};

mkdirSync(dirname(LAST_RUN), { recursive: true });
writeFileSync(LAST_RUN, JSON.stringify(report, null, 2));
publish(report, outFile);
process.exitCode = errors.length > 0 ? 1 : 0;
