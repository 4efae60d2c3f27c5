// The whole loop through stemvault's submit API, played against a running receiver whose
// PROVIDER_API_BASE is the fake provider (support/fake-provider.ts, `deliver: "post"`): three jobs
// submitted with `POST /provider/<path>` (music, a 12-stem separation, a video), each with an
// Idempotency-Key, the first one retried with its key (a replay, no second job); the fake
// provider then posts each job's callbacks to the callBackUrl stemvault gave it, and the
// receiver archives them. No callback is posted by hand. `npm run simulate -- --submit` draws it;
// the e2e test downloads every archived file back. No Node imports.

import { type Client, HttpError } from "./client.ts";
import type { FakeProvider } from "./fake-provider.ts";
import {
  checkReceiver,
  checkTask,
  type PlannedTask,
  type RunResult,
  ScenarioError,
  type TaskOutcome,
  type TaskProgress,
} from "./scenario.ts";

/** What `--submit` submits: the provider path and its own body. */
export const SUBMIT_JOBS = [
  {
    path: "/api/v1/generate",
    body: {
      customMode: true,
      instrumental: false,
      model: "V4_5",
      prompt: "A calm and relaxing piano track with soft melodies",
      style: "Classical",
      title: "Peaceful Piano Meditation",
    },
  },
  {
    path: "/api/v1/vocal-removal/generate",
    body: { taskId: "parent-task", audioId: "parent-audio", type: "split_stem" },
  },
  {
    path: "/api/v1/mp4/generate",
    body: { taskId: "parent-task", audioId: "parent-audio", author: "stemvault" },
  },
] as const;

export interface SubmitStep {
  label: string;
  path: string;
  status: number;
  taskId: string | null;
  replay: boolean;
  ms: number;
}

/** The receiver refused to submit (not configured for the fake provider, say). */
export class SubmitNotConfiguredError extends Error {
  override name = "SubmitNotConfiguredError";
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const isSettled = (progress: TaskProgress) =>
  progress.status?.archive.state === "archived" || progress.status?.archive.state === "failed";

/**
 * Submits SUBMIT_JOBS through the receiver, retries the first with its key, then polls until
 * every job's archive settles (or `timeoutMs`), and checks each against the files the fake
 * provider's callbacks named. Throws SubmitNotConfiguredError when the receiver does not reach
 * the fake provider.
 */
export async function runSubmitScenario(options: {
  client: Client;
  provider: FakeProvider;
  runId?: string;
  timeoutMs?: number;
  pollMs?: number;
  onStep?: (step: SubmitStep) => void;
  onProgress?: (progress: readonly TaskProgress[]) => void;
}): Promise<RunResult & { submits: SubmitStep[] }> {
  const { client, provider } = options;
  await checkReceiver(client);
  const runId = options.runId ?? `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const startedAt = Date.now();
  const submits: SubmitStep[] = [];

  const send = async (job: (typeof SUBMIT_JOBS)[number], key: string, label: string) => {
    const sentAt = Date.now();
    const response = await client.request(`/provider${job.path}`, {
      method: "POST",
      headers: { ...client.bearer, "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(job.body),
    });
    const text = await response.text();
    if (response.status === 401)
      throw new ScenarioError("POST /provider answered 401: the API token was rejected");
    const taskId = response.headers.get("stemvault-task-id");
    const step = {
      label,
      path: job.path,
      status: response.status,
      taskId,
      replay: response.headers.get("stemvault-idempotent-replay") === "true",
      ms: Date.now() - sentAt,
    };
    submits.push(step);
    options.onStep?.(step);
    if (!taskId || !provider.job(taskId)) {
      throw new SubmitNotConfiguredError(
        `POST /provider${job.path} answered ${response.status} ${text.slice(0, 200)}` +
          (taskId ? " with a task id the fake provider never gave" : ""),
      );
    }
    return taskId;
  };

  const progress: TaskProgress[] = [];
  for (const [index, job] of SUBMIT_JOBS.entries()) {
    const taskId = await send(job, `sim-${runId}-${index}`, `submit ${job.path}`);
    const planned = provider.job(taskId);
    if (!planned) throw new ScenarioError(`the fake provider has no job ${taskId}`);
    const task: PlannedTask = {
      taskId,
      kind: planned.kind as PlannedTask["kind"],
      files: planned.files,
      twins: [],
      bytes: planned.files.reduce((sum, file) => sum + file.size, 0),
    };
    progress.push({ task, status: null, finalCallbackAt: Date.now(), settledAt: null });
  }
  const problems: string[] = [];
  const first = SUBMIT_JOBS[0];
  const retried = await send(first, `sim-${runId}-0`, "the same again (same Idempotency-Key)");
  const replay = submits.at(-1);
  if (retried !== progress[0]?.task.taskId || !replay?.replay)
    problems.push("the retry with the same Idempotency-Key was not a replay of the first answer");

  const deadline = startedAt + (options.timeoutMs ?? 120_000);
  while (Date.now() < deadline && !progress.every(isSettled)) {
    for (const entry of progress) {
      if (entry.settledAt !== null) continue;
      try {
        entry.status = await client.status(entry.task.taskId, { timeoutMs: 10_000 });
      } catch (error) {
        if (error instanceof HttpError && error.status === 401)
          throw new ScenarioError("GET /tasks answered 401: the API token was rejected");
      }
      if (isSettled(entry)) entry.settledAt = Date.now();
    }
    options.onProgress?.(progress);
    await sleep(options.pollMs ?? 200);
  }
  await provider.idle();

  const tasks: TaskOutcome[] = [];
  for (const entry of progress) {
    const taskProblems = await checkTask(entry.task, entry.status);
    if (entry.settledAt === null) taskProblems.unshift(`${entry.task.taskId}: not settled in time`);
    if (entry.status && entry.status.via !== "submit")
      taskProblems.push(`${entry.task.taskId}: via ${entry.status.via}`);
    problems.push(...taskProblems);
    const seconds =
      entry.settledAt !== null && entry.finalCallbackAt !== null
        ? (entry.settledAt - entry.finalCallbackAt) / 1000
        : null;
    tasks.push({ ...entry, archived: taskProblems.length === 0, seconds, problems: taskProblems });
  }
  const lastSettled = Math.max(startedAt, ...progress.map((entry) => entry.settledAt ?? Date.now()));
  return {
    steps: [],
    submits,
    tasks,
    problems,
    ok: problems.length === 0,
    seconds: (lastSettled - startedAt) / 1000,
  };
}
