// The provider, played against a running receiver: the callbacks a Suno-style API sends for one
// music generation, one stem separation and one music video, with media on a local origin
// (test/helpers/origin.ts), then polling `GET /tasks/:taskId` until everything is archived.
//
// Used by `npm run simulate` (tools/simulate.ts, with a progress display) and by the end-to-end
// test (test/e2e/), which then also downloads every archived file. No UI in here: callers get
// `onStep` and `onProgress` hooks.
//
// Callback bodies are the documented fixtures (test/fixtures/, PROVIDERS.md §1) with the task id
// and every media URL replaced. Each media URL serves pattern bytes of a known size and seed, so
// the SHA-256 the receiver records can be checked against `patternSha256(size, seed)`.

import { type ApiClient, apiClient, type Callback, type TaskStatus } from "../support/api-client.ts";
import kieMusicText from "../test/fixtures/kie.music.text.json" with { type: "json" };
import sunoapiMusicComplete from "../test/fixtures/sunoapi.music.complete.json" with { type: "json" };
import sunoapiSplitStem from "../test/fixtures/sunoapi.separation.split-stem.json" with { type: "json" };
import sunoapiVideo from "../test/fixtures/sunoapi.video.success.json" with { type: "json" };
import { patternSha256 } from "../test/helpers/pattern.ts";

export type { TaskStatus };
export type Kind = "music" | "separation" | "video";

/** Sizes in bytes of the generated media. */
export interface MediaSizes {
  /** The first track's audio; the second is about 17% longer. */
  audio: number;
  /** The first track's cover; the second is a little larger. */
  cover: number;
  /** The 12 stems are spread from `stemMin` to `stemMax`. */
  stemMin: number;
  stemMax: number;
  /** The music video, served chunked (no Content-Length), so the receiver uses multipart. */
  video: number;
}

/** Realistic sizes for watching it work: about 75 MB in all. */
export const DEMO_SIZES: MediaSizes = {
  audio: 4_700_000,
  cover: 200_000,
  stemMin: 1_000_000,
  stemMax: 3_000_000,
  video: 40_000_000,
};

/** About 15 MB in all, for CI; the video still spans three 5 MiB multipart parts. */
export const TEST_SIZES: MediaSizes = {
  audio: 700_000,
  cover: 48_000,
  stemMin: 60_000,
  stemMax: 240_000,
  video: 12_000_000,
};

/** One file the receiver should archive. */
export interface MediaFile {
  /** The receiver's asset name: `<trackId>/audio`, `<trackId>/cover`, the stem, or `video`. */
  asset: string;
  url: string;
  size: number;
  seed: number;
  contentType: string;
  /** Served without Content-Length (chunked transfer). */
  chunked: boolean;
}

export interface PlannedTask {
  taskId: string;
  kind: Kind;
  files: MediaFile[];
  /** Sum of the files' sizes. */
  bytes: number;
}

export interface CallbackStep {
  taskId: string;
  kind: Kind;
  /** What a person would call it, e.g. "music complete (duplicate)". */
  label: string;
  /** `/callbacks` or `/callbacks/<kind>`. */
  path: string;
  body: unknown;
  /** The receiver must answer `duplicate: true`. */
  duplicate: boolean;
  /** The callback that finishes its task (the clock for "callback → archived" starts here). */
  final: boolean;
}

export interface Scenario {
  runId: string;
  tasks: PlannedTask[];
  steps: CallbackStep[];
}

export interface ScenarioOptions {
  /** Base URL of the media origin, e.g. http://127.0.0.1:41234. */
  originUrl: string;
  sizes?: Partial<MediaSizes>;
  /** Makes the task ids unique (default: from the clock), so reruns never collide. */
  runId?: string;
}

const SPLIT_STEMS = [
  "vocal",
  "backing_vocals",
  "drums",
  "bass",
  "guitar",
  "keyboard",
  "percussion",
  "strings",
  "synth",
  "fx",
  "brass",
  "woodwinds",
];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const clone = <T>(value: T): T => structuredClone(value);
const fileName = (url: string) => new URL(url).pathname.split("/").pop() || "file";

/**
 * Plans the callbacks, in the order a provider might deliver them:
 * music `text` → music `first` (track 2 not ready: empty URLs) → separation `split_stem`
 * (12 stems) → music `complete` (2 tracks: audio + cover each) → video → the `complete` again
 * (a duplicate) → the `first` again, late, after `complete`.
 */
