import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { TaskKind } from "../../src/core/ids";
import { RECORD_INFO_PATHS } from "../../src/providers/record-info";
import { taskStub } from "../../src/tasks/stub";

export interface ScriptedResponse {
  status: number;
  body?: unknown;
}

/** Queues the fake provider's answers to record-info of one task (the last one repeats). */
export async function scriptRecordInfo(kind: TaskKind, taskId: string, responses: ScriptedResponse[]) {
  const key = `${RECORD_INFO_PATHS[kind]}?taskId=${taskId}`;
  const response = await fetch(`${env.ORIGIN_URL}/__provider/script`, {
    method: "POST",
    body: JSON.stringify({ [key]: responses }),
  });
  if (!response.ok) throw new Error(`scripting the provider failed: ${response.status}`);
}

/** A record-info success envelope around `data`. */
export const recordInfo = (data: Record<string, unknown>): ScriptedResponse => ({
  status: 200,
  body: { code: 200, msg: "success", data },
});

/** Makes the task's next poll due now and runs its alarm, as the runtime would at that time. */
export async function pollNow(taskId: string) {
  const stub = taskStub(env, taskId);
  await runInDurableObject(stub, async (_instance, state) => {
    state.storage.sql.exec("UPDATE task SET next_poll_at = ?", Date.now() - 1);
    await state.storage.setAlarm(Date.now() + 60_000);
  });
  return runDurableObjectAlarm(stub);
}

/** The provider requests the origin saw for a task. */
export async function providerRequests(taskId: string) {
  const response = await fetch(`${env.ORIGIN_URL}/__log?path=/provider/`);
  const { requests } = (await response.json()) as { requests: { query: string; auth: boolean }[] };
  return requests.filter((entry) => entry.query.includes(`taskId=${taskId}`));
}
