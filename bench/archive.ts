// Archive path: one large file from the local origin through the real consumer, against a bare
// `fetch` then `R2.put(body)` in the same dev server (POST /__bench/baseline-put, only with
// BENCH_BASELINE=true), while sampling the RSS of the workerd process that runs the Worker.
//
// The consumer's run is a video callback; the clock runs from its 200 until `GET /tasks/:id`
// shows `archive.state = "archived"` (polled every 100 ms), so it includes the queue's batch wait.
// The asset's `timings` split the consumer's own time into `downloadMs` (download + SHA-256 +
// staging put) and `publishMs` (the copy to the archive key that R2 verifies against the hash).
// Every run also asks GET /healthz every 100 ms and keeps the slowest answer: whether the Worker
// stays responsive while it moves the bytes.

import { patternSha256 } from "../test/helpers/pattern.ts";
import { MIB, mediaUrl, progress, type Receiver, sleep, videoCallback } from "./receiver.ts";
import { type RssWindow, withRss } from "./workerd.ts";

export interface BaselineRun {
  label: string;
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
  bytes: number;
  contentLength: boolean;
  archived: boolean;
  /** From the callback's 200 until the archived state was seen. */
  endToEndMs: number;
  downloadMs: number | null;
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

async function baseline(
  options: ArchiveOptions,
  label: string,
  size: number,
  contentLength: boolean,
): Promise<BaselineRun> {
  const url = mediaUrl(options.originUrl, {
    name: "baseline.bin",
    size,
    seed: 11,
    contentLength,
    type: "video/mp4",
  });
  progress(`archive: ${label}`);
  const {
    result: { value: result, slowestHealthzMs },
    rss,
  } = await withRss(options.workerdPid, () =>
    whileProbing(options.receiver.url, async () => {
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
    }),
  );
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
  const url = mediaUrl(options.originUrl, {
    name: "video.mp4",
    size,
    seed,
    contentLength,
    type: "video/mp4",
  });
  progress(`archive: ${label}`);
  const {
    result: { value: result, slowestHealthzMs },
    rss,
  } = await withRss(options.workerdPid, () =>
    whileProbing(receiver.url, async () => {
      const posted = await receiver.postCallback(videoCallback(taskId, url));
      const acked = performance.now();
      if (posted.status !== 200) throw new Error(`the callback answered ${posted.status}: ${posted.text}`);
      const timeoutMs = Math.max(120_000, (size / MIB) * 1000); // at least 1 MiB/s
      const settled = await receiver.waitSettled(taskId, { intervalMs: 100, timeoutMs });
      return { settled, endToEndMs: settled.at - acked };
    }),
  );
  const asset = result.settled.status?.assets[0];
  const archived = result.settled.status?.archive.state === "archived";
  let sha256Ok: boolean | null = null;
  // Checked after the clock stopped, so the hashing here does not compete with the Worker.
  if (archived && asset?.sha256)
    sha256Ok = asset.bytes === size && asset.sha256 === (await patternSha256(size, seed));
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
  const bare = (label: string, bytes: number, contentLength: boolean) =>
    attempt(label, () => baseline(options, label, bytes, contentLength), baselines);
  const real = (label: string, bytes: number, contentLength: boolean, seed: number) =>
    attempt(label, () => throughConsumer(options, label, bytes, contentLength, seed), consumer);
  // Baselines before and after the consumer's runs, so that drift shows and is averaged out.
  await bare(`bare fetch + put, ${mib(size)}, Content-Length (1)`, size, true);
  await real(`consumer ${mib(size)} Content-Length`, size, true, 21);
  await real(`consumer ${mib(size)} chunked`, size, false, 22);
  await bare(`bare fetch + put, ${mib(size)}, Content-Length (2)`, size, true);
  await bare(`bare fetch + put, ${mib(size)}, chunked`, size, false);
  await real(`consumer ${mib(small)} Content-Length`, small, true, 23);
  await real(`consumer ${mib(large)} Content-Length`, large, true, 24);
  return { rssAtStart, baselines, consumer, errors };
}
