// End to end, outside workerd's test pool: the real `wrangler dev` (its own port and persistence
// folder, the development settings of `npm run dev`), the local media origin, and the provider
// scenario of `npm run simulate` (support/scenario.ts) with small files, played once in
// `beforeAll`. Each test then checks one thing of the result or asks the running Worker itself.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Client, type TaskStatus } from "../../support/client";
import { type DevServer, startDevServer } from "../../support/dev-server";
import { mediaUrl } from "../../support/media-url";
import { type Origin, startOrigin } from "../../support/origin";
import { mediaChunk, mediaSha256 } from "../../support/pattern";
import {
  isAsset,
  type MadeFile,
  type MediaFile,
  planScenario,
  type RunResult,
  runScenario,
  type Scenario,
  TEST_SIZES,
} from "../../support/scenario";
import { readZip, sha256Hex } from "../../support/zip";

/** The smallest multipart part size the Worker accepts, so the 12 MB video takes three parts. */
const PART_SIZE = 5 * 1024 * 1024;

let origin: Origin;
let server: DevServer;
let client: Client;
let scenario: Scenario;
let result: RunResult;

beforeAll(async () => {
  origin = await startOrigin();
  server = await startDevServer({ logLevel: "warn", vars: { PART_SIZE_BYTES: String(PART_SIZE) } });
  client = Client.dev(server.url);
  scenario = planScenario({ originUrl: origin.url, sizes: TEST_SIZES });
  result = await runScenario({ client, scenario, timeoutMs: 60_000, pollMs: 100 });
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

/** Size and SHA-256 of a response body, streamed (never held whole). */
async function digestBody(response: Response): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of response.body as ReadableStream<Uint8Array>) {
    size += chunk.byteLength;
    hash.update(chunk);
  }
  return { size, sha256: hash.digest("hex") };
}

const served = async (file: MediaFile) => ({
  size: file.size,
  sha256: await mediaSha256(file.name, file.size, file.seed),
});

function storedAsset(status: TaskStatus | null, file: MediaFile) {
  const asset = status?.assets.find(isAsset(file));
  if (!asset?.key || !asset.url) throw new Error(`${status?.taskId} ${file.asset} is not stored`);
  return { ...asset, key: asset.key, url: asset.url };
}

/** What the receiver's own files of a task came to (known only once it made them). */
function madeBytes(status: TaskStatus | null, made: MadeFile[]): number {
  return made.reduce(
    (sum, file) => sum + (status?.assets.find((asset) => asset.key === file.archiveKey)?.bytes ?? 0),
    0,
  );
}

function outcomeOf(kind: string) {
  const outcome = result.tasks.find((candidate) => candidate.task.kind === kind);
  if (!outcome?.status) throw new Error(`no ${kind} task in the scenario's result`);
  return { ...outcome, status: outcome.status };
}

