// A fake Suno-style provider for the submit endpoints (PROVIDERS.md §9.1), mounted on the local
// origin (support/origin.ts) under /provider/<path>. Like the real one it checks the bearer API
// key, answers `{"code":200,"msg":"success","data":{"taskId":"<new id>"}}`, and later sends the
// documented callbacks of the job's kind (support/provider-jobs.ts) to the `callBackUrl` it was
// given — itself (`deliver: "post"`, for `wrangler dev`: the simulator and the e2e test), or by
// holding them for the caller to post (`deliver: "hold"`: inside workerd's test pool the Worker
// under test cannot be reached from Node, so a test reads them and posts them through the app).
//
// Control routes (on the origin, never logged):
//   GET  /__fake-provider/submissions[?contains=<text>]
//        → {"submissions":[{path, kind, body, callBackUrl, taskId, status, at}]}: every request to
//        a submit path (whose raw body contains <text>), so tests count provider calls
//   POST /__fake-provider/script  {"<marker>": [{status, body?, headers?, delayMs?, drop?} |
//        {accept: true, delayMs?}]}: a request whose raw body contains <marker> gets the next
//        entry (the last one repeats): a refusal, a stall (delayMs), a dropped connection, or a
//        delayed acceptance
//   GET  /__fake-provider/jobs?taskId=<id>
//        → {"jobs":[{taskId, kind, callBackUrl, callbacks:[{label, body}], files, deliveries}]}

import type { ProviderRequest, ProviderScriptedResponse } from "./origin.ts";
import { JOB_KINDS, type JobKind, type PlannedJob, planJob } from "./provider-jobs.ts";
import type { MediaSizes } from "./scenario.ts";

export interface FakeProviderOptions {
  /** Where the origin serves media (the jobs' file URLs). */
  originUrl: string;
  /** The API key the provider accepts (`Authorization: Bearer …`); anything else is a 401. */
  apiKey: string;
  deliver: "post" | "hold";
  /** Wait before the first callback (default 300 ms) and between callbacks (default 200 ms). */
  callbackDelayMs?: number;
  stepDelayMs?: number;
  sizes?: MediaSizes;
}

export interface FakeSubmission {
  path: string;
  kind: JobKind;
  body: unknown;
  callBackUrl: string | null;
  /** The task id it answered with; null for a refusal. */
  taskId: string | null;
  status: number;
  at: number;
}

export interface FakeJob extends PlannedJob {
  callBackUrl: string;
  /** What the receiver answered to each posted callback (`deliver: "post"`). */
  deliveries: { label: string; status: number | null; error: string | null }[];
}

type ScriptEntry = ProviderScriptedResponse & { accept?: boolean };

