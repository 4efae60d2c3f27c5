// Ack path: how fast the receiver answers callbacks, against the floor of a new task and against
// a route that does no work, side by side in one run.
//
// At each concurrency, autocannon (in this process) sends a bounded number of requests, in order:
//   (a) the receiver's GET /healthz — routing and a JSON answer, nothing else;
//   (f) the floor's POST /object/<new id> (bench/floor, a Worker on a `wrangler dev` of its own):
//       one new SQLite Durable Object and one row per request, the least a receiver that records
//       each callback in its task's own object must do before answering;
//   (o) the floor's POST /outbox/<new id>: the same plus what the contract requires of every new
//       task besides its row — an alarm armed with the row (the outbox's re-drive) and, after the
//       answer, one D1 index row, then the alarm cleared;
//   (b) POST /callbacks with a distinct task each time — a video callback whose file is 1 KiB on
//       the local origin, so the consumer's work behind it is real but small; the queue backlog it
//       created is then drained and every task it acked is checked to be archived;
//   (t) POST /callbacks with a distinct task each time and no media (music `text` callbacks),
//       which splits the cost of a new task from the cost of its file;
//   (c) POST /callbacks with one and the same callback — the duplicate path;
//   (o) again, (f) again, then (a) again.
// The new-task runs are compared with the mean of the two floor runs around them (and, as
// information, with the mean of the two outbox runs), the duplicates with the mean of the two
// /healthz runs, so drift of the machine during a level cancels out.
//
// Besides requests/s and latency, each run records the CPU time the two workerd processes of the
// Worker it targets used per request (from /proc), which says where the time goes on a machine
// where everything competes.

import autocannon from "autocannon";
import type { Client } from "../support/client.ts";
import { DEV_VARS } from "../support/dev-vars.ts";
import { mediaUrl } from "../support/media-url.ts";
import { post, videoCallback } from "./callbacks.ts";
import { mapLimit, percentile, progress, sleep } from "./measure.ts";
import { cpuMs, type WorkerdPids } from "./workerd.ts";

export type Route = "healthz" | "distinct" | "duplicate" | "no-assets" | "object" | "outbox";

export interface LoadResult {
  route: Route;
  connections: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Ended by the time cap rather than the request count. */
  capped: boolean;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** CPU ms per request of the Worker's workerd and of wrangler's proxy workerd, during the run. */
  runtimeCpuMs: number | null;
  proxyCpuMs: number | null;
}

export interface DrainResult {
  acked: number;
  archived: number;
  /** From the end of the load run until the last acked task was archived. */
  seconds: number;
  /** Runtime CPU per acked task over the run and the drain: the callback plus its archive. */
  runtimeCpuMsPerTask: number | null;
}

export interface AckLevel {
  connections: number;
  /** The duplicates' baseline, run first and again last at this level; ratios use the mean of the two. */
  healthz: LoadResult;
  healthzAfter: LoadResult;
  /**
   * The new tasks' baseline: the floor Worker's POST /object/<new id>, run before the receiver's
   * new tasks and again after its duplicates; ratios use the mean of the two. Null when no floor
   * Worker was given (bench:index compares two receivers with each other).
   */
  floor: LoadResult | null;
  floorAfter: LoadResult | null;
  /**
   * The floor plus the outbox's alarm and the index row (POST /outbox/<new id>), run right after
   * the first floor run and right before the second; null without a floor Worker, absent in runs
   * saved before it was measured.
   */
  outbox?: LoadResult | null;
  outboxAfter?: LoadResult | null;
  /**
   * The check that the outbox runs' work after the answer was done: of the ids the two runs
   * handed out (`issued`; a run stopped by its time cap leaves some in flight, unanswered but
   * still recorded) and those answered 200, how many had their index row once both ended.
   */
  outboxIndexed?: { answered: number; issued: number; indexed: number } | null;
  distinct: LoadResult;
  drain: DrainResult;
  /** New tasks without media (music `text`); null when not asked for. */
  noAssets: LoadResult | null;
  duplicate: LoadResult;
}

