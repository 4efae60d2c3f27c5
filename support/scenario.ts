// The provider, played against a running receiver: the callbacks a Suno-style API sends for one
// music generation, one 12-stem separation and one music video, with every media file on the
// local origin (support/origin.ts), then `GET /tasks/:taskId` polled until everything is archived.
// `npm run simulate` (tools/simulate.ts) draws it; the e2e test (test/e2e/) then downloads every
// archived file back. No UI in here: callers get `onStep` and `onProgress`.
//
// Callback bodies are the documented fixtures (support/fixtures/) with the task ids and media URLs
// replaced (support/fixtures/rewrite.ts). Each media URL serves pattern bytes of a known size and
// seed, so the SHA-256 the receiver records can be checked against `mediaSha256(name, size, seed)` (the pattern behind its format's header).

import { type Client, HttpError, type TaskStatus } from "./client.ts";
import kieMusicText from "./fixtures/kie.music.text.json" with { type: "json" };
import { atOrigin, type ServedFile, withTaskId } from "./fixtures/rewrite.ts";
import sunoapiMusicComplete from "./fixtures/sunoapi.music.complete.json" with { type: "json" };
import sunoapiSplitStem from "./fixtures/sunoapi.separation.split-stem.json" with { type: "json" };
import sunoapiVideo from "./fixtures/sunoapi.video.success.json" with { type: "json" };
import { mediaSha256 } from "./pattern.ts";

export type Kind = "music" | "separation" | "video";