describe("the receiver under wrangler dev, driven by the simulated provider", () => {
  it("answers every callback with 200, the repeated ones as duplicates", () => {
    expect(result.steps.map(({ step, status, body }) => [step.label, status, body])).toEqual(
      scenario.steps.map((step) => [
        step.label,
        200,
        { status: "received", taskId: step.taskId, duplicate: step.duplicate },
      ]),
    );
  });

  it("archives a task of each of the seven kinds, each file with its size and SHA-256", () => {
    expect(result.problems).toEqual([]);
    expect(result.tasks.map(({ task }) => task.kind)).toEqual([
      "music",
      "separation",
      "video",
      "wav",
      "cover",
      "lyrics",
      "midi",
    ]);
    expect(result.tasks.map(({ task, status }) => [task.kind, status?.kind, status?.archive])).toEqual(
      result.tasks.map(({ task, status }) => [
        task.kind,
        task.kind,
        {
          state: "archived",
          stored: task.files.length + task.made.length,
          failed: 0,
          total: task.files.length + task.made.length,
          bytes: task.bytes + madeBytes(status, task.made),
        },
      ]),
    );
  });

  it("makes lyrics.json, notes.mid and notes.json, served with the SHA-256 it recorded", async () => {
    const made = result.tasks.flatMap((outcome) => outcome.task.made.map((file) => ({ outcome, file })));
    expect(made.map(({ file }) => file.archiveKey.split("/").pop())).toEqual([
      "lyrics.json",
      "notes.mid",
      "notes.json",
    ]);
    const bodies = new Map<string, Buffer>();
    for (const { outcome, file } of made) {
      const asset = outcome.status?.assets.find((candidate) => candidate.key === file.archiveKey);
      expect(asset, file.archiveKey).toMatchObject({
        role: file.role,
        state: "stored",
        contentType: file.contentType,
      });
      const response = await fetch(client.link(asset?.url as string));
      expect(response.status, file.archiveKey).toBe(200);
      expect(response.headers.get("content-type")).toMatch(new RegExp(`^${file.contentType}`));
      expect(response.headers.get("content-disposition")).toMatch(/^attachment/);
      const body = Buffer.from(await response.arrayBuffer());
      expect(body.length).toBe(asset?.bytes);
      expect(createHash("sha256").update(body).digest("hex")).toBe(asset?.sha256);
      bodies.set(file.role, body);
    }
    // What they hold: every lyrics text, a Standard MIDI File, the notes as the provider sent them.
    const bodyOf = (kind: string) =>
      scenario.steps.find((step) => step.taskId === outcomeOf(kind).task.taskId)?.body as unknown;
    const texts = (bodyOf("lyrics") as { data: { data: { text: string; title: string }[] } }).data.data;
    const lyricsJson = JSON.stringify(JSON.parse(bodies.get("lyrics")?.toString("utf8") ?? "null"));
    for (const { text, title } of texts) {
      expect(lyricsJson).toContain(JSON.stringify(text));
      expect(lyricsJson).toContain(JSON.stringify(title));
    }
    expect(bodies.get("midi")?.subarray(0, 4).toString("latin1")).toBe("MThd");
    const instruments = (bodyOf("midi") as { data: { instruments: { name: string }[] } }).data.instruments;
    const notesJson = JSON.stringify(JSON.parse(bodies.get("notes")?.toString("utf8") ?? "null"));
    for (const { name } of instruments) expect(notesJson).toContain(JSON.stringify(name));
  });

  it("serves every archived file byte for byte through its signed link", async () => {
    for (const outcome of result.tasks) {
      for (const file of outcome.task.files) {
        const link = client.link(storedAsset(outcome.status, file).url);
        expect(link).toMatch(/\/media\/.+\?expires=\d+&sig=[\w-]+$/);
        const response = await fetch(link);
        expect(response.status, `${file.asset}: ${link}`).toBe(200);
        expect(response.headers.get("content-type")).toBe(file.type);
        expect(response.headers.get("content-length")).toBe(String(file.size));
        expect(response.headers.get("accept-ranges")).toBe("bytes");
        expect(await digestBody(response)).toEqual(await served(file));
      }
    }
  });

  it("serves a file with the bearer token alone, and nothing without either", async () => {
    for (const outcome of result.tasks) {
      const file = outcome.task.files[0];
      if (!file) continue;
      const { key } = storedAsset(outcome.status, file);
      const withBearer = await client.request(`/media/${key}`, { headers: client.bearer });
      expect(withBearer.status).toBe(200);
      expect(await digestBody(withBearer)).toEqual(await served(file));
      const anonymous = await client.request(`/media/${key}`);
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
    const response = await fetch(client.link(storedAsset(video.status, file).url), {
      headers: { range: `bytes=${start}-${end}` },
    });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end}/${file.size}`);
    expect(response.headers.get("content-length")).toBe(String(end - start + 1));
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(
      mediaChunk(file.name, start, end - start + 1, file.seed),
    );
  });

  it("keeps the music task complete after the duplicate complete and the late first", async () => {
    const music = outcomeOf("music");
    const status = await client.status(music.task.taskId);
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
    const gets = (url: string) => {
      const { pathname, search } = new URL(url);
      return requests.filter(
        (entry) => entry.method === "GET" && entry.path === pathname && `?${entry.query}` === search,
      );
    };
    for (const { task } of result.tasks) {
      for (const file of task.files) {
        expect(gets(file.url).length, file.asset).toBeGreaterThanOrEqual(1);
        for (const entry of gets(file.url)) expect(entry.ua).toMatch(/^Mozilla\/5\.0 /);
      }
      for (const twin of task.twins) expect(gets(twin.url), twin.key).toEqual([]);
    }
    expect(scenario.tasks.flatMap((task) => task.twins)).toHaveLength(4);
    expect(origin.log("/stream/")).toEqual([]);
  });

  it("writes each task's manifest once it is settled", async () => {
    for (const outcome of result.tasks) {
      const key = `${outcome.task.kind}/${outcome.task.taskId}/manifest.json`;
      let response = await client.request(`/media/${key}`, { headers: client.bearer });
      for (let tries = 0; response.status === 404 && tries < 50; tries++) {
        await response.arrayBuffer();
        await new Promise((done) => setTimeout(done, 100));
        response = await client.request(`/media/${key}`, { headers: client.bearer });
      }
      expect(response.status, key).toBe(200);
      const manifest = (await response.json()) as TaskStatus;
      expect(manifest).toMatchObject({ taskId: outcome.task.taskId, archive: { state: "archived" } });
      expect(manifest.assets.map((asset) => asset.sha256).sort()).toEqual(
        outcome.status?.assets.map((asset) => asset.sha256).sort(),
      );
    }
  });

  it("downloads the separation as one ZIP through its signed link, which unzip -t finds sound", async () => {
    const { status: settledStatus, task } = outcomeOf("separation");
    const status = await client.status(settledStatus.taskId);
    const link = status?.bundle?.url as string;
    expect(link).toMatch(/\/bundle\.zip\?expires=\d+&sig=/);
    const response = await client.request(link);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${task.taskId}.zip"`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(bytes.byteLength).toBe(status?.bundle?.bytes);
    expect(Number(response.headers.get("content-length"))).toBe(bytes.byteLength);

    // The system's Info-ZIP checks every entry's CRC-32 and the archive's structure.
    const dir = mkdtempSync(join(tmpdir(), "stemvault-bundle-"));
    try {
      const file = join(dir, `${task.taskId}.zip`);
      writeFileSync(file, bytes);
      const tested = spawnSync("unzip", ["-t", file], { encoding: "utf8" });
      if (tested.error) throw new Error(`unzip is needed (apt-get install unzip): ${tested.error.message}`);
      expect(tested.status, tested.stdout + tested.stderr).toBe(0);
      expect(tested.stdout).toContain("No errors detected");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // The typed client's bearer download is the very same archive, byte for byte.
    const viaBearer = await client.bundle(task.taskId);
    expect(Buffer.from(await viaBearer.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);

    const entries = readZip(bytes);
    expect(entries.map((entry) => entry.name).sort()).toEqual(
      [...task.files.map((file) => `${file.asset}.mp3`), "manifest.json"].sort(),
    );
    for (const file of task.files) {
      const entry = entries.find((candidate) => candidate.name === `${file.asset}.mp3`);
      expect({ size: entry?.bytes.byteLength, sha256: await sha256Hex(entry?.bytes as Uint8Array) }).toEqual(
        await served(file),
      );
    }
  });

  it("takes only the development callback token of npm run dev, and records nothing otherwise", async () => {
    const taskId = `e2e-token-${Date.now().toString(36)}`;
    const videoUrl = mediaUrl(origin.url, { name: "token.mp4", size: 1000, seed: 7, type: "video/mp4" });
    const callback = {
      code: 200,
      msg: "MP4 generated successfully.",
      data: { task_id: taskId, video_url: videoUrl },
    };
    for (const token of ["test-token-a", null]) {
      const response = await client.postCallback(callback, { token });
      expect(response.status, String(token)).toBe(401);
      await response.arrayBuffer();
    }
    expect(await client.status(taskId)).toBeNull();
    const accepted = await client.postCallback(callback);
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ status: "received", taskId, duplicate: false });
  });

  it("serves the committed OpenAPI document, valid OpenAPI 3.1", async () => {
    const { data, response } = await client.api.GET("/openapi.json");
    expect(response.status).toBe(200);
    const committed = JSON.parse(readFileSync(new URL("../../openapi.json", import.meta.url), "utf8"));
    expect(data).toEqual(committed);
    const validation = await new Validator().validate(
      structuredClone(data) as Parameters<Validator["validate"]>[0],
    );
    expect(validation.valid).toBe(true);
  });

  it("lists the scenario's tasks from the index, newest first, on a fresh --persist-to folder", async () => {
    const prefix = (outcomeOf("video").task.taskId.match(/^(.*-)[^-]+$/) as RegExpMatchArray)[1] as string;
    // The index reflects the last change within seconds of it.
    let tasks: { taskId: string; archive: { state: string } }[] = [];
    for (let tries = 0; tries < 100; tries++) {
      const { data } = await client.api.GET("/tasks", { params: { query: { q: prefix } } });
      tasks = data?.tasks ?? [];
      if (tasks.length === scenario.tasks.length && tasks.every((task) => task.archive.state === "archived"))
        break;
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(tasks.map((task) => task.taskId).sort()).toEqual(result.tasks.map((t) => t.task.taskId).sort());
    const { data: page, response } = await client.api.GET("/tasks", {
      params: { query: { q: prefix, kind: "video", limit: 1 } },
    });
    expect(response.status).toBe(200);
    expect(page?.tasks.map((task) => [task.taskId, task.kind, task.archive.state])).toEqual([
      [outcomeOf("video").task.taskId, "video", "archived"],
    ]);
    expect(page?.nextCursor).toBeNull();
    const { error } = await client.api.GET("/tasks", { params: { query: { limit: 0 } } });
    expect(error?.error.code).toBe("invalid_query");
  });

  // Last: it deletes the scenario's video task.
  it("deletes a task: its files, its index row; afterwards 410, media 404, callbacks ignored", async () => {
    const video = outcomeOf("video");
    const taskId = video.task.taskId;
    const key = storedAsset(video.status, video.task.files[0] as MediaFile).key as string;
    const { data, response } = await client.api.DELETE("/tasks/{taskId}", { params: { path: { taskId } } });
    expect(response.status).toBe(200);
    expect(data).toEqual({ deleted: 2 }); // the video and its manifest
    const status = await client.api.GET("/tasks/{taskId}", { params: { path: { taskId } } });
    expect([status.response.status, status.error?.error.code]).toEqual([410, "task_deleted"]);
    const media = await client.request(`/media/${key}`, { headers: client.bearer });
    expect(media.status).toBe(404);
    await media.arrayBuffer();
    const step = result.steps.find((candidate) => candidate.step.taskId === taskId)?.step;
    const late = await client.postCallback(step?.body, { kind: "video" });
    expect(await late.json()).toEqual({ status: "received", taskId, duplicate: true });
    // The index row goes within seconds of the delete.
    let listed: unknown[] | undefined;
    for (let tries = 0; tries < 100; tries++) {
      listed = (await client.api.GET("/tasks", { params: { query: { q: taskId } } })).data?.tasks;
      if (listed?.length === 0) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(listed).toEqual([]);
  });
});