/** A Worker other than the receiver, measured in the same run: its URL and its workerd processes. */
export interface FloorTarget {
  url: string;
  pids: WorkerdPids;
}

export interface AckOptions {
  receiver: Client;
  originUrl: string;
  runId: string;
  pids: WorkerdPids;
  /** The floor Worker (bench/floor), measured at every level; null to leave it out. */
  floor: FloorTarget | null;
  levels: number[];
  /** Whether every level also posts new tasks without media. */
  withoutMedia: boolean;
  requests: number;
  /** Time cap of one run, in seconds. */
  maxSeconds: number;
  warmupRequests: number;
  drainTimeoutMs: number;
}

interface LoadSpec {
  route: Route;
  connections: number;
  amount: number;
  maxSeconds: number;
  method: "GET" | "POST";
  path: string;
  /** A fixed body, or one made anew for every request. */
  body?: string | (() => string);
  /** A path made anew for every request (instead of `path`). */
  pathFor?: () => string;
  onAcked?: (taskId: string) => void;
}

const perRequest = (before: number | null, after: number | null, requests: number) =>
  before === null || after === null || requests === 0 ? null : (after - before) / requests;

/** One bounded autocannon run; latencies are taken per response (float ms), not from its histogram. */
function load(url: string, pids: WorkerdPids, spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let capped = false;
  // autocannon reports completion on its 1-second tick, so the run's length is taken from the
  // last response instead.
  let lastResponseAt = performance.now();
  const cpuBefore = { runtime: cpuMs(pids.runtime), proxy: cpuMs(pids.proxy) };
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const makeBody = spec.body;
    const makePath = spec.pathFor;
    const onAcked = spec.onAcked;
    const instance = autocannon(
      {
        url: `${url}${spec.path}`,
        connections: spec.connections,
        pipelining: 1,
        amount: spec.amount,
        timeout: 30,
        headers: spec.method === "POST" ? { "content-type": "application/json" } : {},
        requests: [
          {
            method: spec.method,
            ...(typeof makeBody === "function" || makePath
              ? {
                  setupRequest: (request) => ({
                    ...request,
                    ...(makePath ? { path: makePath() } : {}),
                    body: typeof makeBody === "function" ? makeBody() : makeBody,
                  }),
                }
              : { body: makeBody }),
            ...(onAcked
              ? {
                  onResponse: (status: number, body: string) => {
                    if (status === 200) onAcked((JSON.parse(body) as { taskId: string }).taskId);
                  },
                }
              : {}),
          },
        ],
      },
      (error, result) => {
        clearTimeout(guard);
        if (error) return reject(error);
        const seconds = (lastResponseAt - started) / 1000;
        const requests = ok + non2xx;
        resolve({
          route: spec.route,
          connections: spec.connections,
          requests,
          ok,
          non2xx,
          errors: result.errors + result.timeouts,
          capped,
          seconds,
          rps: requests / seconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          runtimeCpuMs: perRequest(cpuBefore.runtime, cpuMs(pids.runtime), requests),
          proxyCpuMs: perRequest(cpuBefore.proxy, cpuMs(pids.proxy), requests),
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) ok += 1;
      else non2xx += 1;
      latencies.push(responseTime);
      lastResponseAt = performance.now();
    });
    // Bounded in time as well as in count: whichever comes first ends the run.
    const guard = setTimeout(() => {
      capped = true;
      instance.stop();
    }, spec.maxSeconds * 1000);
  });
}

