import { env } from "cloudflare:workers";
import MidiParser from "midi-parser-js";
import { describe, expect, it } from "vitest";
import { MIDI_BPM, MIDI_PPQ } from "../../src/media/made-files";
import type { TaskStatus } from "../../src/tasks/status";
import { taskStub } from "../../src/tasks/stub";
import { fixtures, getFixture } from "../../support/fixtures";
import type { ServedFile } from "../../support/fixtures/rewrite";
import { listTasks, waitForIndexedStatus } from "../helpers/index";
import { atOrigin, expectedSha256, originBytes, r2Sha256 } from "../helpers/media";
import {
  bearer,
  getStatus,
  postCallback,
  request,
  uniqueId,
  waitForStatus,
  withTaskId,
} from "../helpers/worker";

const allStored = (status: TaskStatus) =>
  status.assets.length > 0 && status.assets.every((asset) => asset.state === "stored");

/** Posts a fixture under a fresh task id, its media served by the local origin. */
async function post(file: string, options: { kind?: string } = {}) {
  const fixture = getFixture(file);
  const taskId = uniqueId(fixture.kind);
  const { body, files } = atOrigin(withTaskId(fixture.body, taskId));
  const response = await postCallback(body, { kind: options.kind });
  expect(response.status, file).toBe(200);
  return { taskId, body, files };
}

/** Every stored asset's R2 object holds exactly the bytes its origin URL served. */
async function expectArchived(status: TaskStatus, files: Map<string, ServedFile>) {
  for (const asset of status.assets) {
    const file = files.get(asset.sourceUrl ?? "");
    if (!file) throw new Error(`no origin file for ${asset.sourceUrl}`);
    const object = await r2Sha256(asset.key as string);
    expect(object, asset.name).toMatchObject({ size: file.size, sha256: expectedSha256(file) });
    expect(asset).toMatchObject({ bytes: file.size, sha256: expectedSha256(file) });
  }
}

describe("the rest of the callback family archives as documented", () => {
  const downloaded = fixtures.filter(
    (fixture) => fixture.outcome === "success" && ["wav", "cover"].includes(fixture.kind),
  );

  it.each(downloaded.map((fixture) => [fixture.file]))("archives %s under its kind's keys", async (file) => {
    const { taskId, files } = await post(file);
    const status = await waitForStatus(taskId, (s) => s.archive.state === "archived");
    const keys = status.assets.map((asset) => asset.key).sort();
    if (getFixture(file).kind === "wav") {
      expect(keys).toEqual([`wav/${taskId}/audio.wav`]);
      expect(status.assets[0]).toMatchObject({ role: "audio", contentType: "audio/wav" });
    } else {
      expect(keys).toEqual([`cover/${taskId}/image-1.png`, `cover/${taskId}/image-2.png`]);
      expect(status.assets.map((asset) => asset.role)).toEqual(["image", "image"]);
    }
    await expectArchived(status, files);
    const manifest = await env.MEDIA.get(`${status.kind}/${taskId}/manifest.json`);
    expect(((await manifest?.json()) as TaskStatus | undefined)?.archive.state).toBe("archived");
  });

  it("archives a Market job's tracks as a music task", async () => {
    const { taskId, files } = await post("kie.market.music.json");
    const status = await waitForStatus(taskId, (s) => s.archive.state === "archived");
    expect(status).toMatchObject({ kind: "music", state: "succeeded", stage: "complete" });
    expect(status.tracks).toEqual([expect.objectContaining({ title: "Market Song", modelName: "V6" })]);
    expect(status.assets.map((asset) => asset.key).sort()).toEqual([
      `music/${taskId}/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/audio.mp3`,
      `music/${taskId}/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/cover.jpeg`,
    ]);
    await expectArchived(status, files);
  });

  it("fails a Market job that failed, without guessing its kind", async () => {
    const { taskId } = await post("kie.market.fail.json");
    const status = await getStatus(taskId);
    expect(status).toMatchObject({
      kind: "unknown",
      state: "failed",
      stage: "error",
      providerCode: 501,
      providerMessage: "Generation failed: content policy",
    });
  });

  it("gives a failure that does not say its kind to the kind its route names", async () => {
    const { taskId } = await post("kie.midi.error.json", { kind: "midi" });
    expect(await getStatus(taskId)).toMatchObject({ kind: "midi", state: "failed", providerCode: 500 });
  });

  it("takes a lyrics failure that looks like a music failure as the registered lyrics task's", async () => {
    const taskId = uniqueId("lyrics");
    const registered = await request("/tasks", {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json" },
      body: JSON.stringify({ taskId, kind: "lyrics" }),
    });
    expect(registered.status).toBe(201);
    const music = withTaskId(getFixture("sunoapi.music.error.json").body, taskId);
    expect((await postCallback(music)).status).toBe(200);
    expect(await getStatus(taskId)).toMatchObject({ kind: "lyrics", state: "failed", lyrics: [] });
  });

  it("refuses a WAV callback posted to /callbacks/cover, and keeps it in the quarantine", async () => {
    const taskId = uniqueId("wav");
    const body = withTaskId(getFixture("sunoapi.wav.success.json").body, taskId);
    const response = await postCallback(body, { kind: "cover" });
    expect(response.status).toBe(400);
    expect((await request(`/tasks/${taskId}`, { headers: bearer })).status).toBe(404);
  });
});

