import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import type { EventStatus } from "../../src/tasks/event-status";
import type { EventRow } from "../../src/tasks/rows";
import { taskStub } from "../../src/tasks/stub";
import type { TaskObject } from "../../src/tasks/task-object";
import type { EventDelivery, ProviderScriptedResponse } from "../../support/origin";
import { uniqueId, waitForStatus } from "./worker";

/** The events project's signing secrets (vitest.config.ts), and one that was never configured. */
export const SECRET_A = "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1BISE=";
export const SECRET_B = "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1CISE=";
export const WRONG_SECRET = "whsec_YS13cm9uZy1zZWNyZXQtdGhhdC1pcy0zMi1ieXRlcyE=";

/** What the origin's events sink received for a task. */
export async function sinkDeliveries(taskId: string): Promise<EventDelivery[]> {
  const response = await fetch(`${env.ORIGIN_URL}/__events/log?taskId=${encodeURIComponent(taskId)}`);
  return ((await response.json()) as { deliveries: EventDelivery[] }).deliveries;
}

/** How the sink answers a task's events, in order (the last answer repeats). */
export async function scriptSink(taskId: string, answers: ProviderScriptedResponse[]): Promise<void> {
  const response = await fetch(`${env.ORIGIN_URL}/__events/script`, {
    method: "POST",
    body: JSON.stringify({ [taskId]: answers }),
  });
  if (!response.ok) throw new Error(`scripting the sink: ${response.status}`);
}

/** Verifies a delivery as a receiver would: with the `standardwebhooks` library and one secret. */
export const verifyWith = (secret: string, delivery: EventDelivery) =>
  new Webhook(secret).verify(delivery.body, delivery.headers) as {
    type: string;
    timestamp: string;
    data: { taskId: string; assets: { url: string | null; state: string }[] };
  };

/** Waits until the sink has `count` deliveries for the task. */
export async function waitForDeliveries(taskId: string, count = 1, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const deliveries = await sinkDeliveries(taskId);
    if (deliveries.length >= count) return deliveries;
    if (Date.now() > deadline) throw new Error(`${taskId}: ${deliveries.length} of ${count} deliveries`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the task lists events and `done` holds for them. */
export async function waitForEvents(
  taskId: string,
  done: (events: EventStatus[]) => boolean,
  timeoutMs?: number,
): Promise<EventStatus[]> {
  return (await waitForStatus(taskId, (status) => done(status.events), timeoutMs)).events;
}

export const eventRow = (taskId: string, eventId: string) =>
  runInDurableObject(taskStub(env, taskId), (_, state) =>
    state.storage.sql.exec<EventRow>("SELECT * FROM events WHERE id = ?", eventId).one(),
  );

/**
 * A settled task (a provider failure, no assets) with one pending event whose first message is
 * "in the queue" — but no message was really sent, so a test hands the consumer a batch of its
 * own (with `attempts` of its choosing) and nothing races it. The next attempt is not due for an
 * hour, so no alarm interferes either.
 */
export async function seedEvent() {
  const taskId = uniqueId("evt");
  const eventId = `evt_${crypto.randomUUID().replaceAll("-", "")}`;
  await runInDurableObject(taskStub(env, taskId), async (instance: TaskObject, state) => {
    await instance.register(taskId, "music", "https://seeded.stemvault.test");
    const sql = state.storage.sql;
    sql.exec(
      `UPDATE task SET state = 'failed', stage = 'error', provider_code = 501,
         provider_message = 'Audio generation failed', event_mark = 'task.failed:error:0:0:0'`,
    );
    const status = instance.status();
    if (!status) throw new Error("no status");
    const { events: _, ...data } = status;
    const now = Date.now();
    sql.exec(
      `INSERT INTO events (id, type, data, state, created_at, updated_at, messages_sent, sent, next_attempt_at)
         VALUES (?, 'task.failed', ?, 'pending', ?, ?, 1, 1, ?)`,
      eventId,
      JSON.stringify(data),
      now,
      now,
      now + 3600_000,
    );
  });
  return { taskId, eventId, job: { taskId, eventId, message: 1 } };
}