/** Waits until every acked task's archive has settled; counts the archived ones. */
async function drain(receiver: Client, pids: WorkerdPids, taskIds: string[], timeoutMs: number) {
  const started = performance.now();
  const deadline = started + timeoutMs;
  // Messages are consumed in the order they were sent, so the last acked tasks settle last.
  for (const taskId of taskIds.slice(-3)) {
    await receiver.waitSettled(taskId, {
      intervalMs: 200,
      timeoutMs: Math.max(0, deadline - performance.now()),
    });
  }
  const settledAt = performance.now();
  // Read before the sweep below, whose status requests would count as archive work otherwise.
  const cpuAtSettled = cpuMs(pids.runtime);
  let pending = taskIds;
  let archived = 0;
  for (;;) {
    const states = await mapLimit(
      pending,
      16,
      async (taskId) => (await receiver.status(taskId, { timeoutMs: 180_000 }))?.archive.state,
    );
    const still: string[] = [];
    states.forEach((state, index) => {
      if (state === "archived") archived += 1;
      else if (state !== "failed") still.push(pending[index] as string);
    });
    pending = still;
    if (pending.length === 0 || performance.now() >= deadline) break;
    await sleep(500);
  }
  return { acked: taskIds.length, archived, seconds: (settledAt - started) / 1000, cpuAtSettled };
}

/** Polls the floor's index until it holds a row for every answered outbox request, or 15 s pass. */
async function waitIndexed(floorUrl: string, prefix: string, answered: number, issued: number) {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const response = await fetch(`${floorUrl}/outbox/indexed?prefix=${encodeURIComponent(prefix)}`);
    if (!response.ok) throw new Error(`the floor's GET /outbox/indexed answered ${response.status}`);
    const { indexed } = (await response.json()) as { indexed: number };
    if (indexed >= answered || performance.now() >= deadline) return { answered, issued, indexed };
    await sleep(200);
  }
}

