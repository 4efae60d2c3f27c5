import { env, exports } from "cloudflare:workers";
import { app } from "../../src/app";
import type { TaskStatus } from "../../src/tasks/status";
import { taskStub } from "../../src/tasks/stub";

export const CALLBACK_TOKEN = "test-token-a";
export const API_TOKEN = "test-api-token";
export const bearer = { authorization: `Bearer ${API_TOKEN}` };

let counter = 0;
/** A task id unique within this test run (tests in one file share storage). */
export const uniqueId = (prefix = "task") =>
  `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export interface PostOptions {
  kind?: string;
  /** `null` sends no token; default is a valid one. */
  token?: string | null;
  headers?: Record<string, string>;
  /** Vars to change for this request only (the bindings stay the real local ones). */
  vars?: Partial<Env>;
  /** Send this text instead of JSON-encoding `body`. */
  raw?: string;
}

/** POSTs a callback through the Worker's real fetch handler (or the app, when vars change). */
export function postCallback(body: unknown, options: PostOptions = {}): Promise<Response> {
  const query = options.token === null ? "" : `?token=${encodeURIComponent(options.token ?? CALLBACK_TOKEN)}`;
  const path = `/callbacks${options.kind ? `/${options.kind}` : ""}${query}`;
  const init: RequestInit = {
    method: "POST",
    headers: { "content-type": "application/json", ...options.headers },
    body: options.raw ?? JSON.stringify(body),
  };
  return request(path, init, options.vars);
}

export function request(path: string, init: RequestInit = {}, vars?: Partial<Env>): Promise<Response> {
  const url = `https://stemvault.test${path}`;
  if (vars) return Promise.resolve(app.request(url, init, { ...env, ...vars }));
  return exports.default.fetch(new Request(url, init));
}

export async function getStatus(taskId: string): Promise<TaskStatus> {
  const response = await request(`/tasks/${taskId}`, { headers: bearer });
  if (response.status !== 200)
    throw new Error(`GET /tasks/${taskId}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Polls the task's status until `done` holds (the local queue delivers after about 1 s). */
export async function waitForStatus(
  taskId: string,
  done: (status: TaskStatus) => boolean,
  timeoutMs = 20_000,
): Promise<TaskStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await taskStub(env, taskId).status();
    if (status && done(status)) return status;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting on ${taskId}: ${JSON.stringify(status, null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const settled = (status: TaskStatus) =>
  status.archive.state === "archived" || status.archive.state === "failed";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A deep copy of a fixture with its task id replaced (every key naming a task id). */
export function withTaskId<T>(fixture: T, taskId: string): T {
  const copy = structuredClone(fixture) as { [key: string]: Json };
  const data = copy.data as { [key: string]: Json } | null;
  for (const holder of [copy, data]) {
    if (!holder) continue;
    for (const key of ["task_id", "taskId"]) if (key in holder) holder[key] = taskId;
  }
  return copy as T;
}
