import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Kind } from "../../src/core/ids";
import worker from "../../src/index";
import { taskStub } from "../../src/tasks/stub";
import type { TaskObject } from "../../src/tasks/task-object";
import splitStem from "../../support/fixtures/sunoapi.separation.split-stem.json";
import { atOrigin } from "./media";
import { postCallback, settled, uniqueId, waitForStatus, withTaskId } from "./worker";

/**
 * Archives one stem through the real path (callback → Durable Object → queue → consumer → R2)
 * and waits until it settles. A separation callback may carry any `<stem>_url`, which makes it
 * the shortest way to archive an arbitrary URL.
 */
export async function archiveUrl(url: string, stem = "drums", timeoutMs?: number) {
  const taskId = uniqueId("stem");
  const response = await postCallback({
    code: 200,
    msg: "vocal Removal generated successfully.",
    data: { task_id: taskId, vocal_removal_info: { origin_url: "", [`${stem}_url`]: url } },
  });
  if (response.status !== 200) throw new Error(`callback answered ${response.status}`);
  const status = await waitForStatus(taskId, settled, timeoutMs);
  const asset = status.assets.find((candidate) => candidate.name === stem);
  if (!asset) throw new Error(`no asset ${stem}`);
  return { taskId, status, asset };
}

/**
 * Archives a `split_stem` separation (12 stems of `size` bytes on the local origin) through the
 * real path and waits until every stem is stored.
 */
export async function archivedStems(size: number, prefix = "stems") {
  const taskId = uniqueId(prefix);
  const { body } = atOrigin(withTaskId(splitStem, taskId), { size });
  const response = await postCallback(body);
  if (response.status !== 200) throw new Error(`callback answered ${response.status}`);
  const status = await waitForStatus(taskId, settled);
  if (status.archive.state !== "archived") throw new Error(`not archived: ${status.archive.state}`);
  return status;
}

/**
 * Puts a queued asset into a finished task without sending a queue message, so that a test
 * can hand the consumer a batch of its own (with vars of its own) and nothing races it.
 */
export async function seedQueuedAsset(kind: Kind, name: string, url: string) {
  const taskId = uniqueId("seed");
  await runInDurableObject(taskStub(env, taskId), async (instance: TaskObject, state) => {
    await instance.register(taskId, kind);
    const now = Date.now();
    state.storage.sql.exec("UPDATE task SET state = 'succeeded', stage = 'complete'");
    state.storage.sql.exec(
      `INSERT INTO assets (name, role, url, via, state, position, queued_at, created_at, updated_at)
         VALUES (?, ?, ?, 'callback', 'queued', 0, ?, ?, ?)`,
      name,
      kind === "video" ? "video" : "stem",
      url,
      now,
      now,
      now,
    );
  });
  return taskId;
}

let messageCounter = 0;

/** Runs the Worker's queue handler on a batch of `bodies`, as the given queue, and reports acks. */
export async function runConsumer(
  bodies: unknown[],
  options: { queue?: string; vars?: Partial<Env>; attempts?: number } = {},
) {
  const messages = bodies.map((body) => ({
    id: `msg-${messageCounter++}`,
    timestamp: new Date(),
    attempts: options.attempts ?? 1,
    body,
  }));
  const batch = createMessageBatch(options.queue ?? "stemvault-media", messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...options.vars }, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, ids: messages.map((message) => message.id) };
}
