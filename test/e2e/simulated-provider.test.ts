// End to end, outside workerd's test pool: the real `wrangler dev` (its own port and persistence
// folder), the local media origin, and the provider scenario of `npm run simulate`
// (tools/scenario.ts) with small files. Then every archived file is downloaded back through
// GET /media and compared byte for byte with what the origin served.

import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEV_VARS, type DevServer, isPortOpen, startDevServer } from "../../tools/dev-server";
import {
  absoluteLink,
  clientOf,
  fetchStatus,
  type MediaFile,
  planScenario,
  type Receiver,
  type RunResult,
  runScenario,
  type TaskStatus,
  TEST_SIZES,
} from "../../tools/scenario";
import { type Origin, startOrigin } from "../helpers/origin";
import { patternChunk, patternSha256 } from "../helpers/pattern";

/** The smallest multipart part size the Worker accepts, so the 12 MB video takes three parts. */
const PART_SIZE = 5 * 1024 * 1024;

let origin: Origin;
let server: DevServer;
let receiver: Receiver;
let result: RunResult;

beforeAll(async () => {
  origin = await startOrigin();
  server = await startDevServer({ logLevel: "warn", vars: { PART_SIZE_BYTES: String(PART_SIZE) } });
  receiver = { url: server.url, callbackToken: DEV_VARS.CALLBACK_TOKENS, apiToken: DEV_VARS.API_TOKEN };
});

// wrangler runs with --log-level warn; what it did print helps when a test fails.
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    const output = server?.output().trim();
    if (output) console.error(`wrangler dev output:\n${output}`);
  });
});

afterAll(async () => {
  await server?.stop();
  await origin?.close();
});

async function readAll(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** Size and SHA-256 of a response body, streamed (never held whole). */
async function digestBody(response: Response): Promise<{ size: number; sha256: string }> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  let size = 0;
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    hash.update(value);
  }
  return { size, sha256: hash.digest("hex") };
}

function storedAsset(status: TaskStatus, file: MediaFile) {
  const asset = status.assets.find((candidate) => candidate.name === file.asset);
  if (!asset?.key || !asset.url) throw new Error(`${status.taskId} ${file.asset} is not stored`);
  return { ...asset, key: asset.key, url: asset.url };
}

function outcomeOf(kind: string) {
  const outcome = result?.tasks.find((candidate) => candidate.task.kind === kind);
  if (!outcome?.status) throw new Error(`no ${kind} task in the scenario's result`);
  return { ...outcome, status: outcome.status };
}

