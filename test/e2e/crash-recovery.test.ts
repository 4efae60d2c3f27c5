// Fault injection against a real `wrangler dev`: slow downloads are in flight when the whole
// local runtime is killed (SIGKILL of wrangler's process group). Restarted on the same
// persistence folder, every task must be archived byte-exact within a bound: the download leases
// of the dead consumers end within a minute, and the tasks' alarms re-drive every asset whose
// lease died or whose queue message was lost with the runtime.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../support/dev-server";
import { DEV_VARS } from "../../support/dev-vars";
import { type Origin, startOrigin } from "../../support/origin";
import { mediaSha256 } from "../../support/pattern";

const TASKS = 6;
/** ~3 MiB at ~1 MiB/s: each download is still streaming when the runtime is killed. */
const SIZE = 3 * 1024 * 1024;
/** The lease (60 s) plus a slow download (~4 s) plus the alarm's and the runtime's start-up. */
const BOUND_MS = 120_000;

let origin: Origin;
let persistDir: string;
const servers: DevServer[] = [];

beforeAll(async () => {
  origin = await startOrigin();
  persistDir = mkdtempSync(join(tmpdir(), "stemvault-crash-"));
});

afterAll(async () => {
  for (const server of servers) await server.stop();
  await origin?.close();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
});

const start = async () => {
  const server = await startDevServer({ persistDir, logLevel: "warn" });
  servers.push(server);
  return server;
};

interface Status {
  archive: { state: string };
  assets: { state: string; bytes: number | null; sha256: string | null }[];
}

const statusOf = async (server: DevServer, taskId: string): Promise<Status> => {
  const response = await fetch(`${server.url}/tasks/${taskId}`, {
    headers: { authorization: `Bearer ${DEV_VARS.API_TOKEN}` },
  });
  if (response.status !== 200) throw new Error(`GET /tasks/${taskId}: ${response.status}`);
  return (await response.json()) as Status;
};

describe("a runtime killed with downloads in flight", () => {
  it("archives every task byte-exact after a restart on the same persistence folder", async () => {
    let server = await start();
    const runId = Date.now().toString(36);
    const tasks = Array.from({ length: TASKS }, (_, i) => ({ taskId: `crash-${runId}-${i}`, seed: 500 + i }));
    for (const { taskId, seed } of tasks) {
      const url = `${origin.url}/bytes/v-${taskId}.mp4?size=${SIZE}&seed=${seed}&chunk=65536&chunkDelayMs=60`;
      const response = await fetch(`${server.url}/callbacks/video?token=${DEV_VARS.CALLBACK_TOKENS}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: 200, msg: "success", data: { task_id: taskId, video_url: url } }),
      });
      expect(response.status).toBe(200);
    }
    // Wait until downloads are streaming, then kill everything at once.
    const deadline = Date.now() + 30_000;
    let states: string[] = [];
    while (Date.now() < deadline) {
      states = await Promise.all(
        tasks.map(async ({ taskId }) => (await statusOf(server, taskId)).assets[0]?.state ?? "none"),
      );
      if (states.includes("downloading")) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(states).toContain("downloading");
    expect(states).not.toContain("stored");
    await server.kill();

    const restartedAt = Date.now();
    server = await start();
    const pending = new Set(tasks.map((task) => task.taskId));
    while (pending.size > 0 && Date.now() - restartedAt < BOUND_MS) {
      for (const taskId of [...pending]) {
        if ((await statusOf(server, taskId)).archive.state === "archived") pending.delete(taskId);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const recoveredMs = Date.now() - restartedAt;
    console.log(
      `killed with assets ${states.join(", ")}; every task archived ${recoveredMs} ms after the restart`,
    );
    expect([...pending]).toEqual([]);

    for (const { taskId, seed } of tasks) {
      const expected = await mediaSha256("video.mp4", SIZE, seed);
      const status = await statusOf(server, taskId);
      expect(status.assets[0]).toMatchObject({ state: "stored", bytes: SIZE, sha256: expected });
      const media = await fetch(`${server.url}/media/video/${taskId}/video.mp4`, {
        headers: { authorization: `Bearer ${DEV_VARS.API_TOKEN}` },
      });
      const { createHash } = await import("node:crypto");
      const body = new Uint8Array(await media.arrayBuffer());
      expect(body.byteLength).toBe(SIZE);
      expect(createHash("sha256").update(body).digest("hex")).toBe(expected);
    }
  }, 240_000);
});
