// The README's receiver (examples/receive-events.ts) against real deliveries from the sink.

import { expect, it } from "vitest";
import { eventReceiver, type StemvaultEvent } from "../../examples/receive-events";
import kieMusicError from "../../support/fixtures/kie.music.error.json";
import { SECRET_A, SECRET_B, WRONG_SECRET, waitForDeliveries } from "../helpers/events";
import { postCallback, uniqueId, withTaskId } from "../helpers/worker";

it("verifies a real delivery with either rotated secret, handles it once, and refuses forgeries", async () => {
  const taskId = uniqueId("example");
  expect((await postCallback(withTaskId(kieMusicError, taskId))).status).toBe(200);
  const [delivery] = await waitForDeliveries(taskId);
  if (!delivery) throw new Error("no delivery");

  const handled: StemvaultEvent[] = [];
  const receive = eventReceiver(SECRET_B, (event) => {
    handled.push(event);
  });
  expect(await receive(delivery.body, delivery.headers)).toBe(200);
  expect(await receive(delivery.body, delivery.headers)).toBe(200); // a retry: deduplicated
  expect(handled).toHaveLength(1);
  expect(handled[0]).toMatchObject({ type: "task.failed", data: { taskId, state: "failed" } });

  expect(await eventReceiver(SECRET_A, () => {})(delivery.body, delivery.headers)).toBe(200);
  expect(await eventReceiver(WRONG_SECRET, () => {})(delivery.body, delivery.headers)).toBe(401);
  const tampered = delivery.body.replace('"failed"', '"succeeded"');
  expect(await eventReceiver(SECRET_A, () => {})(tampered, delivery.headers)).toBe(401);
  const { "webhook-signature": _, ...unsigned } = delivery.headers;
  expect(await eventReceiver(SECRET_A, () => {})(delivery.body, unsigned)).toBe(401);
});