describe("the receiver under wrangler dev, driven by the simulated provider", () => {
  it("archives a music task, a 12-stem separation and a video", async () => {
    const scenario = planScenario({ originUrl: origin.url, sizes: TEST_SIZES });
    result = await runScenario({ receiver, scenario, timeoutMs: 60_000, pollMs: 100 });

    expect(result.problems).toEqual([]);
    expect(result.steps.map(({ step, status, body }) => [step.label, status, body])).toEqual(
      scenario.steps.map((step) => [
        step.label,
        200,
        { status: "received", taskId: step.taskId, duplicate: step.duplicate },
      ]),
    );
    expect(result.tasks.map(({ task, status }) => [task.kind, status?.archive])).toEqual(
      scenario.tasks.map((task) => [
        task.kind,
        {
          state: "archived",
          stored: task.files.length,
          failed: 0,
          total: task.files.length,
          bytes: task.bytes,
        },
      ]),
    );
  });

  it("serves every archived file byte for byte through its signed link", async () => {
    for (const outcome of result.tasks) {
      for (const file of outcome.task.files) {
        const asset = storedAsset(outcome.status as TaskStatus, file);
        const link = absoluteLink(receiver, asset.url) as string;
        expect(link).toMatch(/\/media\/.+\?expires=\d+&sig=[\w-]+$/);
        const response = await fetch(link);
        expect(response.status, `${file.asset}: ${link}`).toBe(200);
        expect(response.headers.get("content-type")).toBe(file.contentType);
        expect(response.headers.get("content-length")).toBe(String(file.size));
        expect(response.headers.get("accept-ranges")).toBe("bytes");
        expect(await digestBody(response)).toEqual({
          size: file.size,
          sha256: await patternSha256(file.size, file.seed),
        });
      }
    }
  });

  it("serves a file with the bearer token alone, and nothing without either", async () => {
    for (const outcome of result.tasks) {
      const file = outcome.task.files[0] as MediaFile;
      const { key } = storedAsset(outcome.status as TaskStatus, file);
      const { response: withBearer } = await clientOf(receiver).GET("/media/{key}", {
        params: { path: { key } },
        parseAs: "stream",
      });
      expect(withBearer.status).toBe(200);
      expect(await digestBody(withBearer)).toEqual({
        size: file.size,
        sha256: await patternSha256(file.size, file.seed),
      });
      const anonymous = await fetch(`${receiver.url}/media/${key}`);
      expect(anonymous.status).toBe(401);
      await anonymous.arrayBuffer();
    }
  });

  it("answers a range across a multipart boundary with 206 and exactly those bytes", async () => {
    const video = outcomeOf("video");
    const file = video.task.files[0] as MediaFile;
    expect(file.chunked).toBe(true);
    expect(file.size).toBeGreaterThan(2 * PART_SIZE);
    const start = PART_SIZE - 1000;
    const end = PART_SIZE + 2999;
    const response = await fetch(absoluteLink(receiver, storedAsset(video.status, file).url) as string, {
      headers: { range: `bytes=${start}-${end}` },
    });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end}/${file.size}`);
    expect(response.headers.get("content-length")).toBe(String(end - start + 1));
    expect(Buffer.from(await readAll(response)).equals(patternChunk(start, end - start + 1, file.seed))).toBe(
      true,
    );
  });

  it("keeps the music task complete after the duplicate complete and the late first", async () => {
    const music = outcomeOf("music");
    const status = await fetchStatus(receiver, music.task.taskId);
    expect(status).toMatchObject({
      state: "succeeded",
      stage: "complete",
      providerMessage: "All generated successfully.",
      archive: { state: "archived", stored: 4, total: 4 },
    });
    // text, first and complete were recorded; the second complete and the late first were not.
    expect(status?.callbacks.duplicates).toBeGreaterThanOrEqual(2);
    expect((status?.callbacks.received ?? 0) - (status?.callbacks.duplicates ?? 0)).toBe(3);
    // The late `first` said track 2 had no duration yet; `complete` had the real one.
    expect(status?.tracks.map((track) => track.duration)).toEqual([198.44, 228.28]);
    expect(status?.assets.map((asset) => [asset.name, asset.state, asset.sha256])).toEqual(
      music.status.assets.map((asset) => [asset.name, "stored", asset.sha256]),
    );
  });

  it("fetched every file with a browser User-Agent, and never a stream URL or a source_* twin", () => {
    const requests = origin.log();
    for (const outcome of result.tasks) {
      for (const file of outcome.task.files) {
        const { pathname, search } = new URL(file.url);
        const gets = requests.filter(
          (entry) => entry.method === "GET" && entry.path === pathname && `?${entry.query}` === search,
        );
        expect(gets.length, file.asset).toBeGreaterThanOrEqual(1);
        for (const entry of gets) expect(entry.ua).toMatch(/^Mozilla\/5\.0 /);
      }
    }
    expect(requests.filter((entry) => /^\/(stream|source)\//.test(entry.path))).toEqual([]);
  });

  it("writes each task's manifest once it is settled", async () => {
    for (const outcome of result.tasks) {
      const key = `${outcome.task.kind}/${outcome.task.taskId}/manifest.json`;
      const get = async () =>
        (await clientOf(receiver).GET("/media/{key}", { params: { path: { key } }, parseAs: "stream" }))
          .response;
      let response = await get();
      for (let tries = 0; response.status === 404 && tries < 50; tries++) {
        await response.arrayBuffer();
        await new Promise((done) => setTimeout(done, 100));
        response = await get();
      }
      expect(response.status, key).toBe(200);
      const manifest = (await response.json()) as TaskStatus;
      expect(manifest).toMatchObject({ taskId: outcome.task.taskId, archive: { state: "archived" } });
      expect(manifest.assets.map((asset) => asset.sha256).sort()).toEqual(
        outcome.status?.assets.map((asset) => asset.sha256).sort(),
      );
    }
  });

  it("serves the committed OpenAPI document, valid OpenAPI 3.1", async () => {
    const { data, response } = await clientOf(receiver).GET("/openapi.json");
    expect(response.status).toBe(200);
    const committed = JSON.parse(readFileSync(new URL("../../openapi.json", import.meta.url), "utf8"));
    expect(data).toEqual(committed);
    const validation = await new Validator().validate(
      structuredClone(data) as Parameters<Validator["validate"]>[0],
    );
    expect(validation.valid).toBe(true);
  });

  it("lists the scenario's tasks from the index, newest first, on a fresh --persist-to folder", async () => {
    const client = clientOf(receiver);
    const runId = result.tasks[0]?.task.taskId.split("-")[1] as string;
    // The index reflects the last change within seconds of it.
    let tasks: { taskId: string; archive: { state: string } }[] = [];
    for (let tries = 0; tries < 100; tries++) {
      const { data } = await client.GET("/tasks", { params: { query: { q: `sim-${runId}-` } } });
      tasks = data?.tasks ?? [];
      if (tasks.length === 3 && tasks.every((task) => task.archive.state === "archived")) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(tasks.map((task) => task.taskId).sort()).toEqual(result.tasks.map((t) => t.task.taskId).sort());
    const { data: page, response } = await client.GET("/tasks", {
      params: { query: { q: `sim-${runId}-`, kind: "video", limit: 1 } },
    });
    expect(response.status).toBe(200);
    expect(page?.tasks.map((task) => [task.taskId, task.kind, task.archive.state])).toEqual([
      [outcomeOf("video").task.taskId, "video", "archived"],
    ]);
    expect(page?.nextCursor).toBeNull();
    const { error } = await client.GET("/tasks", { params: { query: { limit: 0 } } });
    expect(error?.error.code).toBe("invalid_query");
  });

  it("deletes a task: its files, its index row; afterwards 410, media 404, callbacks ignored", async () => {
    const client = clientOf(receiver);
    const video = outcomeOf("video");
    const taskId = video.task.taskId;
    const key = storedAsset(video.status, video.task.files[0] as MediaFile).key;
    const { data, response } = await client.DELETE("/tasks/{taskId}", { params: { path: { taskId } } });
    expect(response.status).toBe(200);
    expect(data).toEqual({ deleted: 2 }); // the video and its manifest
    const status = await client.GET("/tasks/{taskId}", { params: { path: { taskId } } });
    expect([status.response.status, status.error?.error.code]).toEqual([410, "task_deleted"]);
    const media = await client.GET("/media/{key}", { params: { path: { key } }, parseAs: "stream" });
    expect(media.response.status).toBe(404);
    const step = result.steps.find((candidate) => candidate.step.taskId === taskId)?.step;
    const late = await client.POST("/callbacks/{kind}", {
      params: { path: { kind: "video" } },
      body: step?.body as never,
    });
    expect(late.data).toEqual({ status: "received", taskId, duplicate: true });
    const listed = await client.GET("/tasks", { params: { query: { q: taskId } } });
    expect(listed.data?.tasks).toEqual([]);
    expect((await client.GET("/tasks/{taskId}", { params: { path: { taskId } } })).response.status).toBe(410);
  });

  it("stops wrangler by its process id and frees its port", async () => {
    await server.stop();
    expect(await isPortOpen(server.port)).toBe(false);
    // Nothing of wrangler's process group (its Node child, both workerd processes) is left.
    expect(() => process.kill(-server.pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });
});