describe("files stemvault makes", () => {
  it("writes lyrics.json with every text, its title and status, and shows them in the status", async () => {
    const { taskId } = await post("kie.lyrics.complete.json");
    const status = await waitForStatus(taskId, (s) => s.archive.state === "archived");
    const lyrics = [
      { title: "Storm Song", text: "[Verse]\nThunder in the distance", status: "complete", error: null },
      {
        title: "Storm Song II",
        text: "",
        status: "failed",
        error: "Song Description flagged for moderation",
      },
    ];
    expect(status.lyrics).toEqual(lyrics);
    const [asset] = status.assets;
    expect(asset).toMatchObject({
      name: "lyrics",
      role: "lyrics",
      sourceUrl: null,
      state: "stored",
      key: `lyrics/${taskId}/lyrics.json`,
      contentType: "application/json",
    });
    const object = await r2Sha256(`lyrics/${taskId}/lyrics.json`);
    expect(object).toMatchObject({ size: asset?.bytes, sha256: asset?.sha256 });
    const served = await request(`/media/lyrics/${taskId}/lyrics.json`, { headers: bearer });
    expect(served.headers.get("content-disposition")).toBe('attachment; filename="lyrics.json"');
    expect(await served.json()).toEqual({ taskId, lyrics });
  });

  it("reads sunoapi.org's camelCase lyrics and the old apibox lyricsData", async () => {
    for (const file of ["sunoapi.lyrics.complete.json", "sunoapi.lyrics.apibox.json"]) {
      const { taskId } = await post(file);
      const status = await waitForStatus(taskId, (s) => s.archive.state === "archived");
      expect(status.lyrics?.length, file).toBeGreaterThan(0);
      expect(status.lyrics?.[0], file).toMatchObject({ status: "complete", error: null });
    }
  });

  it("writes notes.mid that an independent parser reads back note for note", async () => {
    const { taskId, body } = await post("sunoapi.midi.complete.json");
    const status = await waitForStatus(taskId, (s) => s.archive.state === "archived");
    expect(status.midi).toEqual({ instruments: 2, notes: 5, durationSeconds: 2 });
    const mid = status.assets.find((asset) => asset.name === "midi");
    expect(mid).toMatchObject({
      key: `midi/${taskId}/notes.mid`,
      contentType: "audio/midi",
      state: "stored",
    });
    const object = await env.MEDIA.get(`midi/${taskId}/notes.mid`);
    const bytes = new Uint8Array(await (object as R2ObjectBody).arrayBuffer());
    expect(bytes.byteLength).toBe(mid?.bytes);

    const parsed = MidiParser.parse(bytes) as ParsedMidi;
    expect(parsed.timeDivision).toBe(MIDI_PPQ);
    const events = parsed.track.map(absoluteEvents);
    const tempo = events.flat().find((event) => event.metaType === 0x51);
    expect(tempo?.data).toBe(Math.floor(60_000_000 / MIDI_BPM));

    const ticks = (seconds: number | string) => Math.round((Number(seconds) * MIDI_BPM * MIDI_PPQ) / 60);
    const instruments = (body as { data: { instruments: { name: string; notes: MidiNote[] }[] } }).data
      .instruments;
    const tracks = events.filter((track) => track.some((event) => event.type === 9));
    expect(tracks).toHaveLength(instruments.length);
    instruments.forEach((instrument, index) => {
      const track = tracks[index] ?? [];
      const name = track.find((event) => event.metaType === 0x03);
      expect(name?.data).toBe(instrument.name);
      expect(notesOf(track)).toEqual(
        instrument.notes.map((note) => ({
          pitch: note.pitch,
          start: ticks(note.start),
          end: ticks(note.end),
          velocity: note.velocity,
        })),
      );
    });
    const json = await env.MEDIA.get(`midi/${taskId}/notes.json`);
    expect(await json?.json()).toEqual((body as { data: unknown }).data);
  });
});

