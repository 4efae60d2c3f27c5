// Outbound events end to end inside workerd: the real task objects, the real local queues
// (stemvault-events and its DLQ) and R2, and a real HTTP endpoint (the origin's /events sink).
// Every delivery is verified with the `standardwebhooks` npm library, the receiver's side.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { taskStub } from "../../src/tasks/stub";
import kieMusicError from "../../support/fixtures/kie.music.error.json";
import {
  eventRow,
  SECRET_A,
  SECRET_B,
  scriptSink,
  sinkDeliveries,
  verifyWith,
  WRONG_SECRET,
  waitForDeliveries,
  waitForEvents,
} from "../helpers/events";
import { originBytes } from "../helpers/media";
import { archiveUrl, runConsumer } from "../helpers/tasks";
import { bearer, getStatus, postCallback, request, uniqueId, withTaskId } from "../helpers/worker";

let seed = 7300;
const nextSeed = () => seed++;

const failAtProvider = async () => {
  const taskId = uniqueId("fail");
  const response = await postCallback(withTaskId(kieMusicError, taskId));
  expect(response.status).toBe(200);
  return taskId;
};

describe("an event when a task settles", () => {
  it("reaches the endpoint signed with every secret: each verifies alone, a wrong one does not", async () => {
    const { taskId, asset } = await archiveUrl(
      originBytes(`ev-${nextSeed()}.mp3`, 4000, 3, { type: "audio/mpeg" }),
    );
    const [delivery] = await waitForDeliveries(taskId);
    if (!delivery) throw new Error("no delivery");
    expect(delivery.headers["content-type"]).toBe("application/json");
    expect(delivery.headers["webhook-id"]).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(Math.abs(Number(delivery.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    const signatures = (delivery.headers["webhook-signature"] as string).split(" ");
    expect(signatures).toHaveLength(2);
    expect(signatures.every((signature) => /^v1,[A-Za-z0-9+/]{43}=$/.test(signature))).toBe(true);

    const event = verifyWith(SECRET_A, delivery);
    expect(verifyWith(SECRET_B, delivery)).toEqual(event);
    expect(() => verifyWith(WRONG_SECRET, delivery)).toThrow(/No matching signature/);
    // Anything changed after signing fails too.
    expect(() =>
      verifyWith(SECRET_A, { ...delivery, body: delivery.body.replace("archived", "failed") }),
    ).toThrow();

    expect(Object.keys(JSON.parse(delivery.body))).toEqual(["type", "timestamp", "data"]);
    expect(event).toMatchObject({ type: "task.archived", data: { taskId, archive: { state: "archived" } } });
    expect(new Date(event.timestamp).toISOString()).toBe(event.timestamp);
    expect(event.data).not.toHaveProperty("events");
    // The link is absolute (on the origin the callback arrived at), signed, and it works.
    const url = event.data.assets[0]?.url as string;
    expect(url).toMatch(
      new RegExp(`^https://stemvault\\.test/media/${asset.key}\\?expires=\\d+&sig=[\\w-]+$`),
    );
    const media = await exports.default.fetch(new Request(url));
    expect(media.status).toBe(200);
    expect((await media.arrayBuffer()).byteLength).toBe(4000);

    const events = await waitForEvents(taskId, (list) => list[0]?.state === "delivered");
    expect(events).toEqual([
      {
        id: delivery.headers["webhook-id"],
        type: "task.archived",
        state: "delivered",
        attempts: 1,
        lastStatus: 204,
        lastError: null,
        createdAt: expect.any(String),
        deliveredAt: expect.any(String),
        nextAttemptAt: null,
      },
    ]);
  });

  it("is task.failed when the provider reports a failure, even with no asset at all; once only", async () => {
    const taskId = await failAtProvider();
    const [delivery] = await waitForDeliveries(taskId);
    const event = verifyWith(SECRET_B, delivery as never);
    expect(event).toMatchObject({
      type: "task.failed",
      data: {
        taskId,
        state: "failed",
        stage: "error",
        providerCode: 501,
        archive: { state: "none" },
        assets: [],
      },
    });
    // The same callback again changes nothing, so no second event.
    expect((await postCallback(withTaskId(kieMusicError, taskId))).status).toBe(200);
    await waitForEvents(taskId, (list) => list[0]?.state === "delivered");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await sinkDeliveries(taskId)).toHaveLength(1);
  });

  it("is task.failed when an asset failed; a retry that archives it sends task.archived with a new id", async () => {
    const url = `${env.ORIGIN_URL}/flaky/ev-${nextSeed()}/a.mp3?fail=1&status=404&size=2500&seed=4`;
    const { taskId, status } = await archiveUrl(url);
    expect(status.archive.state).toBe("failed");
    const [first] = await waitForDeliveries(taskId);
    expect(verifyWith(SECRET_A, first as never)).toMatchObject({ type: "task.failed" });

    const retry = await request(`/tasks/${taskId}/retry`, { method: "POST", headers: bearer });
    expect(retry.status).toBe(202);
    const deliveries = await waitForDeliveries(taskId, 2);
    const second = deliveries[1] as never;
    expect(verifyWith(SECRET_A, second)).toMatchObject({
      type: "task.archived",
      data: { archive: { state: "archived" } },
    });
    expect(deliveries[1]?.headers["webhook-id"]).not.toBe(deliveries[0]?.headers["webhook-id"]);
    const events = await waitForEvents(
      taskId,
      (list) => list.length === 2 && list.every((e) => e.state === "delivered"),
    );
    expect(events.map((event) => [event.type, event.id])).toEqual([
      ["task.failed", deliveries[0]?.headers["webhook-id"]],
      ["task.archived", deliveries[1]?.headers["webhook-id"]],
    ]);
  });
});

describe("redelivery", () => {
  it("sends the same event again (same webhook-id and body, fresh timestamp and signature), whatever its state", async () => {
    const taskId = await failAtProvider();
    const [event] = await waitForEvents(taskId, (list) => list[0]?.state === "delivered");
    const eventId = event?.id as string;
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a new second for the timestamp

    const response = await request(`/tasks/${taskId}/events/${eventId}/redeliver`, {
      method: "POST",
      headers: bearer,
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ taskId, event: { id: eventId, state: "pending" } });
    const [first, second] = await waitForDeliveries(taskId, 2);
    if (!first || !second) throw new Error("two deliveries expected");
    expect(second.headers["webhook-id"]).toBe(eventId);
    expect(second.body).toBe(first.body);
    expect(Number(second.headers["webhook-timestamp"])).toBeGreaterThan(
      Number(first.headers["webhook-timestamp"]),
    );
    expect(second.headers["webhook-signature"]).not.toBe(first.headers["webhook-signature"]);
    expect(verifyWith(SECRET_A, second)).toMatchObject({ type: "task.failed" });
    const [after] = await waitForEvents(
      taskId,
      (list) => list[0]?.attempts === 2 && list[0].state === "delivered",
    );
    expect(after).toMatchObject({ id: eventId, lastStatus: 204 });
  });

  it("answers 404 for an unknown task or event, 401 without the bearer token", async () => {
    const taskId = await failAtProvider();
    const unknownEvent = await request(`/tasks/${taskId}/events/evt_nope/redeliver`, {
      method: "POST",
      headers: bearer,
    });
    expect(unknownEvent.status).toBe(404);
    expect(((await unknownEvent.json()) as { error: { code: string } }).error.code).toBe("event_not_found");
    const unknownTask = await request(`/tasks/${uniqueId("none")}/events/evt_nope/redeliver`, {
      method: "POST",
      headers: bearer,
    });
    expect(unknownTask.status).toBe(404);
    expect(((await unknownTask.json()) as { error: { code: string } }).error.code).toBe("task_not_found");
    expect((await request(`/tasks/${taskId}/events/evt_nope/redeliver`, { method: "POST" })).status).toBe(
      401,
    );
  });
});

describe("the outbox", () => {
  it("keeps an event whose queue send failed, and the alarm sends it (same id)", async () => {
    const taskId = uniqueId("sendfail");
    const stub = taskStub(env, taskId);
    await runInDurableObject(stub, (instance) => {
      const queue = (instance as unknown as { env: Env }).env.EVENTS_QUEUE;
      vi.spyOn(queue, "sendBatch").mockRejectedValueOnce(new Error("queue unavailable"));
    });
    expect((await postCallback(withTaskId(kieMusicError, taskId))).status).toBe(200);
    const [event] = (await getStatus(taskId)).events;
    expect(event).toMatchObject({ state: "pending" });
    const row = await eventRow(taskId, event?.id as string);
    expect(row).toMatchObject({ sent: 0, messages_sent: 0, send_until: null });
    const alarm = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect((alarm as number) - Date.now()).toBeLessThanOrEqual(10_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await sinkDeliveries(taskId)).toEqual([]);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const [delivery] = await waitForDeliveries(taskId);
    expect(delivery?.headers["webhook-id"]).toBe(event?.id);
    expect(verifyWith(SECRET_A, delivery as never)).toMatchObject({ type: "task.failed" });
    const events = await waitForEvents(taskId, (list) => list[0]?.state === "delivered");
    expect(events).toHaveLength(1);
    expect((await eventRow(taskId, event?.id as string)).messages_sent).toBe(1);
  });

  it("re-sends a message that never arrived, and the stale one is skipped if it turns up", async () => {
    const taskId = uniqueId("lost");
    await scriptSink(taskId, [{ status: 503 }, { status: 200 }]);
    expect((await postCallback(withTaskId(kieMusicError, taskId))).status).toBe(200);
    const [pending] = await waitForEvents(taskId, (list) => list[0]?.attempts === 1);
    const eventId = pending?.id as string;
    // The redelivery the consumer asked for (5 s) is "lost": time passes beyond its grace.
    const stub = taskStub(env, taskId);
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec(
        "UPDATE events SET next_attempt_at = next_attempt_at - 3600000, updated_at = updated_at - 3600000",
      );
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const events = await waitForEvents(taskId, (list) => list[0]?.state === "delivered");
    expect(events[0]).toMatchObject({ id: eventId, attempts: 2, lastStatus: 200 });
    expect((await eventRow(taskId, eventId)).messages_sent).toBe(2);
    expect((await sinkDeliveries(taskId)).map((d) => d.headers["webhook-id"])).toEqual([eventId, eventId]);
    // The first message, had it only been late, is now stale: acknowledged, nothing sent.
    const stale = await runConsumer([{ taskId, eventId, message: 1 }], {
      queue: "stemvault-events",
      attempts: 2,
    });
    expect(stale.explicitAcks).toEqual(stale.ids);
    expect(await sinkDeliveries(taskId)).toHaveLength(2);
  });

  it("acknowledges a malformed message, on the queue and its dead-letter queue, instead of retrying it", async () => {
    const bodies = [{ taskId: "../etc", eventId: "evt_1", message: 1 }, { eventId: 42 }, "text"];
    for (const queue of ["stemvault-events", "stemvault-events-dlq"]) {
      const result = await runConsumer(bodies, { queue });
      expect(result.explicitAcks.sort()).toEqual(result.ids.sort());
      expect(result.retryMessages).toEqual([]);
    }
  });
});
