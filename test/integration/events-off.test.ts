import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { taskStub } from "../../src/tasks/stub";
import kieMusicError from "../../support/fixtures/kie.music.error.json";
import { getStatus, postCallback, request, uniqueId, withTaskId } from "../helpers/worker";

// This project has no EVENTS_URL: events are off.
it("records no event at all when EVENTS_URL is empty, and /healthz keeps the contract's plain answer", async () => {
  const taskId = uniqueId("off");
  expect((await postCallback(withTaskId(kieMusicError, taskId))).status).toBe(200);
  expect((await getStatus(taskId)).events).toEqual([]);
  const rows = await runInDurableObject(taskStub(env, taskId), (_, state) =>
    state.storage.sql.exec("SELECT COUNT(*) AS n FROM events").one(),
  );
  expect(rows.n).toBe(0);
  expect(await (await request("/healthz")).json()).toEqual({ ok: true, checks: ["token"] });
});
