import { describe, expect, it } from "vitest";
import { SECRET_A, verifyWith, waitForDeliveries } from "../helpers/events";
import { postCallback, uniqueId } from "../helpers/worker";

describe("the callback.unrecognized event", () => {
  it("tells the backend of a callback of an unknown shape, with the raw body in the status JSON; once per body", async () => {
    const taskId = uniqueId("unrecognized");
    const raw = JSON.stringify({ code: 200, msg: "new", data: { task_id: taskId, whatever: [1, 2, 3] } });
    expect((await postCallback(null, { raw })).status).toBe(200);
    expect((await postCallback(null, { raw })).status).toBe(200); // a duplicate: no second event
    const [delivery] = await waitForDeliveries(taskId, 1);
    if (!delivery) throw new Error("no delivery");
    const event = verifyWith(SECRET_A, delivery) as unknown as {
      type: string;
      data: { taskId: string; kind: string; unrecognizedCallbacks: { route: string; body: string }[] };
    };
    expect(event.type).toBe("callback.unrecognized");
    expect(event.data).toMatchObject({
      taskId,
      kind: "unknown",
      unrecognizedCallbacks: [{ route: "/callbacks", body: raw }],
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await waitForDeliveries(taskId, 1)).toHaveLength(1);
  });
});