export async function runAck(options: AckOptions): Promise<AckLevel[]> {
  const { receiver, originUrl, runId, pids, floor } = options;
  const tinyFile = mediaUrl(originUrl, { name: "ack.mp4", size: 1024, seed: 1, type: "video/mp4" });
  const callbackPath = `/callbacks?token=${DEV_VARS.CALLBACK_TOKENS}`;
  let counter = 0;
  const distinctBody = (prefix: string) => () =>
    JSON.stringify(videoCallback(`ack-${runId}-${prefix}-${++counter}`, tinyFile));
  const run = (spec: Omit<LoadSpec, "maxSeconds">) =>
    load(receiver.url, pids, { ...spec, maxSeconds: options.maxSeconds });

  const healthz = (connections: number, amount: number): Omit<LoadSpec, "maxSeconds"> => ({
    route: "healthz",
    connections,
    amount,
    method: "GET",
    path: "/healthz",
  });
  const distinct = (connections: number, amount: number, prefix: string, acked: string[]) => ({
    route: "distinct" as const,
    connections,
    amount,
    method: "POST" as const,
    path: callbackPath,
    body: distinctBody(prefix),
    onAcked: (taskId: string) => acked.push(taskId),
  });
  const withoutMedia = (connections: number, amount: number) =>
    run({
      route: "no-assets",
      connections,
      amount,
      method: "POST",
      path: callbackPath,
      body: () =>
        JSON.stringify({
          code: 200,
          msg: "Text generation completed successfully.",
          data: { callbackType: "text", task_id: `ack-${runId}-text-${++counter}`, data: [] },
        }),
    });
  // The floor's body is the size of a real callback; the floor stores it without reading it.
  const floorBody = JSON.stringify(videoCallback("floor", "https://example.invalid/video.mp4"));
  const issued = new Map<string, number>();
  const floorRun = (
    route: "object" | "outbox",
    target: FloorTarget,
    connections: number,
    amount: number,
    prefix = `floor-${runId}-`,
  ) =>
    load(target.url, target.pids, {
      route,
      connections,
      amount,
      maxSeconds: options.maxSeconds,
      method: "POST",
      path: `/${route}`,
      body: floorBody,
      pathFor: () => {
        issued.set(prefix, (issued.get(prefix) ?? 0) + 1);
        return `/${route}/${prefix}${++counter}`;
      },
    });
  const floorObject = (target: FloorTarget, connections: number, amount: number) =>
    floorRun("object", target, connections, amount);

  progress(`ack: warm-up (${options.warmupRequests} requests per route at 16 connections)`);
  await run(healthz(16, options.warmupRequests));
  if (floor) {
    await floorObject(floor, 16, options.warmupRequests);
    await floorRun("outbox", floor, 16, options.warmupRequests);
  }
  const warmAcked: string[] = [];
  await run(distinct(16, options.warmupRequests, "warm", warmAcked));
  await drain(receiver, pids, warmAcked, options.drainTimeoutMs);
  if (options.withoutMedia) await withoutMedia(16, options.warmupRequests);

  const levels: AckLevel[] = [];
  const bound = `${options.requests} requests or ${options.maxSeconds} s`;
  for (const connections of options.levels) {
    const n = options.requests;
    const step = (what: string) => progress(`ack: ${connections} connection(s), ${what} (${bound})`);
    step("GET /healthz");
    const a = await run(healthz(connections, n));
    let f: LoadResult | null = null;
    let o: LoadResult | null = null;
    const outboxPrefix = `outbox-${runId}-c${connections}-`;
    if (floor) {
      step("floor POST /object/<new id>");
      f = await floorObject(floor, connections, n);
      step("floor + outbox POST /outbox/<new id>");
      o = await floorRun("outbox", floor, connections, n, outboxPrefix);
    }
    step("POST /callbacks, distinct tasks");
    const acked: string[] = [];
    const cpuStart = cpuMs(pids.runtime);
    const b = await run(distinct(connections, n, `c${connections}`, acked));
    progress(`ack: draining the ${acked.length} archive jobs those callbacks queued`);
    const { cpuAtSettled, ...drained } = await drain(receiver, pids, acked, options.drainTimeoutMs);
    progress(
      `ack: ${drained.archived}/${drained.acked} archived, the last ${drained.seconds.toFixed(1)} s after the run ended`,
    );

    let t: LoadResult | null = null;
    if (options.withoutMedia) {
      step("POST /callbacks, new tasks without media");
      t = await withoutMedia(connections, n);
    }

    // The duplicate: recorded and archived once first, then the same body over and over.
    const dupId = `ack-${runId}-dup-c${connections}`;
    const dupBody = JSON.stringify(videoCallback(dupId, tinyFile));
    const first = await post(receiver, JSON.parse(dupBody));
    if (first.status !== 200) throw new Error(`the duplicate's first delivery answered ${first.status}`);
    await receiver.waitSettled(dupId, { intervalMs: 100, timeoutMs: 30_000 });
    step("POST /callbacks, the same callback");
    const c = await run({
      route: "duplicate",
      connections,
      amount: n,
      method: "POST",
      path: callbackPath,
      body: dupBody,
    });

    let f2: LoadResult | null = null;
    let o2: LoadResult | null = null;
    let outboxIndexed: AckLevel["outboxIndexed"] = null;
    if (floor) {
      step("floor + outbox POST /outbox/<new id> again");
      o2 = await floorRun("outbox", floor, connections, n, outboxPrefix);
      // Outside every measured run: the work after the answers was done, not skipped.
      const answered = (o?.ok ?? 0) + o2.ok;
      outboxIndexed = await waitIndexed(floor.url, outboxPrefix, answered, issued.get(outboxPrefix) ?? 0);
      step("floor POST /object/<new id> again");
      f2 = await floorObject(floor, connections, n);
    }
    step("GET /healthz again");
    const a2 = await run(healthz(connections, n));
    levels.push({
      connections,
      healthz: a,
      healthzAfter: a2,
      floor: f,
      floorAfter: f2,
      outbox: o,
      outboxAfter: o2,
      outboxIndexed,
      distinct: b,
      drain: { ...drained, runtimeCpuMsPerTask: perRequest(cpuStart, cpuAtSettled, acked.length) },
      noAssets: t,
      duplicate: c,
    });
  }
  if (cpuMs(pids.runtime) === null) throw new Error("the Worker's workerd restarted during the ack runs");
  if (floor && cpuMs(floor.pids.runtime) === null)
    throw new Error("the floor Worker's workerd restarted during the ack runs");
  return levels;
}
