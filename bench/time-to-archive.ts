// Time to archive: from the 200 of a `complete` music callback (2 tracks: audio + cover each,
// 4 assets) until `GET /tasks/:id` shows `archive.state = "archived"`.
//
// Sequential: one task at a time, polled every 50 ms. Burst: many tasks' callbacks at once
// (bounded client concurrency), then polled until all are settled or the timeout passes. A status
// request costs the Worker a few ms of CPU, so the burst does not poll all 200 tasks in every
// round: the queue is consumed in order, so each round asks about the oldest unsettled tasks (a
// window of 16, 250 ms apart) and only every 20th round about all of them.

import type { Client, TaskStatus } from "../support/client.ts";
import { musicCallback, post } from "./callbacks.ts";
import { mapLimit, percentile, progress, sleep } from "./measure.ts";

export interface SequentialResult {
  tasks: number;
  archived: number;
  /** ms from each callback's 200 to archived, in task order (archived tasks only). */
  times: number[];
  failures: string[];
}

export interface BurstResult {
  tasks: number;
  concurrency: number;
  timeoutMs: number;
  acked: number;
  ackP50: number;
  ackP99: number;
  /** From the first callback sent until the last task was seen archived (null if not all were). */
  allArchivedMs: number | null;
  /** ms from each task's 200 to archived (as seen by the polling). */
  times: number[];
  archived: number;
  notArchived: number;
  failed: number;
  failures: string[];
  bytes: number;
}

export interface TimeToArchiveOptions {
  receiver: Client;
  originUrl: string;
  runId: string;
  sizes: { audio: number; cover: number };
  sequentialTasks: number;
  burstTasks: number;
  burstConcurrency: number;
  burstTimeoutMs: number;
}

const ASSETS_PER_TASK = 4;
/** How many of the oldest unsettled burst tasks each polling round asks about. */
const WINDOW = 16;

function describeFailure(taskId: string, status: TaskStatus | null): string {
  if (!status) return `${taskId}: unknown task`;
  const errors = status.assets.filter((a) => a.error).map((a) => `${a.name}: ${a.error}`);
  return `${taskId}: ${status.archive.state} (${status.archive.stored}/${status.archive.total})${errors.length ? ` ${errors.join("; ")}` : ""}`;
}

export async function runSequential(options: TimeToArchiveOptions): Promise<SequentialResult> {
  const { receiver } = options;
  const times: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < options.sequentialTasks; i++) {
    const taskId = `seq-${options.runId}-${i}`;
    const body = musicCallback(taskId, options.originUrl, options.sizes, 100 + i * 4);
    const posted = await post(receiver, body);
    const acked = performance.now();
    if (posted.status !== 200) {
      failures.push(`${taskId}: callback answered ${posted.status}`);
      continue;
    }
    const settled = await receiver.waitSettled(taskId, { intervalMs: 50, timeoutMs: 60_000 });
    const status = settled.status;
    if (status?.archive.state === "archived" && status.archive.stored === ASSETS_PER_TASK) {
      times.push(settled.at - acked);
    } else {
      failures.push(describeFailure(taskId, status));
    }
    if ((i + 1) % 5 === 0) progress(`time to archive: ${i + 1}/${options.sequentialTasks} sequential tasks`);
  }
  return { tasks: options.sequentialTasks, archived: times.length, times, failures };
}

export async function runBurst(options: TimeToArchiveOptions): Promise<BurstResult> {
  const { receiver, burstTasks, burstConcurrency, burstTimeoutMs } = options;
  const ids = Array.from({ length: burstTasks }, (_, i) => `burst-${options.runId}-${i}`);
  const ackedAt = new Map<string, number>();
  const ackTimes: number[] = [];
  const failures: string[] = [];
  progress(`time to archive: burst of ${burstTasks} callbacks, ${burstConcurrency} in flight`);
  const started = performance.now();
  await mapLimit(ids, burstConcurrency, async (taskId, i) => {
    const body = musicCallback(taskId, options.originUrl, options.sizes, 10_000 + i * 4);
    const sent = performance.now();
    const posted = await post(receiver, body);
    const now = performance.now();
    ackTimes.push(now - sent);
    if (posted.status === 200) ackedAt.set(taskId, now);
    else failures.push(`${taskId}: callback answered ${posted.status}`);
  });
  const sentAll = performance.now();
  progress(
    `time to archive: all ${burstTasks} callbacks answered in ${((sentAll - started) / 1000).toFixed(1)} s`,
  );

  const deadline = started + burstTimeoutMs;
  const times: number[] = [];
  const last = new Map<string, TaskStatus | null>();
  let pending = [...ackedAt.keys()];
  let archived = 0;
  let failed = 0;
  let bytes = 0;
  let lastArchivedAt = started;
  let round = 0;
  while (pending.length > 0 && performance.now() < deadline) {
    const asked = ++round % 20 === 0 ? pending : pending.slice(0, WINDOW);
    const statuses = await mapLimit(asked, 4, (taskId) => receiver.status(taskId, { timeoutMs: 180_000 }));
    const seenAt = performance.now();
    const keep: string[] = [];
    statuses.forEach((status, index) => {
      const taskId = asked[index] as string;
      last.set(taskId, status);
      const state = status?.archive.state;
      if (state === "archived") {
        archived += 1;
        bytes += status?.archive.bytes ?? 0;
        times.push(seenAt - (ackedAt.get(taskId) as number));
        lastArchivedAt = seenAt;
      } else if (state === "failed") {
        failed += 1;
        failures.push(describeFailure(taskId, status ?? null));
      } else {
        keep.push(taskId);
      }
    });
    pending = [...keep, ...pending.slice(asked.length)];
    if (round % 40 === 0 || pending.length === 0) {
      progress(
        `time to archive: ${archived}/${burstTasks} archived after ${((seenAt - started) / 1000).toFixed(0)} s`,
      );
    }
    if (pending.length > 0) await sleep(250);
  }
  for (const taskId of pending) failures.push(describeFailure(taskId, last.get(taskId) ?? null));
  const notArchived = burstTasks - archived;
  return {
    tasks: burstTasks,
    concurrency: burstConcurrency,
    timeoutMs: burstTimeoutMs,
    acked: ackedAt.size,
    ackP50: percentile(ackTimes, 50),
    ackP99: percentile(ackTimes, 99),
    allArchivedMs: notArchived === 0 ? lastArchivedAt - started : null,
    times,
    archived,
    notArchived,
    failed,
    failures: failures.slice(0, 10),
    bytes,
  };
}
