import { env, exports } from "cloudflare:workers";
import { app } from "../../src/app";
import type { TaskStatus } from "../../src/tasks/status";
import { taskStub } from "../../src/tasks/stub";
import { type CallbackOptions, Client } from "../../support/client";

export { withTaskId } from "../../support/fixtures/rewrite";

/** The first of the tokens vitest.config.ts binds, and its API token. */
const CALLBACK_TOKEN = (env.CALLBACK_TOKENS ?? "").split(",")[0] as string;
export const bearer = { authorization: `Bearer ${env.API_TOKEN}` };

let counter = 0;
/** A task id unique within this test run (tests in one file share storage). */
export const uniqueId = (prefix = "task") =>
  `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/**
 * The API client, talking to the Worker's real fetch handler; with `vars`, to the app with those
 * vars changed for this request only (the bindings stay the real local ones).
 */
const client = (vars?: Partial<Env>) =>
  new Client({
    url: "https://stemvault.test",
    callbackToken: CALLBACK_TOKEN,
    apiToken: env.API_TOKEN ?? "",
    fetch: vars
      ? (request) => app.request(request, undefined, { ...env, ...vars })
      : (request) => exports.default.fetch(request),
  });

export const postCallback = (body: unknown, options: CallbackOptions & { vars?: Partial<Env> } = {}) =>
  client(options.vars).postCallback(body, options);

export const request = (path: string, init: RequestInit = {}, vars?: Partial<Env>) =>
  client(vars).request(path, init);

export async function getStatus(taskId: string): Promise<TaskStatus> {
  const status = await client().status(taskId);
  if (!status) throw new Error(`GET /tasks/${taskId}: 404`);
  return status;
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