export interface FakeProvider {
  /** The origin's provider handler: answers the submit paths, leaves the rest to the scripts. */
  handle(req: ProviderRequest): Promise<ProviderScriptedResponse | undefined>;
  /** The origin's control handler for /__fake-provider/…; undefined for other paths. */
  control(
    method: string,
    path: string,
    query: URLSearchParams,
    body: string,
  ): { status: number; body: unknown } | undefined;
  submissions(contains?: string): FakeSubmission[];
  job(taskId: string): FakeJob | undefined;
  /** Resolves once every callback of every job so far has been posted (deliver: "post"). */
  idle(): Promise<void>;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export function createFakeProvider(options: FakeProviderOptions): FakeProvider {
  const submissions: FakeSubmission[] = [];
  const jobs = new Map<string, FakeJob>();
  const scripts = new Map<string, { queue: ScriptEntry[]; next: number }>();
  const sending = new Set<Promise<void>>();
  let counter = 0;

  const scripted = (raw: string): ScriptEntry | undefined => {
    for (const [marker, entry] of scripts) {
      if (!raw.includes(marker) || entry.queue.length === 0) continue;
      const answer = entry.queue[Math.min(entry.next, entry.queue.length - 1)];
      entry.next++;
      return answer;
    }
    return undefined;
  };

  /** Posts a job's callbacks in order, each retried up to 3 times as providers do. */
  async function post(job: FakeJob): Promise<void> {
    await sleep(options.callbackDelayMs ?? 300);
    for (const [index, callback] of job.callbacks.entries()) {
      if (index > 0) await sleep(options.stepDelayMs ?? 200);
      let outcome: FakeJob["deliveries"][number] = { label: callback.label, status: null, error: null };
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          const response = await fetch(job.callBackUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(callback.body),
            signal: AbortSignal.timeout(15_000),
          });
          await response.arrayBuffer();
          outcome = { label: callback.label, status: response.status, error: null };
          if (response.status < 500) break;
        } catch (error) {
          outcome = { label: callback.label, status: null, error: (error as Error).message };
        }
        await sleep(1000);
      }
      job.deliveries.push(outcome);
    }
  }

  async function handle(req: ProviderRequest): Promise<ProviderScriptedResponse | undefined> {
    const kind = JOB_KINDS[req.path];
    if (!kind || req.method !== "POST") return undefined;
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(req.body);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
    } catch {
      // Not JSON: the provider says so below.
    }
    const callBackUrl = typeof body.callBackUrl === "string" ? body.callBackUrl : null;
    const record = (status: number, taskId: string | null) =>
      submissions.push({ path: req.path, kind, body, callBackUrl, taskId, status, at: Date.now() });

    if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
      record(401, null);
      return { status: 401, body: { code: 401, msg: "You do not have access permissions" } };
    }
    const script = scripted(req.body);
    if (script && !script.accept) {
      record(script.status, null);
      return script;
    }
    if (!callBackUrl) {
      record(200, null);
      return { status: 200, body: { code: 422, msg: "callBackUrl is required", data: null } };
    }
    counter += 1;
    const taskId = `fake${Date.now().toString(36)}${counter.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const planned = planJob({
      kind,
      taskId,
      originUrl: options.originUrl,
      request: body,
      sizes: options.sizes,
    });
    const job: FakeJob = { ...planned, callBackUrl, deliveries: [] };
    jobs.set(taskId, job);
    record(200, taskId);
    if (options.deliver === "post") {
      const sent = post(job).finally(() => sending.delete(sent));
      sending.add(sent);
    }
    return {
      status: 200,
      body: { code: 200, msg: "success", data: { taskId } },
      ...(script?.delayMs ? { delayMs: script.delayMs } : {}),
    };
  }

  const submissionsMatching = (contains?: string) =>
    submissions.filter((entry) => !contains || JSON.stringify(entry.body).includes(contains));

  function control(method: string, path: string, query: URLSearchParams, raw: string) {
    if (path === "/__fake-provider/submissions" && method === "GET") {
      return { status: 200, body: { submissions: submissionsMatching(query.get("contains") ?? undefined) } };
    }
    if (path === "/__fake-provider/jobs" && method === "GET") {
      const job = jobs.get(query.get("taskId") ?? "");
      return { status: 200, body: { jobs: job ? [job] : [] } };
    }
    if (path === "/__fake-provider/script" && method === "POST") {
      const table = JSON.parse(raw) as Record<string, ScriptEntry[]>;
      for (const [marker, queue] of Object.entries(table)) {
        if (
          !Array.isArray(queue) ||
          queue.some((entry) => !entry.accept && !Number.isInteger(entry.status))
        ) {
          return {
            status: 400,
            body: { error: `script for ${marker}: every entry needs a status or accept` },
          };
        }
        scripts.set(marker, { queue: [...queue], next: 0 });
      }
      return { status: 200, body: { ok: true } };
    }
    return undefined;
  }

  return {
    handle,
    control,
    submissions: submissionsMatching,
    job: (taskId) => jobs.get(taskId),
    idle: async () => {
      while (sending.size > 0) await Promise.all([...sending]);
    },
  };
}
