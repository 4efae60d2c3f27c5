// Archive path: one large file from the local origin through the real consumer, against a bare
// `fetch` then `R2.put(body)` in the same dev server (POST /__bench/baseline-put, only with
// BENCH_BASELINE=true), while sampling the RSS of the workerd process that runs the Worker.
//
// The comparison runs in interleaved rounds of [bare put with Content-Length, consumer with
// Content-Length, consumer chunked], each run with its own seed, so that drift of the machine
// reaches every kind alike; the report compares medians over the rounds. A bare put of a chunked
// body is attempted once: the runtime refuses it, which is why the consumer's chunked runs are
// compared with the Content-Length baseline. The memory pair (100 MiB, 1 GiB) runs last.
//
// The consumer's run is a video callback; the clock runs from its 200 until `GET /tasks/:id`
// shows `archive.state = "archived"` (polled every 100 ms), so it includes the queue's delivery
// and the claim. The consumer writes each file once, straight to its archive key, and the asset's
// `timings` split its own time into `downloadMs` (from the response to its last byte: download +
// SHA-256 + streaming into R2) and `publishMs` (from the last byte until R2 committed the object).
// Every run also asks GET /healthz every 100 ms and keeps the slowest answer: whether the Worker
// stays responsive while it moves the bytes.

import { mediaSha256 } from "../test/helpers/pattern.ts";
import { MIB, mediaUrl, progress, type Receiver, sleep, videoCallback } from "./receiver.ts";
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
  baselines: BaselineRun[];
  consumer: ConsumerRun[];
  /** Runs that could not be measured at all. */
  errors: string[];
}

export interface ArchiveOptions {
  receiver: Receiver;
  originUrl: string;
  runId: string;
  workerdPid: number;
  /** The comparison size (300 MiB). */
  size: number;
  /** Interleaved rounds of [bare put Content-Length, consumer Content-Length, consumer chunked]. */
  rounds: number;
  /** The memory pair (100 MiB and 1 GiB). */
  small: number;
  large: number;
  /** wrangler's recent output, where the Worker logs why a request failed. */
  serverOutput?: () => string;
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

/** The `error` of the last `request_failed` line the Worker logged, if any. */
function lastRequestFailure(output: string): string | null {
  const lines = output.match(/\{"event":"request_failed"[^\n]*\}/g);
  if (!lines) return null;
  try {
    return (JSON.parse(lines[lines.length - 1] as string) as { error?: string }).error ?? null;
  } catch {
    return null;
  }
}

/**
 * One measured transfer of `size` pattern bytes from the origin: announces it, then runs `work`
 * with the origin URL while sampling the Worker's RSS and probing GET /healthz.
 */
async function measure<T>(
  options: ArchiveOptions,
  label: string,
  file: { name: string; size: number; seed: number; contentLength: boolean },
  work: (url: string) => Promise<T>,
): Promise<{ value: T; slowestHealthzMs: number; rss: RssWindow }> {
  const url = mediaUrl(options.originUrl, { ...file, type: "video/mp4" });
  progress(`archive: ${label}`);
  const { result, rss } = await withRss(options.workerdPid, () =>
    whileProbing(options.receiver.url, () => work(url)),
  );
  return { ...result, rss };
}

async function baseline(
  options: ArchiveOptions,
  label: string,
  size: number,
  contentLength: boolean,
  seed: number,
): Promise<BaselineRun> {
  const {
    value: result,
    slowestHealthzMs,
    rss,
  } = await measure(options, label, { name: "baseline.bin", size, seed, contentLength }, async (url) => {
    const response = await fetch(
      `${options.receiver.url}/__bench/baseline-put?url=${encodeURIComponent(url)}`,
      {
        method: "POST",
        signal: AbortSignal.timeout(600_000),
      },
    );
    const text = await response.text();
    if (response.status !== 200) {
      let logged: string | null = null;
      // The log line reaches wrangler's output a moment after the response.
      for (let i = 0; i < 10 && options.serverOutput && !logged; i++) {
        await sleep(100);
        logged = lastRequestFailure(options.serverOutput());
      }
      return {
        ms: null,
        error: `HTTP ${response.status}${logged ? `, the Worker logged: ${logged}` : `: ${text.slice(0, 200)}`}`,
      };
    }
    const body = JSON.parse(text) as { bytes: number; ms: number };
    if (body.bytes !== size) return { ms: null, error: `stored ${body.bytes} of ${size} bytes` };
    return { ms: body.ms, error: null };
  });
  return { label, bytes: size, contentLength, ...result, slowestHealthzMs, rss };
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
  const {
    value: result,
    slowestHealthzMs,
    rss,
  } = await measure(options, label, { name: "video.mp4", size, seed, contentLength }, async (url) => {
    const posted = await receiver.postCallback(videoCallback(taskId, url));
    const acked = performance.now();
    if (posted.status !== 200) throw new Error(`the callback answered ${posted.status}: ${posted.text}`);
    const timeoutMs = Math.max(120_000, (size / MIB) * 1000); // at least 1 MiB/s
    const settled = await receiver.waitSettled(taskId, { intervalMs: 100, timeoutMs });
    return { settled, endToEndMs: settled.at - acked };
  });
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
  const rssAtStart = (await withRss(options.workerdPid, async () => null)).rss.before;
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
  return { rssAtStart, rounds, baselines, consumer, errors };
}
