// Archive path: one large file from the local origin through the real consumer, against a bare
// `fetch` then `R2.put(body)` (bench/baseline, a Worker of its own on its own `wrangler dev`),
// while sampling the RSS of the workerd process that runs the Worker concerned.
//
// The comparison runs in interleaved rounds of [bare put with Content-Length, consumer with
// Content-Length, consumer chunked], each run with its own seed, so that drift of the machine
// reaches every kind alike; the report compares medians over the rounds. A bare put of a chunked
// body is attempted once: the runtime refuses it, which is why the consumer's chunked runs are
// compared with the Content-Length baseline. The memory pair (100 MiB, 1 GiB) runs last.
//
// The consumer's run is a video callback; the clock runs from its 200 until `GET /tasks/:id`
// shows `archive.state = "archived"` (polled every 100 ms), so it includes the queue's delivery
// and the claim. The asset's `timings` split the consumer's own time into `downloadMs` (from the
// response to its last byte: download + SHA-256 + streaming into R2) and `publishMs` (from the
// last byte until R2 committed the object). Every run also asks the Worker's GET /healthz every
// 100 ms and keeps the slowest answer: whether the Worker stays responsive while it moves bytes.

import type { Client } from "../support/client.ts";
import { mediaUrl } from "../support/media-url.ts";
import { mediaSha256 } from "../support/pattern.ts";
import { post, videoCallback } from "./callbacks.ts";
import { MIB, progress, sleep } from "./measure.ts";
import { type RssWindow, withRss } from "./workerd.ts";

export interface BaselineRun {
  label: string;
  /** Which round of the comparison (1-based); absent for runs outside the rounds and in older files. */
  round?: number;
  bytes: number;
  contentLength: boolean;
  /** Server-side time of fetch + put, or null when the put was refused. */
  ms: number | null;
  error: string | null;
  /** The slowest GET /healthz answer during the run. */
  slowestHealthzMs: number;
  rss: RssWindow;
}

export interface ConsumerRun {
  label: string;
  /** Which round of the comparison (1-based); absent for the memory pair and in older files. */
  round?: number;
  bytes: number;
  contentLength: boolean;
  archived: boolean;
  /** From the callback's 200 until the archived state was seen. */
  endToEndMs: number;
  /** From the origin's response to its last byte: download + SHA-256 + streaming into R2. */
  downloadMs: number | null;
  /** From the last byte until R2 committed the object. */
  publishMs: number | null;
  sha256Ok: boolean | null;
  error: string | null;
  /** The longest a status request took during the run: how long the Worker answered nothing. */
  slowestPollMs: number;
  /** The slowest GET /healthz answer during the run. */
  slowestHealthzMs: number;
  rss: RssWindow;
}

export interface ArchiveResult {
  rssAtStart: number;
  /** Rounds of the comparison; absent in older files (one consumer run per kind). */
  rounds?: number;
  /** The unmeasured first transfer through each Worker (absent in older files). */
  warmup?: { baseline: BaselineRun; consumer: ConsumerRun };
  baselines: BaselineRun[];
  consumer: ConsumerRun[];
  /** Runs that could not be measured at all. */
  errors: string[];
}

/** A Worker under measurement: its base URL and the pid of the workerd that runs it. */
export interface Target {
  url: string;
  pid: number;
}

export interface ArchiveOptions {
  receiver: Client;
  /** The workerd of the receiver. */
  receiverPid: number;
  /** The bare fetch + put Worker. */
  baseline: Target;
  originUrl: string;
  runId: string;
  /** The comparison size (300 MiB). */
  size: number;
  /** Interleaved rounds of [bare put Content-Length, consumer Content-Length, consumer chunked]. */
  rounds: number;
  /** The memory pair (100 MiB and 1 GiB). */
  small: number;
  large: number;
}

/** Runs `work` while asking GET /healthz every 100 ms; resolves with the slowest answer too. */
async function whileProbing<T>(
  url: string,
  work: () => Promise<T>,
): Promise<{ value: T; slowestHealthzMs: number }> {
  let done = false;
  let slowest = 0;
  const probe = (async () => {
    while (!done) {
      const asked = performance.now();
      try {
        const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(600_000) });
        await response.arrayBuffer();
      } catch {
        // A failed probe still counts with the time it took.
      }
      slowest = Math.max(slowest, performance.now() - asked);
      if (!done) await sleep(100);
    }
  })();
  try {
    const value = await work();
    return { value, slowestHealthzMs: slowest };
  } finally {
    done = true;
    await probe;
  }
}

/**
 * One measured transfer of pattern bytes from the origin: announces it, then runs `work` with the
 * origin URL while sampling the target's RSS and probing its GET /healthz.
 */
async function measure<T>(
  target: Target,
  label: string,
  file: { name: string; size: number; seed: number; chunked: boolean },
  work: (url: string) => Promise<T>,
  originUrl: string,
): Promise<{ value: T; slowestHealthzMs: number; rss: RssWindow }> {
  const url = mediaUrl(originUrl, { ...file, type: "video/mp4" });
  progress(`archive: ${label}`);
  const { result, rss } = await withRss(target.pid, () => whileProbing(target.url, () => work(url)));
  return { ...result, rss };
}