/** Sizes in bytes of the generated media. */
export interface MediaSizes {
  /** The first track's audio; the second is 17% longer (and chunked). */
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

/** One file the receiver should archive, under the asset name the receiver gives it. */
export interface MediaFile extends ServedFile {
  asset: string;
}

export interface PlannedTask {
  taskId: string;
  kind: Kind;
  files: MediaFile[];
  /** The `source_*` twins: served, but never to be downloaded while the primaries work. */
  twins: ServedFile[];
  /** Sum of the files' sizes. */
  bytes: number;
}

export interface CallbackStep {
  taskId: string;
  /** What a person would call it, e.g. "music complete (duplicate)". */
  label: string;
  /** `/callbacks/<kind>`, or none for `/callbacks` (the receiver detects the kind). */
  kind?: Kind;
  body: unknown;
  /** The receiver must answer `duplicate: true`. */
  duplicate: boolean;
  /** The callback that finishes its task (the clock for "callback → archived" starts here). */
  final: boolean;
}

export interface Scenario {
  tasks: PlannedTask[];
  steps: CallbackStep[];
}

/** `audio_url` of track t → `<t>/audio`, `image_url` → `<t>/cover`, `<stem>_url` → the stem. */
export const assetName = (file: ServedFile) =>
  file.key === "video_url"
    ? "video"
    : file.key === "audio_url"
      ? `${file.holderId}/audio`
      : file.key === "image_url"
        ? `${file.holderId}/cover`
        : file.key.replace(/_url$/, "");

/**
 * Plans the callbacks in the order a provider might deliver them: music `text` → music `first`
 * (track 2 not ready: empty URLs) → separation `split_stem` (12 stems) → music `complete`
 * (2 tracks: audio + cover each) → video → the `complete` again (a duplicate) → the `first`
 * again, late, after `complete`.
 */
export function planScenario(options: { originUrl: string; sizes?: MediaSizes; runId?: string }): Scenario {
  const sizes = options.sizes ?? DEMO_SIZES;
  const runId = options.runId ?? `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  let seed = 0;
  let stems = 0;
  const local = <T>(fixture: T, taskId: string) =>
    atOrigin(withTaskId(fixture, taskId), options.originUrl, ({ key, index }) => {
      seed += 1;
      if (key.endsWith("audio_url"))
        return { seed, size: Math.round(sizes.audio * (1 + 0.17 * index)), chunked: index === 1 };
      if (key.endsWith("image_url")) return { seed, size: sizes.cover + 12_345 * index };
      if (key === "video_url") return { seed, size: sizes.video, chunked: true };
      const spread = ((sizes.stemMax - sizes.stemMin) * stems) / 11;
      return { seed, size: Math.round(sizes.stemMin + spread + 1_000 * stems++) };
    });
  const task = (taskId: string, kind: Kind, files: Map<string, ServedFile>): PlannedTask => {
    const served = [...files.values()];
    const media = served
      .filter((file) => !file.key.startsWith("source_"))
      .map((file) => ({ ...file, asset: assetName(file) }));
    const twins = served.filter((file) => file.key.startsWith("source_"));
    return { taskId, kind, files: media, twins, bytes: media.reduce((sum, file) => sum + file.size, 0) };
  };

  const musicId = `sim-${runId}-music`;
  const complete = local(sunoapiMusicComplete, musicId);
  const first = structuredClone(complete.body);
  first.msg = "First track generated successfully.";
  first.data.callbackType = "first";
  Object.assign(first.data.data[1] as object, {
    audio_url: "",
    source_audio_url: "",
    image_url: "",
    source_image_url: "",
    duration: null,
  });
  const stemsId = `sim-${runId}-stems`;
  const separation = local(sunoapiSplitStem, stemsId);
  const videoId = `sim-${runId}-video`;
  const video = local(sunoapiVideo, videoId);

  const step = (taskId: string, label: string, body: unknown, extra: Partial<CallbackStep> = {}) => ({
    taskId,
    label,
    body,
    duplicate: false,
    final: false,
    ...extra,
  });
  return {
    tasks: [
      task(musicId, "music", complete.files),
      task(stemsId, "separation", separation.files),
      task(videoId, "video", video.files),
    ],
    steps: [
      step(musicId, "music text", withTaskId(kieMusicText, musicId), { kind: "music" }),
      step(musicId, "music first (track 2 not ready)", first, { kind: "music" }),
      step(stemsId, "separation split_stem (12 stems)", separation.body, { kind: "separation", final: true }),
      // Without a kind in the path the receiver detects it from the payload.
      step(musicId, "music complete (2 tracks)", complete.body, { final: true }),
      step(videoId, "video", video.body, { kind: "video", final: true }),
      step(musicId, "music complete (duplicate)", complete.body, { kind: "music", duplicate: true }),
      step(musicId, "music first (late, after complete)", first, { kind: "music", duplicate: true }),
    ],
  };
}

/** The receiver did not answer `GET /healthz`. */
export class ReceiverUnreachableError extends Error {
  override name = "ReceiverUnreachableError";
}

/** The receiver answered something the scenario cannot go on from (e.g. a rejected token). */
export class ScenarioError extends Error {
  override name = "ScenarioError";
}

/** `GET /healthz`; throws ReceiverUnreachableError when nothing (or something else) answers. */
export async function checkReceiver(client: Client): Promise<void> {
  try {
    await client.health();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new ReceiverUnreachableError(
      error instanceof HttpError
        ? `${cause}; is this the stemvault receiver?`
        : `no receiver at ${client.url} (${cause})`,
    );
  }
}

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
  /** Archived in time and every check passed. */
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
  client: Client;
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

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const isSettled = (status: TaskStatus | null) =>
  status?.archive.state === "archived" || status?.archive.state === "failed";

/** As a provider redelivers: up to 3 more tries, 1 s apart, after a network error or a 5xx. */
async function deliver(client: Client, step: CallbackStep): Promise<StepResult> {
  const sentAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    let answer: { status: number; body: unknown } | null = null;
    let failure = "";
    try {
      const response = await client.postCallback(step.body, { kind: step.kind });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Not JSON: kept as text.
      }
      answer = { status: response.status, body };
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      failure = `${(error as Error).message}${cause ? ` (${cause})` : ""}`;
    }
    if (answer?.status === 401)
      throw new ScenarioError(`POST /callbacks answered 401: the callback token was rejected`);
    if (answer && (answer.status < 500 || attempt > 3))
      return { step, ...answer, sentAt, ms: Date.now() - sentAt, attempts: attempt };
    if (attempt > 3)
      throw new ScenarioError(`POST /callbacks (${step.label}) failed ${attempt} times: ${failure}`);
    await sleep(1000);
  }
}

/** Compares a task's status JSON with the plan: every file stored, with its size and hash. */
export async function checkTask(task: PlannedTask, status: TaskStatus | null): Promise<string[]> {
  if (!status) return [`${task.taskId}: the receiver does not know the task`];
  const problems: string[] = [];
  const where = (asset: string) => `${task.taskId} ${asset}`;
  if (status.archive.state !== "archived") {
    problems.push(
      `${task.taskId}: archive.state is ${status.archive.state} (${status.archive.stored}/${status.archive.total} stored)`,
    );
  }
  for (const file of task.files) {
    const asset = status.assets.find((candidate) => candidate.name === file.asset);
    if (!asset) problems.push(`${where(file.asset)}: missing from assets`);
    else if (asset.state !== "stored")
      problems.push(`${where(file.asset)}: ${asset.state}${asset.error ? ` (${asset.error})` : ""}`);
    else {
      if (asset.bytes !== file.size)
        problems.push(`${where(file.asset)}: ${asset.bytes} bytes, not ${file.size}`);
      if (asset.sha256 !== (await mediaSha256(file.name, file.size, file.seed)))
        problems.push(`${where(file.asset)}: wrong SHA-256`);
      if (!asset.url) problems.push(`${where(file.asset)}: no signed link`);
    }
  }
  const planned = new Set(task.files.map((file) => file.asset));
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
  const { client, scenario } = options;
  await checkReceiver(client);
  const startedAt = Date.now();
  const deadline = startedAt + (options.timeoutMs ?? 120_000);
  const progress: TaskProgress[] = scenario.tasks.map((task) => ({
    task,
    status: null,
    finalCallbackAt: null,
    settledAt: null,
  }));
  const problems: string[] = [];
  const steps: StepResult[] = [];
  let callbacksDone = false;
  let aborted = false;

  // A poll that cannot connect (e.g. wrangler reloading after a source change) is tried again on
  // the next tick; only a receiver that stays away for 10 s ends the run.
  let pollFailingSince: number | null = null;
  const pollOnce = async () => {
    try {
      await Promise.all(
        progress.map(async (entry) => {
          if (entry.settledAt !== null) return;
          entry.status = await client.status(entry.task.taskId, { timeoutMs: 10_000 });
          if (entry.finalCallbackAt !== null && isSettled(entry.status)) entry.settledAt = Date.now();
        }),
      );
      pollFailingSince = null;
    } catch (error) {
      if (error instanceof HttpError && error.status === 401)
        throw new ScenarioError("GET /tasks answered 401: the API token was rejected");
      pollFailingSince ??= Date.now();
      if (Date.now() - pollFailingSince > 10_000)
        throw new ScenarioError(`GET /tasks kept failing for 10 s: ${(error as Error).message}`);
    }
    options.onProgress?.(progress);
  };
  const poller = (async () => {
    for (;;) {
      await pollOnce();
      if (callbacksDone && progress.every((entry) => entry.settledAt !== null)) return;
      if (aborted || Date.now() > deadline) return;
      await sleep(options.pollMs ?? 200);
    }
  })();
  // A failing poller (say, a rejected API token) also stops the callbacks; `await poller` rethrows.
  let pollerFailed = false;
  poller.catch(() => {
    pollerFailed = true;
  });

  try {
    for (const [index, step] of scenario.steps.entries()) {
      if (index > 0 && options.stepDelayMs) await sleep(options.stepDelayMs);
      if (pollerFailed) break;
      const result = await deliver(client, step);
      steps.push(result);
      const entry = progress.find((candidate) => candidate.task.taskId === step.taskId);
      if (entry && step.final) entry.finalCallbackAt = result.sentAt;
      const answer = result.body as { taskId?: string; duplicate?: boolean } | null;
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
    const seconds =
      entry.settledAt !== null && entry.finalCallbackAt !== null
        ? (entry.settledAt - entry.finalCallbackAt) / 1000
        : null;
    tasks.push({ ...entry, archived: taskProblems.length === 0, seconds, problems: taskProblems });
  }
  const lastSettled = Math.max(startedAt, ...progress.map((entry) => entry.settledAt ?? Date.now()));
  return { steps, tasks, problems, ok: problems.length === 0, seconds: (lastSettled - startedAt) / 1000 };
}
