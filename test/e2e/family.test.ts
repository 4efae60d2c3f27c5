// End to end against a real `wrangler dev` (the settings of `npm run dev`): the five payloads of
// issue 21 that stemvault used to refuse — a WAV conversion, cover images, lyrics, MIDI, and a
// known envelope with a field its schema does not expect yet — answered 200 and archived.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, type TaskStatus } from "../../support/client";
import { type DevServer, startDevServer } from "../../support/dev-server";
import { getFixture } from "../../support/fixtures";
import { atOrigin, withTaskId } from "../../support/fixtures/rewrite";
import { type Origin, startOrigin } from "../../support/origin";
import { mediaSha256 } from "../../support/pattern";

let origin: Origin;
let server: DevServer;
let client: Client;
let seed = 1;

beforeAll(async () => {
  origin = await startOrigin();
  server = await startDevServer({ logLevel: "warn" });
  client = Client.dev(server.url);
});

afterAll(async () => {
  await server?.stop();
  await origin?.close();
});

/** Posts a fixture under a fresh task id, its media on the local origin; waits until it settles. */
async function deliver(file: string, change: (body: Record<string, unknown>) => unknown = (body) => body) {
  const taskId = `e2e-${file.replace(/\W+/g, "-")}-${Date.now().toString(36)}`;
  const { body, files } = atOrigin(withTaskId(getFixture(file).body, taskId), origin.url, () => ({
    size: 20_000 + seed,
    seed: seed++,
  }));
  const response = await client.postCallback(change(body as Record<string, unknown>));
  expect(response.status, file).toBe(200);
  expect(await response.json()).toEqual({ status: "received", taskId, duplicate: false });
  const { status, settled } = await client.waitSettled(taskId, { timeoutMs: 60_000 });
  if (!status || !settled) throw new Error(`${taskId} did not settle: ${JSON.stringify(status)}`);
  return { taskId, status, files };
}

/** Every stored file, downloaded back through its signed link, has the bytes the origin served. */
async function expectDownloads(
  status: TaskStatus,
  files: Map<string, { name: string; size: number; seed: number }>,
) {
  for (const asset of status.assets) {
    expect(asset.state, asset.name).toBe("stored");
    const response = await fetch(client.link(asset.url as string));
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(bytes.byteLength).toBe(asset.bytes);
    const file = asset.sourceUrl ? files.get(asset.sourceUrl) : undefined;
    if (file) expect(asset.sha256).toBe(await mediaSha256(file.name, file.size, file.seed));
  }
}

describe("the callback family against npm run dev", () => {
  it("archives a WAV conversion", async () => {
    const { taskId, status, files } = await deliver("sunoapi.wav.success.json");
    expect(status).toMatchObject({ kind: "wav", archive: { state: "archived", stored: 1 } });
    expect(status.assets[0]?.key).toBe(`wav/${taskId}/audio.wav`);
    await expectDownloads(status, files);
  });

  it("archives cover images", async () => {
    const { status, files } = await deliver("kie.cover.success.json");
    expect(status).toMatchObject({ kind: "cover", archive: { state: "archived", stored: 2 } });
    await expectDownloads(status, files);
  });

  it("records lyrics and writes lyrics.json", async () => {
    const { status, files } = await deliver("sunoapi.lyrics.complete.json");
    expect(status).toMatchObject({ kind: "lyrics", archive: { state: "archived", stored: 1 } });
    expect(status.lyrics?.map((entry) => entry.title)).toEqual(["City Lights", "Empty Streets"]);
    await expectDownloads(status, files);
  });

  it("records MIDI and writes notes.mid and notes.json", async () => {
    const { taskId, status, files } = await deliver("sunoapi.midi.complete.json");
    expect(status).toMatchObject({ kind: "midi", midi: { instruments: 2, notes: 5 } });
    expect(status.assets.map((asset) => asset.key).sort()).toEqual([
      `midi/${taskId}/notes.json`,
      `midi/${taskId}/notes.mid`,
    ]);
    await expectDownloads(status, files);
  });

  it("archives a known envelope that carries a field its schema does not expect", async () => {
    const { status, files } = await deliver("sunoapi.music.complete.json", (body) => ({
      ...body,
      data: { ...(body.data as object), brand_new_field: { nested: true } },
    }));
    expect(status).toMatchObject({ kind: "music", archive: { state: "archived", stored: 4 } });
    await expectDownloads(status, files);
  });
});
