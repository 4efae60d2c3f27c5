// The events consumer called directly with the queue's `attempts` set (workerd cannot wait hours):
// what each kind of answer does to the event and to the message, against the real sink.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { config } from "../../src/core/config";
import { eventBody } from "../../src/events/delivery";
import type { EventAttempt } from "../../src/tasks/event-job";
import {
  eventRow,
  SECRET_A,
  SECRET_B,
  scriptSink,
  seedEvent,
  sinkDeliveries,
  verifyWith,
} from "../helpers/events";
import { runConsumer } from "../helpers/tasks";
import { getStatus } from "../helpers/worker";

const EVENTS = { queue: "stemvault-events" };
const eventOf = async (taskId: string) => (await getStatus(taskId)).events[0];
/** The delay the consumer gave the queue, as the task recorded it (next attempt - report time). */
const delayOf = async (taskId: string, eventId: string) => {
  const row = await eventRow(taskId, eventId);
  return ((row.next_attempt_at as number) - row.updated_at) / 1000;
};

describe("an attempt", () => {
  it("that gets a 5xx is retried after the schedule's delay, with the same webhook-id every time", async () => {
    const { taskId, eventId, job } = await seedEvent();
    await scriptSink(taskId, [{ status: 503 }]);
    const first = await runConsumer([job], { ...EVENTS, attempts: 1 });
    expect(first.retryMessages).toEqual([{ msgId: first.ids[0] }]);
    expect(await delayOf(taskId, eventId)).toBeGreaterThanOrEqual(5);
    expect(await delayOf(taskId, eventId)).toBeLessThanOrEqual(6);
    expect(await eventOf(taskId)).toMatchObject({
      id: eventId,
      state: "pending",
      attempts: 1,
      lastStatus: 503,
      lastError: "503 Service Unavailable",
      nextAttemptAt: expect.any(String),
    });
    const second = await runConsumer([job], { ...EVENTS, attempts: 2 });
    expect(second.retryMessages).toHaveLength(1);
    expect(await delayOf(taskId, eventId)).toBeGreaterThanOrEqual(300);
    expect(await delayOf(taskId, eventId)).toBeLessThanOrEqual(360);
    const deliveries = await sinkDeliveries(taskId);
    expect(deliveries.map((d) => d.headers["webhook-id"])).toEqual([eventId, eventId]);
    for (const delivery of deliveries)
      expect(verifyWith(SECRET_B, delivery)).toMatchObject({ type: "task.failed" });
    expect(await eventOf(taskId)).toMatchObject({ state: "pending", attempts: 2 });
  });

  it("that gets a 429 with Retry-After waits as long as asked, within the queue's 12 hours", async () => {
    const { taskId, eventId, job } = await seedEvent();
    await scriptSink(taskId, [
      { status: 429, headers: { "Retry-After": "120" } },
      { status: 429, headers: { "Retry-After": "999999" } },
      { status: 503, headers: { "Retry-After": "1" } },
    ]);
    const asked = await runConsumer([job], { ...EVENTS, attempts: 1 });
    expect(asked.retryMessages).toHaveLength(1);
    expect(await delayOf(taskId, eventId)).toBe(120);
    await runConsumer([job], { ...EVENTS, attempts: 1 });
    expect(await delayOf(taskId, eventId)).toBe(12 * 3600);
    // A Retry-After shorter than the schedule does not hurry it (the 24-hour window stays).
    await runConsumer([job], { ...EVENTS, attempts: 3 });
    expect(await delayOf(taskId, eventId)).toBeGreaterThanOrEqual(1800);
    expect(await eventOf(taskId)).toMatchObject({ state: "pending", attempts: 3, lastStatus: 503 });
  });

  it("that gets a 410 stops at once: failed, acknowledged, never tried again", async () => {
    const { taskId, job } = await seedEvent();
    await scriptSink(taskId, [{ status: 410 }]);
    const result = await runConsumer([job], { ...EVENTS, attempts: 1 });
    expect(result.explicitAcks).toEqual(result.ids);
    expect(result.retryMessages).toEqual([]);
    expect(await eventOf(taskId)).toMatchObject({ state: "failed", attempts: 1, lastStatus: 410 });
    // A later copy of the message does nothing.
    const again = await runConsumer([job], { ...EVENTS, attempts: 2 });
    expect(again.explicitAcks).toEqual(again.ids);
    expect(await sinkDeliveries(taskId)).toHaveLength(1);
  });

  it("that gets a redirect does not follow it: a failure, retried", async () => {
    const { taskId, job } = await seedEvent();
    await scriptSink(taskId, [{ status: 302, headers: { Location: `${env.ORIGIN_URL}/events/moved` } }]);
    const result = await runConsumer([job], { ...EVENTS, attempts: 1 });
    expect(result.retryMessages).toHaveLength(1);
    expect(await eventOf(taskId)).toMatchObject({ state: "pending", lastStatus: 302 });
    expect((await eventOf(taskId))?.lastError).toMatch(/^302 .*redirects are not followed/);
    expect((await sinkDeliveries(taskId)).map((d) => d.path)).toEqual(["/events/sink"]);
  });

  it("that gets no answer within 15 s times out and is retried", async () => {
    const { taskId, job } = await seedEvent();
    await scriptSink(taskId, [{ status: 200, delayMs: 17_000 }]);
    const started = Date.now();
    const result = await runConsumer([job], { ...EVENTS, attempts: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(14_900);
    expect(Date.now() - started).toBeLessThan(17_000);
    expect(result.retryMessages).toHaveLength(1);
    expect(await eventOf(taskId)).toMatchObject({
      state: "pending",
      lastStatus: null,
      lastError: "timeout: no answer within 15 s",
    });
  }, 40_000);

  it("whose connection is refused is retried", async () => {
    const { taskId, job } = await seedEvent();
    const result = await runConsumer([job], {
      ...EVENTS,
      attempts: 1,
      vars: { EVENTS_URL: `${env.CLOSED_URL}/events` },
    });
    expect(result.retryMessages).toHaveLength(1);
    const event = await eventOf(taskId);
    expect(event).toMatchObject({ state: "pending", lastStatus: null });
    expect(event?.lastError).toMatch(/^network error/);
  });

  it("that succeeds marks the event delivered; a duplicate message then sends nothing", async () => {
    const { taskId, job } = await seedEvent();
    const result = await runConsumer([job], { ...EVENTS, attempts: 1 });
    expect(result.explicitAcks).toEqual(result.ids);
    expect(await eventOf(taskId)).toMatchObject({ state: "delivered", attempts: 1, lastStatus: 204 });
    const duplicate = await runConsumer([job], { ...EVENTS, attempts: 1 });
    expect(duplicate.explicitAcks).toEqual(duplicate.ids);
    expect(await sinkDeliveries(taskId)).toHaveLength(1);
  });
});

describe("exhaustion", () => {
  it("the eighth failed attempt goes to the dead-letter queue, whose consumer fails the event with the last error", async () => {
    const { taskId, job } = await seedEvent();
    await scriptSink(taskId, [{ status: 500 }]);
    const last = await runConsumer([job], { ...EVENTS, attempts: 8 });
    // Past max_retries = 7 the queue moves a retried message to stemvault-events-dlq.
    expect(last.retryMessages).toHaveLength(1);
    expect(await eventOf(taskId)).toMatchObject({ state: "pending", lastStatus: 500 });
    const dead = await runConsumer([job], { queue: "stemvault-events-dlq", attempts: 1 });
    expect(dead.explicitAcks).toEqual(dead.ids);
    expect(await eventOf(taskId)).toMatchObject({
      state: "failed",
      lastStatus: 500,
      lastError: "retries exhausted after 1 attempts: 500 Internal Server Error",
    });
  });

  it("an exhausted event whose dead letter never comes is failed by the alarm", async () => {
    const { taskId, eventId, job } = await seedEvent();
    await scriptSink(taskId, [{ status: 500 }]);
    await runConsumer([job], { ...EVENTS, attempts: 8 });
    const { runDurableObjectAlarm, runInDurableObject } = await import("cloudflare:test");
    const { taskStub } = await import("../../src/tasks/stub");
    await runInDurableObject(taskStub(env, taskId), (_, state) => {
      state.storage.sql.exec("UPDATE events SET next_attempt_at = next_attempt_at - 7200000");
    });
    await runDurableObjectAlarm(taskStub(env, taskId));
    expect(await eventOf(taskId)).toMatchObject({ state: "failed" });
    expect((await eventRow(taskId, eventId)).messages_sent).toBe(1); // nothing re-sent
  });
});

describe("no unsigned event", () => {
  it.each([
    ["no EVENTS_SECRET", ""],
    ["a secret without whsec_", "c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1BISE="],
    ["a secret of 8 bytes", "whsec_dG9vc2hvcnQ="],
  ])("with %s the event fails with events_not_configured and nothing is sent", async (_, secret) => {
    const { taskId, job } = await seedEvent();
    const result = await runConsumer([job], { ...EVENTS, attempts: 1, vars: { EVENTS_SECRET: secret } });
    expect(result.explicitAcks).toEqual(result.ids);
    const event = await eventOf(taskId);
    expect(event).toMatchObject({ state: "failed", lastStatus: null });
    expect(event?.lastError).toMatch(/^events_not_configured: EVENTS_SECRET /);
    expect(await sinkDeliveries(taskId)).toEqual([]);
  });
});

describe("the body's links", () => {
  const attempt = (origin: string | null): Extract<EventAttempt, { status: "attempt" }> => ({
    status: "attempt",
    taskId: "t1",
    origin,
    event: {
      id: "evt_00000000000000000000000000000000",
      type: "task.archived",
      createdAt: Date.UTC(2026, 10, 30, 12),
      data: JSON.stringify({
        taskId: "t1",
        assets: [
          { name: "video", state: "stored", key: "video/t1/video.mp4", url: null },
          { name: "cover", state: "failed", key: null, url: null },
        ],
      }),
    },
  });

  it("are based on PUBLIC_URL when set, else on the callbacks' origin", async () => {
    const withPublic = config({ ...env, PUBLIC_URL: "https://archive.example/" } as Env);
    const body = JSON.parse(await eventBody(withPublic, attempt("https://w.example"), Date.now()));
    expect(body.timestamp).toBe("2026-11-30T12:00:00.000Z");
    expect(body.data.assets[0].url).toMatch(
      /^https:\/\/archive\.example\/media\/video\/t1\/video\.mp4\?expires=\d+&sig=/,
    );
    expect(body.data.assets[1].url).toBeNull();
    const fallback = JSON.parse(
      await eventBody(config({ ...env } as Env), attempt("https://w.example"), Date.now()),
    );
    expect(fallback.data.assets[0].url).toMatch(/^https:\/\/w\.example\/media\/video\/t1\/video\.mp4\?/);
  });
});

it("every delivery is signed with both configured secrets", async () => {
  const { taskId, job } = await seedEvent();
  await runConsumer([job], { ...EVENTS, attempts: 1 });
  const [delivery] = await sinkDeliveries(taskId);
  expect(verifyWith(SECRET_A, delivery as never)).toEqual(verifyWith(SECRET_B, delivery as never));
});