async function baseline(
  options: ArchiveOptions,
  label: string,
  size: number,
  contentLength: boolean,
  seed: number,
): Promise<BaselineRun> {
  const file = { name: "baseline.bin", size, seed, chunked: !contentLength };
  const { value, slowestHealthzMs, rss } = await measure(
    options.baseline,
    label,
    file,
    async (url) => {
      const response = await fetch(`${options.baseline.url}/put?url=${encodeURIComponent(url)}`, {
        method: "POST",
        signal: AbortSignal.timeout(600_000),
      });
      const body = (await response.json()) as { bytes: number; ms: number } | { error: string };
      if ("error" in body) return { ms: null, error: `HTTP ${response.status}: ${body.error}` };
      if (body.bytes !== size) return { ms: null, error: `stored ${body.bytes} of ${size} bytes` };
      return { ms: body.ms, error: null };
    },
    options.originUrl,
  );
  return { label, bytes: size, contentLength, ...value, slowestHealthzMs, rss };
}

async function throughConsumer(
  options: ArchiveOptions,
  label: string,
  size: number,
  contentLength: boolean,
  seed: number,
): Promise<ConsumerRun> {
  const { receiver } = options;
  const taskId = `arch-${options.runId}-${label.replace(/[^A-Za-z0-9]+/g, "-")}`;
  const target = { url: receiver.url, pid: options.receiverPid };
  const file = { name: "video.mp4", size, seed, chunked: !contentLength };
  const {
    value: result,
    slowestHealthzMs,
    rss,
  } = await measure(
    target,
    label,
    file,
    async (url) => {
      const posted = await post(receiver, videoCallback(taskId, url));
      const acked = performance.now();
      if (posted.status !== 200) throw new Error(`the callback answered ${posted.status}: ${posted.text}`);
      const timeoutMs = Math.max(120_000, (size / MIB) * 1000); // at least 1 MiB/s
      // A long status timeout on purpose: while the local runtime copies a large object it may
      // answer nothing for a while, and that stall is measured, not treated as an error.
      const settled = await receiver.waitSettled(taskId, { intervalMs: 100, timeoutMs });
      return { settled, endToEndMs: settled.at - acked };
    },
    options.originUrl,
  );
  const asset = result.settled.status?.assets[0];
  const archived = result.settled.status?.archive.state === "archived";
  let sha256Ok: boolean | null = null;
  // Checked after the clock stopped, so the hashing here does not compete with the Worker.
  if (archived && asset?.sha256)
    sha256Ok = asset.bytes === size && asset.sha256 === (await mediaSha256("video.mp4", size, seed));
  return {
    label,
    bytes: size,
    contentLength,
    archived,
    endToEndMs: result.endToEndMs,
    downloadMs: asset?.timings?.downloadMs ?? null,
    publishMs: asset?.timings?.publishMs ?? null,
    sha256Ok,
    error: archived
      ? null
      : (asset?.error ?? `archive state ${result.settled.status?.archive.state ?? "unknown"}`),
    slowestPollMs: result.settled.slowestPollMs,
    slowestHealthzMs,
    rss,
  };
}

export async function runArchive(options: ArchiveOptions): Promise<ArchiveResult> {
  const { size, small, large } = options;
  const rounds = Math.max(1, options.rounds);
  const mib = (bytes: number) => (bytes >= 1024 * MIB ? `${bytes / 1024 / MIB} GiB` : `${bytes / MIB} MiB`);
  const rssAtStart = (await withRss(options.receiverPid, async () => null)).rss.before;
  const baselines: BaselineRun[] = [];
  const consumer: ConsumerRun[] = [];
  const errors: string[] = [];
  // One failed run must not cost the others their figures.
  const attempt = async <T>(label: string, run: () => Promise<T>, into: T[]) => {
    try {
      into.push(await run());
    } catch (error) {
      errors.push(`${label}: ${error instanceof Error ? error.message : String(error)}`);
      progress(`archive: ${label} FAILED: ${errors.at(-1)}`);
    }
  };
  const bare = (label: string, bytes: number, contentLength: boolean, seed: number, round?: number) =>
    attempt(
      label,
      async () => ({ ...(await baseline(options, label, bytes, contentLength, seed)), round }),
      baselines,
    );
  const real = (label: string, bytes: number, contentLength: boolean, seed: number, round?: number) =>
    attempt(
      label,
      async () => ({ ...(await throughConsumer(options, label, bytes, contentLength, seed)), round }),
      consumer,
    );
  // A freshly started runtime moves its first large file slower than the next ones (and keeps
  // the memory it took for it): both Workers get one transfer before anything is measured.
  const warm = Math.min(size, 64 * MIB);
  const warmup = {
    baseline: await baseline(options, `warm-up: bare fetch + put, ${mib(warm)}`, warm, true, 1),
    consumer: await throughConsumer(options, `warm-up: consumer ${mib(warm)}`, warm, true, 2),
  };
  // Interleaved rounds, each run with its own seed: drift of the machine during the section
  // reaches the baseline and both consumer kinds alike, and the report takes medians.
  for (let round = 1; round <= rounds; round++) {
    const seed = 100 + 10 * round;
    await bare(`bare fetch + put, ${mib(size)}, Content-Length, round ${round}`, size, true, seed + 1, round);
    await real(`consumer ${mib(size)} Content-Length, round ${round}`, size, true, seed + 2, round);
    await real(`consumer ${mib(size)} chunked, round ${round}`, size, false, seed + 3, round);
  }
  // Refused by the runtime (a put needs a known length): kept because it shows why the consumer's
  // chunked runs are compared with the Content-Length baseline.
  await bare(`bare fetch + put, ${mib(size)}, chunked`, size, false, 11);
  await real(`consumer ${mib(small)} Content-Length`, small, true, 23);
  await real(`consumer ${mib(large)} Content-Length`, large, true, 24);
  return { rssAtStart, rounds, warmup, baselines, consumer, errors };
}
