import { env } from "cloudflare:workers";
import type { FakeJob, FakeSubmission } from "../../support/fake-provider";
import { bearer, request } from "./worker";

// The fake provider of the local origin (support/fake-provider.ts, mounted in
// test/global-setup.ts): its submit endpoints, its record of every call, its scripts, and the
// callbacks it holds for each job (the Worker under test is not reachable from Node, so the test
// posts them through the app, exactly as the provider would).

export interface SubmitOptions {
  key?: string;
  headers?: Record<string, string>;
  /** Send this text instead of the JSON of the body. */
  raw?: string;
  /** Settings changed for this request only (the bindings stay the real local ones). */
  vars?: Partial<Env>;
}

/** `POST /provider<path>` with the bearer token and, when given, an Idempotency-Key. */
export const submit = (path: string, body: unknown, options: SubmitOptions = {}) =>
  request(
    `/provider${path}`,
    {
      method: "POST",
      headers: {
        ...bearer,
        "content-type": "application/json",
        ...(options.key === undefined ? {} : { "idempotency-key": options.key }),
        ...options.headers,
      },
      body: options.raw ?? JSON.stringify(body),
    },
    options.vars,
  );

/** Every call the fake provider received whose body contains `marker`. */
export async function providerCalls(marker: string): Promise<FakeSubmission[]> {
  const response = await fetch(
    `${env.ORIGIN_URL}/__fake-provider/submissions?contains=${encodeURIComponent(marker)}`,
  );
  return ((await response.json()) as { submissions: FakeSubmission[] }).submissions;
}

/** How the fake provider answers requests whose body contains `marker` (the last entry repeats). */
export async function scriptProvider(
  marker: string,
  entries: (
    | { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number; drop?: boolean }
    | {
        accept: true;
        delayMs?: number;
      }
  )[],
): Promise<void> {
  const response = await fetch(`${env.ORIGIN_URL}/__fake-provider/script`, {
    method: "POST",
    body: JSON.stringify({ [marker]: entries }),
  });
  if (!response.ok) throw new Error(`scripting the fake provider failed: ${response.status}`);
}

/** The job the fake provider started for `taskId`: its callbacks and the files they name. */
export async function fakeJob(taskId: string): Promise<FakeJob> {
  const response = await fetch(`${env.ORIGIN_URL}/__fake-provider/jobs?taskId=${encodeURIComponent(taskId)}`);
  const [job] = ((await response.json()) as { jobs: FakeJob[] }).jobs;
  if (!job) throw new Error(`the fake provider has no job ${taskId}`);
  return job;
}

/** Posts the job's callbacks to the Worker at the path and query of the callBackUrl it was given. */
export async function deliverCallbacks(job: FakeJob): Promise<number[]> {
  const url = new URL(job.callBackUrl);
  const statuses: number[] = [];
  for (const callback of job.callbacks) {
    const response = await request(`${url.pathname}${url.search}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(callback.body),
    });
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  return statuses;
}
