// Fault injection against a real `wrangler dev`: the whole local runtime is killed (SIGKILL of
// wrangler's process group) the moment the last of a burst of callbacks has been answered 200 —
// before the work each answer hands on (queue messages, index row, events) has run, or while it
// runs: the index row waits at least a second after a change, so that part is always lost with
// the runtime, as is whatever the local queue held. Restarted on the same persistence folder,
// every answered task must still be archived, listed by the index and announced by a verified
// event: the task objects' alarms re-drive all of it from what the answer committed.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../support/client";
import { type DevServer, startDevServer } from "../../support/dev-server";
import { DEV_VARS } from "../../support/dev-vars";
import { DEV_EVENTS_SECRET, type EventsEndpoint, startEventsEndpoint } from "../../support/events-endpoint";
import { type Origin, startOrigin } from "../../support/origin";
import { mediaSha256 } from "../../support/pattern";

const ARCHIVED = 6;
const SIZE = 64 * 1024;
/** The outbox's grace for a lost message (60 s) plus the runtime's start-up and the archive. */
const BOUND_MS = 150_000;

let origin: Origin;
let endpoint: EventsEndpoint;
let persistDir: string;
const servers: DevServer[] = [];

beforeAll(async () => {
  origin = await startOrigin();
  endpoint = await startEventsEndpoint({ secret: DEV_EVENTS_SECRET });
  persistDir = mkdtempSync(join(tmpdir(), "stemvault-ack-crash-"));
});

afterAll(async () => {
  for (const server of servers) await server.stop();
  await endpoint?.close();
  await origin?.close();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
});

const start = async () => {
  const server = await startDevServer({
    persistDir,
    logLevel: "warn",
    vars: { EVENTS_URL: endpoint.url, EVENTS_SECRET: DEV_EVENTS_SECRET },
  });
  servers.push(server);
  return server;
};

describe("a runtime killed right after it answered", () => {
  it("archives, indexes and announces every task it answered 200, after a restart", async () => {
    let server = await start();
    const runId = Date.now().toString(36);
    const archived = Array.from({ length: ARCHIVED }, (_, i) => ({
      taskId: `ack-${runId}-${i}`,
      seed: 700 + i,
    }));
    // A provider failure settles its task in the callback's own transaction: its event is
    // recorded there and sent only after the answer.
    const failedId = `ack-${runId}-failed`;
    const bodies = [
      ...archived.map(({ taskId, seed }) => ({
        code: 200,
        msg: "success",
        data: { task_id: taskId, video_url: `${origin.url}/bytes/v-${taskId}.mp4?size=${SIZE}&seed=${seed}` },
      })),
      { code: 500, msg: "generation failed", data: { task_id: failedId, video_url: null } },
    ];
    const answers = await Promise.all(
      bodies.map((body) =>
        fetch(`${server.url}/callbacks/video?token=${DEV_VARS.CALLBACK_TOKENS}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
      ),
    );
    await server.kill();
    expect(answers.map((answer) => answer.status)).toEqual(bodies.map(() => 200));
    const eventsBeforeRestart = endpoint.received.length;

    const restartedAt = Date.now();
    server = await start();
    const client = Client.dev(server.url);
    const taskIds = [...archived.map((task) => task.taskId), failedId];
    const done = new Set<string>();
    while (done.size < taskIds.length && Date.now() - restartedAt < BOUND_MS) {
      const { data: listed } = await client.api.GET("/tasks", {
        params: { query: { q: `ack-${runId}`, limit: 50 } },
      });
      for (const taskId of taskIds) {
        const row = listed?.tasks.find((task) => task.taskId === taskId);
        const announced = endpoint.received.some((event) => event.taskId === taskId && event.verified);
        if (row && row.archive.state !== "none" && row.archive.state !== "archiving" && announced)
          done.add(taskId);
        if (taskId === failedId && row?.state === "failed" && announced) done.add(taskId);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    console.log(
      `killed right after ${bodies.length} answers (${eventsBeforeRestart} events got out before); ` +
        `all archived, indexed and announced ${Date.now() - restartedAt} ms after the restart`,
    );
    expect(taskIds.filter((taskId) => !done.has(taskId))).toEqual([]);

    for (const { taskId, seed } of archived) {
      const status = await client.status(taskId);
      expect(status?.assets[0]).toMatchObject({
        state: "stored",
        bytes: SIZE,
        sha256: await mediaSha256("video.mp4", SIZE, seed),
      });
      const events = endpoint.received.filter((event) => event.taskId === taskId);
      expect(events.map(({ type, verified }) => ({ type, verified }))).toContainEqual({
        type: "task.archived",
        verified: true,
      });
    }
    expect((await client.status(failedId))?.state).toBe("failed");
    expect(
      endpoint.received.filter((event) => event.taskId === failedId).map((event) => event.type),
    ).toContain("task.failed");
  }, 240_000);
});