interface MidiNote {
  pitch: number;
  start: number | string;
  end: number | string;
  velocity: number;
}
interface MidiEvent {
  deltaTime: number;
  type: number;
  metaType?: number;
  data?: number | number[] | string;
}
interface ParsedMidi {
  timeDivision: number;
  track: { event: MidiEvent[] }[];
}

const absoluteEvents = (track: { event: MidiEvent[] }) => {
  let time = 0;
  return track.event.map((event) => {
    time += event.deltaTime;
    return { ...event, time };
  });
};

/** Note-on/note-off pairs of a track (a note-on of velocity 0 is a note-off), in start order. */
function notesOf(events: (MidiEvent & { time: number })[]) {
  const open = new Map<number, { start: number; velocity: number }>();
  const notes: { pitch: number; start: number; end: number; velocity: number }[] = [];
  for (const event of events) {
    if (!Array.isArray(event.data)) continue;
    const [pitch = -1, velocity = 0] = event.data;
    if (event.type === 9 && velocity > 0) open.set(pitch, { start: event.time, velocity });
    else if (event.type === 8 || event.type === 9) {
      const on = open.get(pitch);
      if (on) notes.push({ pitch, start: on.start, end: event.time, velocity: on.velocity });
      open.delete(pitch);
    }
  }
  return notes.sort((a, b) => a.start - b.start || a.pitch - b.pitch);
}

