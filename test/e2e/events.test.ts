// Outbound events against a real `wrangler dev`: the local queue, the task objects and the
// consumer deliver to a real endpoint on 127.0.0.1 built on the README's receiver
// (examples/receive-events.ts via support/events-endpoint.ts), which verifies every delivery with
// the `standardwebhooks` library, here with the second of two rotated secrets.

import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { Client } from "../../support/client";
import { type DevServer, startDevServer } from "../../support/dev-server";
import { DEV_VARS } from "../../support/dev-vars";
import { DEV_EVENTS_SECRET, type EventsEndpoint, startEventsEndpoint } from "../../support/events-endpoint";
import { type Origin, startOrigin } from "../../support/origin";
import { planScenario, type RunResult, runScenario } from "../../support/scenario";

/** The secret being rotated in; DEV_EVENTS_SECRET is the one being rotated out. */
const NEW_SECRET = "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1CISE=";
const SIZES = { audio: 40_000, cover: 6_000, stemMin: 4_000, stemMax: 9_000, video: 300_000, wav: 50_000 };

let origin: Origin;
let endpoint: EventsEndpoint;
let server: DevServer;
let client: Client;
let result: RunResult;

beforeAll(async () => {
  origin = await startOrigin();
  endpoint = await startEventsEndpoint({ secret: NEW_SECRET });
  server = await startDevServer({
    logLevel: "warn",
    vars: { EVENTS_URL: endpoint.url, EVENTS_SECRET: `${DEV_EVENTS_SECRET},${NEW_SECRET}` },
  });
  client = Client.dev(server.url);
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => console.error(`wrangler dev output:\n${server?.output().trim()}`));
});

afterAll(async () => {
  await server?.stop();
  await endpoint?.close();
  await origin?.close();
});

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it("delivers one verified task.archived event per archived task, with working absolute links", async () => {
  expect(await (await fetch(`${server.url}/healthz`)).json()).toMatchObject({ ok: true, events: "on" });
  const scenario = planScenario({ originUrl: origin.url, sizes: SIZES });
  result = await runScenario({ client, scenario, timeoutMs: 60_000, pollMs: 100 });
  expect(result.problems).toEqual([]);
  const taskIds = scenario.tasks.map((task) => task.taskId);
  await until("an event per task", () =>
    taskIds.every((id) => endpoint.received.some((event) => event.taskId === id)) ? true : undefined,
  );
  for (const task of scenario.tasks) {
    const received = endpoint.received.filter((event) => event.taskId === task.taskId);
    expect(
      received.map(({ type, verified, duplicate, status }) => ({ type, verified, duplicate, status })),
    ).toEqual([{ type: "task.archived", verified: true, duplicate: false, status: 200 }]);
    const [event] = received;
    expect(event?.links).toHaveLength(task.files.length + task.made.length);
    for (const link of event?.links ?? []) expect(link.startsWith(`${server.url}/media/`)).toBe(true);
    const media = await fetch(event?.links[0] as string);
    expect(media.status).toBe(200);
    await media.arrayBuffer();
  }
  // The task knows: delivered, one attempt, the endpoint's 200.
  const status = result.tasks[0]?.status;
  const listed = (await (
    await fetch(`${server.url}/tasks/${status?.taskId}`, {
      headers: { authorization: `Bearer ${DEV_VARS.API_TOKEN}` },
    })
  ).json()) as { events: { id: string; state: string; attempts: number; lastStatus: number }[] };
  expect(listed.events).toEqual([
    expect.objectContaining({ state: "delivered", attempts: 1, lastStatus: 200 }),
  ]);
});

it("redelivers an event on request: the same webhook-id, verified again, handled once", async () => {
  const task = result.tasks[0]?.task;
  const first = endpoint.received.find((event) => event.taskId === task?.taskId);
  const response = await fetch(`${server.url}/tasks/${task?.taskId}/events/${first?.id}/redeliver`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_VARS.API_TOKEN}` },
  });
  expect(response.status).toBe(202);
  const again = await until("the redelivery", () =>
    endpoint.received.find((event) => event.id === first?.id && event.duplicate),
  );
  expect(again).toMatchObject({ verified: true, status: 200, type: "task.archived" });
});