export function planScenario(options: ScenarioOptions): Scenario {
  const sizes = { ...DEMO_SIZES, ...options.sizes };
  const runId = options.runId ?? `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const origin = options.originUrl.replace(/\/+$/, "");
  let seed = 0;
  const file = (
    asset: string,
    name: string,
    size: number,
    contentType: string,
    chunked = false,
  ): MediaFile => {
    seed += 1;
    const query = new URLSearchParams({
      size: String(size),
      seed: String(seed),
      cl: chunked ? "0" : "1",
      type: contentType,
    });
    return { asset, url: `${origin}/bytes/${name}?${query}`, size, seed, contentType, chunked };
  };
  const task = (taskId: string, kind: Kind, files: MediaFile[]): PlannedTask => ({
    taskId,
    kind,
    files,
    bytes: files.reduce((sum, f) => sum + f.size, 0),
  });

  // Music: two tracks; the second one's audio is chunked, its twins and streams are never fetched.
  const musicId = `sim-${runId}-music`;
  const complete = clone(sunoapiMusicComplete) as unknown as JsonObject;
  const completeData = complete.data as JsonObject;
  completeData.task_id = musicId;
  const tracks = completeData.data as JsonObject[];
  const musicFiles: MediaFile[] = [];
  tracks.forEach((track, index) => {
    const id = track.id as string;
    const audio = file(
      `${id}/audio`,
      `${id}.mp3`,
      Math.round(sizes.audio * (1 + 0.17 * index)),
      "audio/mpeg",
      index === 1,
    );
    const cover = file(`${id}/cover`, `${id}.jpeg`, sizes.cover + 12_345 * index, "image/jpeg");
    musicFiles.push(audio, cover);
    track.audio_url = audio.url;
    track.image_url = cover.url;
    // The receiver must archive neither stream URLs nor (while the primary works) the twins:
    // the origin answers 404 here, and the e2e test checks that nothing asked.
    track.source_audio_url = `${origin}/source/${id}.mp3`;
    track.source_image_url = `${origin}/source/image_${id}.jpeg`;
    track.stream_audio_url = `${origin}/stream/${id}`;
    track.source_stream_audio_url = `${origin}/stream/source-${id}`;
  });
  const first = clone(complete);
  first.msg = "First track generated successfully.";
  const firstData = first.data as JsonObject;
  firstData.callbackType = "first";
  const pending = (firstData.data as JsonObject[])[1] as JsonObject;
  Object.assign(pending, { audio_url: "", source_audio_url: "", image_url: "", source_image_url: "" });
  pending.duration = null;
  const text = clone(kieMusicText) as unknown as JsonObject;
  (text.data as JsonObject).task_id = musicId;

  // Separation: the 12 stems of a split_stem, sizes spread between stemMin and stemMax.
  const stemsId = `sim-${runId}-stems`;
  const separation = clone(sunoapiSplitStem) as unknown as JsonObject;
  const separationData = separation.data as JsonObject;
  separationData.task_id = stemsId;
  const info = separationData.vocal_removal_info as JsonObject;
  const stemFiles = SPLIT_STEMS.map((stem, index) => {
    const size = Math.round(
      sizes.stemMin + ((sizes.stemMax - sizes.stemMin) * index) / (SPLIT_STEMS.length - 1) + 1_000 * index,
    );
    const stemFile = file(stem, fileName(info[`${stem}_url`] as string), size, "audio/mpeg");
    info[`${stem}_url`] = stemFile.url;
    return stemFile;
  });

  // Video: one large file without Content-Length.
  const videoId = `sim-${runId}-video`;
  const video = clone(sunoapiVideo) as unknown as JsonObject;
  const videoData = video.data as JsonObject;
  videoData.task_id = videoId;
  const videoFile = file("video", fileName(videoData.video_url as string), sizes.video, "video/mp4", true);
  videoData.video_url = videoFile.url;

  const step = (
    taskId: string,
    kind: Kind,
    label: string,
    body: unknown,
    extra: Partial<CallbackStep> = {},
  ): CallbackStep => ({
    taskId,
    kind,
    label,
    path: `/callbacks/${kind}`,
    body,
    duplicate: false,
    final: false,
    ...extra,
  });
  return {
    runId,
    tasks: [
      task(musicId, "music", musicFiles),
      task(stemsId, "separation", stemFiles),
      task(videoId, "video", [videoFile]),
    ],
    steps: [
      step(musicId, "music", "music text", text),
      step(musicId, "music", "music first (track 2 not ready)", first),
      step(stemsId, "separation", "separation split_stem (12 stems)", separation, { final: true }),
      // Without a kind in the path the receiver detects it from the payload.
      step(musicId, "music", "music complete (2 tracks)", complete, { final: true, path: "/callbacks" }),
      step(videoId, "video", "video", video, { final: true }),
      step(musicId, "music", "music complete (duplicate)", clone(complete), { duplicate: true }),
      step(musicId, "music", "music first (late, after complete)", clone(first), { duplicate: true }),
    ],
  };
}

export interface Receiver {
  /** Base URL, e.g. http://127.0.0.1:8787. */
  url: string;
  callbackToken: string;
  apiToken: string;
}

/** The receiver did not answer `GET /healthz`. */
export class ReceiverUnreachableError extends Error {
  override name = "ReceiverUnreachableError";
}

/** The receiver answered something the scenario cannot go on from (e.g. a rejected token). */
export class ScenarioError extends Error {
  override name = "ScenarioError";
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const base = (receiver: Receiver) => receiver.url.replace(/\/+$/, "");

const clients = new WeakMap<Receiver, ApiClient>();
/** The typed API client (support/api-client.ts) for this receiver and its tokens. */
export function clientOf(receiver: Receiver): ApiClient {
  let client = clients.get(receiver);
  if (!client) {
    client = apiClient({
      baseUrl: receiver.url,
      apiToken: receiver.apiToken,
      callbackToken: receiver.callbackToken,
    });
    clients.set(receiver, client);
  }
  return client;
}

/** `GET /healthz`; throws ReceiverUnreachableError when nothing (or something else) answers. */
export async function checkReceiver(receiver: Receiver): Promise<{ checks: string[] }> {
  let answer: Awaited<ReturnType<ApiClient["GET"]>>;
  try {
    answer = await clientOf(receiver).GET("/healthz", { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new ReceiverUnreachableError(`no receiver at ${receiver.url} (${cause})`);
  }
  const { response } = answer;
  const body = answer.data as { ok?: boolean; checks?: string[] } | undefined;
  if (response.status !== 200 || body?.ok !== true) {
    throw new ReceiverUnreachableError(
      `${receiver.url}/healthz answered ${response.status}; is this the stemvault receiver?`,
    );
  }
  return { checks: body.checks ?? [] };
}

/** `GET /tasks/:taskId`; null while the receiver does not know the task. */
export async function fetchStatus(receiver: Receiver, taskId: string): Promise<TaskStatus | null> {
  const { data, error, response } = await clientOf(receiver).GET("/tasks/{taskId}", {
    params: { path: { taskId } },
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status === 404) return null;
  if (response.status === 401) {
    throw new ScenarioError(`GET /tasks/${taskId} answered 401: the API token was rejected`);
  }
  if (!data)
    throw new ScenarioError(`GET /tasks/${taskId} answered ${response.status}: ${JSON.stringify(error)}`);
  return data;
}

/** An asset's signed link, made absolute with the receiver's base URL (null until stored). */
export const absoluteLink = (receiver: Receiver, url: string | null) =>
  url === null ? null : new URL(url, `${base(receiver)}/`).href;

export interface StepResult {
  step: CallbackStep;
  status: number;
  body: unknown;
  /** When the first try was sent (ms since epoch) and how long until the last answer. */
  sentAt: number;
  ms: number;
  /** Tries it took (a provider retries after a network error or a 5xx). */
  attempts: number;
}

export interface TaskProgress {
  task: PlannedTask;
  /** The latest status JSON (null until the receiver knows the task). */
  status: TaskStatus | null;
  /** When the task's final callback was sent. */
  finalCallbackAt: number | null;
  /** When a poll first saw `archive.state` settle (archived or failed). */
  settledAt: number | null;
}

export interface TaskOutcome extends TaskProgress {
  /** `archive.state` reached `archived` in time and every check passed. */
  archived: boolean;
  /** Seconds from the final callback to the poll that saw the archive settle. */
  seconds: number | null;
  problems: string[];
}

export interface RunResult {
  steps: StepResult[];
  tasks: TaskOutcome[];
  /** Every problem found (unexpected answers, timeouts, wrong sizes or hashes). */
  problems: string[];
  ok: boolean;
  /** Seconds from the first callback to the last settled task. */
  seconds: number;
}

export interface RunOptions {
  receiver: Receiver;
  scenario: Scenario;
  /** Give up on tasks not settled this long after the first callback (default 120 s). */
  timeoutMs?: number;
  /** Pause between callbacks (default 0), to watch the stages arrive one by one. */
  stepDelayMs?: number;
  /** Status polling interval (default 200 ms). */
  pollMs?: number;
  onStep?: (result: StepResult) => void;
  onProgress?: (progress: readonly TaskProgress[]) => void;
}

const settledState = (status: TaskStatus | null) =>
  status?.archive.state === "archived" || status?.archive.state === "failed";

/** How a provider redelivers: up to 3 more tries after a network error or a 5xx. */
const CALLBACK_RETRIES = 3;
const CALLBACK_RETRY_DELAY_MS = 1000;

async function postOnce(receiver: Receiver, step: CallbackStep): Promise<{ status: number; body: unknown }> {
  const client = clientOf(receiver);
  const body = step.body as Callback;
  const kind = /^\/callbacks\/(music|separation|video)$/.exec(step.path)?.[1] as Kind | undefined;
  const { data, error, response } = kind
    ? await client.POST("/callbacks/{kind}", { params: { path: { kind } }, body })
    : await client.POST("/callbacks", { body });
  return { status: response.status, body: data ?? error };
}

async function postCallback(receiver: Receiver, step: CallbackStep): Promise<StepResult> {
  const sentAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    let answer: { status: number; body: unknown } | null = null;
    let failure = "";
    try {
      answer = await postOnce(receiver, step);
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      failure = `${(error as Error).message}${cause ? ` (${cause})` : ""}`;
    }
    if (answer?.status === 401) {
      throw new ScenarioError(`POST ${step.path} answered 401: the callback token was rejected`);
    }
    if (answer && answer.status < 500)
      return { step, ...answer, sentAt, ms: Date.now() - sentAt, attempts: attempt };
    if (attempt > CALLBACK_RETRIES) {
      if (answer) return { step, ...answer, sentAt, ms: Date.now() - sentAt, attempts: attempt };
      throw new ScenarioError(`POST ${step.path} (${step.label}) failed ${attempt} times: ${failure}`);
    }
    await sleep(CALLBACK_RETRY_DELAY_MS);
  }
}

const expectedHashes = new Map<string, Promise<string>>();

/** SHA-256 of the bytes the origin serves for this file. */
export function expectedSha256(file: Pick<MediaFile, "size" | "seed">): Promise<string> {
  const key = `${file.size}:${file.seed}`;
  let hash = expectedHashes.get(key);
  if (!hash) {
    hash = patternSha256(file.size, file.seed);
    expectedHashes.set(key, hash);
  }
  return hash;
}

/** Compares a task's status JSON with the plan: every file stored, with its size and hash. */
export async function checkTask(task: PlannedTask, status: TaskStatus | null): Promise<string[]> {
  const problems: string[] = [];
  const where = (asset: string) => `${task.taskId} ${asset}`;
  if (!status) return [`${task.taskId}: the receiver does not know the task`];
  if (status.archive.state !== "archived") {
    problems.push(
      `${task.taskId}: archive.state is ${status.archive.state} (${status.archive.stored}/${status.archive.total} stored)`,
    );
  }
  for (const file of task.files) {
    const asset = status.assets.find((candidate) => candidate.name === file.asset);
    if (!asset) {
      problems.push(`${where(file.asset)}: missing from assets`);
      continue;
    }
    if (asset.state !== "stored") {
      problems.push(`${where(file.asset)}: ${asset.state}${asset.error ? ` (${asset.error})` : ""}`);
      continue;
    }
    if (asset.bytes !== file.size)
      problems.push(`${where(file.asset)}: ${asset.bytes} bytes, not ${file.size}`);
    if (asset.sha256 !== (await expectedSha256(file))) problems.push(`${where(file.asset)}: wrong SHA-256`);
    if (!asset.url) problems.push(`${where(file.asset)}: no signed link`);
  }
  const planned = new Set(task.files.map((f) => f.asset));
  for (const asset of status.assets) {
    if (!planned.has(asset.name)) problems.push(`${where(asset.name)}: not an expected asset`);
  }
  return problems;
}

/**
 * Sends the scenario's callbacks in order while polling every task's status, then waits until
 * every task's archive settles or the timeout passes. Throws ReceiverUnreachableError when the
 * receiver does not answer and ScenarioError when it refuses a token; everything else that is
 * not as expected ends up in `problems`.
 */
export async function runScenario(options: RunOptions): Promise<RunResult> {
  const { receiver, scenario } = options;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pollMs = options.pollMs ?? 200;
  await checkReceiver(receiver);

  const startedAt = Date.now();
  const deadline = startedAt + timeoutMs;
  const progress: TaskProgress[] = scenario.tasks.map((task) => ({
    task,
    status: null,
    finalCallbackAt: null,
    settledAt: null,
  }));
  const byId = new Map(progress.map((entry) => [entry.task.taskId, entry]));
  const problems: string[] = [];
  const steps: StepResult[] = [];
  let callbacksDone = false;
  let aborted = false;

  // A poll that cannot connect (e.g. wrangler reloading after a source change) is tried again
  // on the next tick; only a receiver that stays away this long ends the run.
  const POLL_OUTAGE_MS = 10_000;
  let pollFailingSince: number | null = null;
  const pollOnce = async () => {
    try {
      await Promise.all(
        progress.map(async (entry) => {
          if (entry.settledAt !== null) return;
          entry.status = await fetchStatus(receiver, entry.task.taskId);
          if (entry.finalCallbackAt !== null && settledState(entry.status)) entry.settledAt = Date.now();
        }),
      );
      pollFailingSince = null;
    } catch (error) {
      if (error instanceof ScenarioError) throw error;
      pollFailingSince ??= Date.now();
      if (Date.now() - pollFailingSince > POLL_OUTAGE_MS) {
        throw new ScenarioError(`GET /tasks kept failing for 10 s: ${(error as Error).message}`);
      }
    }
    options.onProgress?.(progress);
  };
  const poller = (async () => {
    for (;;) {
      await pollOnce();
      if (callbacksDone && progress.every((entry) => entry.settledAt !== null)) return;
      if (aborted || Date.now() > deadline) return;
      await sleep(pollMs);
    }
  })();
  // A failing poller (say, a rejected API token) also stops the callbacks; its error is rethrown
  // by `await poller` below.
  let pollerFailed = false;
  poller.catch(() => {
    pollerFailed = true;
  });

  try {
    for (const [index, step] of scenario.steps.entries()) {
      if (index > 0 && options.stepDelayMs) await sleep(options.stepDelayMs);
      if (pollerFailed) break;
      const result = await postCallback(receiver, step);
      steps.push(result);
      const entry = byId.get(step.taskId);
      if (entry && step.final) entry.finalCallbackAt = result.sentAt;
      const answer = result.body as { status?: string; taskId?: string; duplicate?: boolean } | null;
      if (result.status !== 200) {
        problems.push(`${step.label}: HTTP ${result.status} ${JSON.stringify(result.body)}`);
      } else if (
        answer?.taskId !== step.taskId ||
        // A retried callback may have been recorded by the try whose answer got lost.
        (answer?.duplicate !== step.duplicate && !(result.attempts > 1 && answer?.duplicate === true))
      ) {
        problems.push(
          `${step.label}: expected duplicate=${step.duplicate} for ${step.taskId}, got ${JSON.stringify(answer)}`,
        );
      }
      options.onStep?.(result);
    }
  } catch (error) {
    aborted = true;
    await poller.catch(() => {});
    throw error;
  }
  callbacksDone = true;
  await poller;

  const tasks: TaskOutcome[] = [];
  for (const entry of progress) {
    const taskProblems = await checkTask(entry.task, entry.status);
    if (entry.settledAt === null) taskProblems.unshift(`${entry.task.taskId}: not settled in time`);
    problems.push(...taskProblems);
    tasks.push({
      ...entry,
      archived: taskProblems.length === 0,
      seconds:
        entry.settledAt !== null && entry.finalCallbackAt !== null
          ? (entry.settledAt - entry.finalCallbackAt) / 1000
          : null,
      problems: taskProblems,
    });
  }
  const lastSettled = Math.max(startedAt, ...progress.map((entry) => entry.settledAt ?? Date.now()));
  return { steps, tasks, problems, ok: problems.length === 0, seconds: (lastSettled - startedAt) / 1000 };
}