describe("nothing authenticated is thrown away", () => {
  it("archives the media URLs of an unknown shape as files named by their JSON path", async () => {
    const taskId = uniqueId("unknown");
    const wav = originBytes("new.wav", 4096, 7);
    const png = originBytes("art.png", 2048, 8);
    const body = {
      code: 200,
      msg: "a shape from the future",
      data: {
        task_id: taskId,
        something_new: wav,
        gallery: [{ art: png }],
        elsewhere: "https://example.org/not-a-media-host.mp3",
        repeated: wav,
      },
    };
    const response = await postCallback(body);
    expect(await response.json()).toEqual({
      status: "received",
      taskId,
      duplicate: false,
      recognized: false,
    });
    const status = await waitForStatus(taskId, allStored);
    expect(status.kind).toBe("unknown");
    expect(status.assets.map(({ name, role, key }) => ({ name, role, key }))).toEqual([
      { name: "file:data-something_new", role: "file", key: `unknown/${taskId}/data-something_new.wav` },
      { name: "file:data-gallery-0-art", role: "file", key: `unknown/${taskId}/data-gallery-0-art.png` },
    ]);
    expect(await r2Sha256(`unknown/${taskId}/data-something_new.wav`)).toMatchObject({
      sha256: expectedSha256({ name: "new.wav", size: 4096, seed: 7 }),
    });
  });

  it("salvages no more files than MAX_ASSETS_PER_TASK allows, and still records the body", async () => {
    const taskId = uniqueId("unknown");
    const urls = Array.from({ length: 5 }, (_, i) => originBytes(`f${i}.mp3`, 1000, 100 + i));
    const response = await postCallback(
      { code: 200, data: { task_id: taskId, urls } },
      { vars: { MAX_ASSETS_PER_TASK: "3" } },
    );
    expect(response.status).toBe(200);
    const status = await getStatus(taskId);
    expect(status.assets).toHaveLength(3);
    expect(status.callbacks.unrecognized).toBe(1);
  });

  it("gives an unknown task the kind of the first recognised callback, without a kind conflict", async () => {
    const taskId = uniqueId("unknown");
    expect((await postCallback({ code: 200, data: { task_id: taskId, note: "hello" } })).status).toBe(200);
    expect((await getStatus(taskId)).kind).toBe("unknown");
    const wav = atOrigin(withTaskId(getFixture("sunoapi.wav.success.json").body, taskId)).body;
    const response = await postCallback(wav);
    expect(await response.json()).toEqual({ status: "received", taskId, duplicate: false });
    const status = await waitForStatus(taskId, (s) => s.archive.state === "archived");
    expect(status).toMatchObject({
      kind: "wav",
      state: "succeeded",
      callbacks: { received: 2, unrecognized: 1 },
    });
  });

  it("parses kept callbacks again on retry, applying one it now knows as if just received", async () => {
    const taskId = uniqueId("reparse");
    const { body, files } = atOrigin(withTaskId(getFixture("kie.cover.success.json").body, taskId));
    const raw = JSON.stringify(body);
    // As an earlier version, which did not know cover callbacks, recorded it.
    await taskStub(env, taskId).receiveCallback({
      recognized: false,
      taskId,
      assets: [],
      hash: "an-earlier-version's-hash",
      raw,
      route: "/callbacks",
    });
    expect(await getStatus(taskId)).toMatchObject({ kind: "unknown", callbacks: { unrecognized: 1 } });
    const retry = await request(`/tasks/${taskId}/retry`, { method: "POST", headers: bearer });
    expect(retry.status).toBe(202);
    expect(await retry.json()).toMatchObject({ reparsed: 1 });
    const status = await waitForStatus(taskId, (s) => s.archive.state === "archived");
    expect(status).toMatchObject({ kind: "cover", state: "succeeded", unrecognizedCallbacks: [] });
    expect(status.callbacks).toMatchObject({
      unrecognized: 0,
      history: [expect.objectContaining({ code: 200 })],
    });
    await expectArchived(status, files);
  });
});

describe("the list", () => {
  it("filters by every kind, unknown too", async () => {
    const unknown = uniqueId("list-unknown");
    expect((await postCallback({ code: 200, data: { task_id: unknown, shape: "new" } })).status).toBe(200);
    const { taskId: lyrics } = await post("sunoapi.lyrics.error.json");
    await waitForIndexedStatus(unknown);
    await waitForIndexedStatus(lyrics);
    const ids = async (kind: string) =>
      (await listTasks({ kind, limit: "200" })).body.tasks.map((task) => task.taskId);
    expect(await ids("unknown")).toContain(unknown);
    expect(await ids("unknown")).not.toContain(lyrics);
    expect(await ids("lyrics")).toContain(lyrics);
    for (const kind of ["wav", "cover", "midi"]) expect((await listTasks({ kind })).status).toBe(200);
    expect((await listTasks({ kind: "persona" })).status).toBe(400);
  });
});
