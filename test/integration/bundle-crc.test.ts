import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { taskStub } from "../../src/tasks/stub";
import type { TaskObject } from "../../src/tasks/task-object";
import { getFixture } from "../../support/fixtures";
import { crc32, readZip } from "../../support/zip";
import { atOrigin, originBytes } from "../helpers/media";
import { archivedStems, archiveUrl } from "../helpers/tasks";
import { bearer, postCallback, request, uniqueId, waitForStatus, withTaskId } from "../helpers/worker";

/** CRC-32 of an R2 object's bytes, by the independent JavaScript implementation of support/zip. */
async function r2Crc32(key: string): Promise<number> {
  const object = await env.MEDIA.get(key);
  if (!object) throw new Error(`${key} is not in R2`);
  return crc32(new Uint8Array(await object.arrayBuffer()));
}

/** Every stored file's recorded CRC-32 by key, as the task object gives them to a bundle. */
async function recordedCrc32s(taskId: string): Promise<Map<string, number | null>> {
  const files = await taskStub(env, taskId).storedFiles();
  return new Map(files.map((file) => [file.key, file.crc32]));
}

const setCrc32 = (taskId: string, crc32: number | null) =>
  runInDurableObject(taskStub(env, taskId), (_: TaskObject, state) => {
    state.storage.sql.exec("UPDATE assets SET crc32 = ? WHERE state = 'stored'", crc32);
  });

/** The bundle of a task, read back: each entry's name, its declared CRC-32 and that of its bytes. */
async function bundleCrc32s(taskId: string) {
  const response = await request(`/tasks/${taskId}/bundle.zip`, { headers: bearer });
  expect(response.status).toBe(200);
  const bytes = new Uint8Array(await response.arrayBuffer());
  expect(bytes.byteLength).toBe(Number(response.headers.get("content-length")));
  return readZip(bytes).map((entry) => ({
    name: entry.name,
    declared: entry.declaredCrc32,
    actual: crc32(entry.bytes),
  }));
}

describe("recording each stored file's CRC-32", () => {
  it("records the CRC-32 of a downloaded file, with and without a Content-Length", async () => {
    for (const [seed, chunked] of [
      [41, false],
      [42, true],
    ] as const) {
      const { taskId, asset } = await archiveUrl(
        originBytes("drums.mp3", 6 * 1024 * 1024 + seed, seed, { chunked }),
      );
      const key = asset.key as string;
      expect((await recordedCrc32s(taskId)).get(key), `chunked: ${chunked}`).toBe(await r2Crc32(key));
    }
  });

  it("records the CRC-32 of the files stemvault makes (lyrics.json, notes.json, notes.mid)", async () => {
    for (const file of ["kie.lyrics.complete.json", "sunoapi.midi.complete.json"]) {
      const fixture = getFixture(file);
      const taskId = uniqueId(fixture.kind);
      const { body } = atOrigin(withTaskId(fixture.body, taskId));
      expect((await postCallback(body)).status).toBe(200);
      const status = await waitForStatus(taskId, (s) => s.archive.state === "archived");
      const recorded = await recordedCrc32s(taskId);
      expect(recorded.size, file).toBe(status.assets.length);
      for (const [key, crc] of recorded) expect(crc, key).toBe(await r2Crc32(key));
    }
  });

  it("leaves the CRC-32 out of the status JSON", async () => {
    const { taskId } = await archiveUrl(originBytes("drums.mp3", 2000, 43));
    const response = await request(`/tasks/${taskId}`, { headers: bearer });
    const status = (await response.json()) as { assets: Record<string, unknown>[] };
    expect(status.assets[0]).not.toHaveProperty("crc32");
  });
});

describe("the bundle's CRC-32s", () => {
  it("declares the CRC-32 the task object recorded rather than reading the file for it", async () => {
    const { taskId } = await archiveUrl(originBytes("drums.mp3", 30_000, 44));
    const [recorded] = [...(await recordedCrc32s(taskId)).values()];
    // A recorded value the bytes do not have shows that the bundle took it as it is.
    const other = ((recorded as number) ^ 0x5a5a5a5a) >>> 0;
    await setCrc32(taskId, other);
    const drums = (await bundleCrc32s(taskId)).find((entry) => entry.name === "drums.mp3");
    expect(drums).toEqual({ name: "drums.mp3", declared: other, actual: recorded });
  });

  it("computes the CRC-32 of files stored before it was recorded once, records it, and bundles them right", async () => {
    const status = await archivedStems(70_000, "crc");
    const expected = new Map(
      await Promise.all(
        status.assets.map(
          async (asset) => [asset.key as string, await r2Crc32(asset.key as string)] as const,
        ),
      ),
    );
    await setCrc32(status.taskId, null);
    expect([...(await recordedCrc32s(status.taskId)).values()].every((crc) => crc === null)).toBe(true);

    const entries = await bundleCrc32s(status.taskId);
    expect(entries).toHaveLength(13);
    for (const entry of entries) expect(entry.declared, entry.name).toBe(entry.actual);
    expect(await recordedCrc32s(status.taskId)).toEqual(expected);
    // The next bundle takes what was recorded, and says the same.
    expect(await bundleCrc32s(status.taskId)).toEqual(entries);
  });

  it("records no computed CRC-32 for a file that is no longer the stored one", async () => {
    const { taskId, asset } = await archiveUrl(originBytes("drums.mp3", 5000, 45));
    await setCrc32(taskId, null);
    const task = taskStub(env, taskId);
    const key = asset.key as string;
    expect(asset.bytes).toBe(5000);
    expect(await task.recordCrc32(key, 5000, "0".repeat(64), 1234)).toBe(false); // another SHA-256
    expect(await task.recordCrc32(key, 4999, asset.sha256, 1234)).toBe(false); // another size
    expect(await task.recordCrc32(`${key}.old`, 5000, asset.sha256, 1234)).toBe(false); // another key
    expect(await task.recordCrc32(key, 5000, asset.sha256, 1234)).toBe(true);
    expect(await task.recordCrc32(key, 5000, asset.sha256, 5678)).toBe(false); // already recorded
    expect((await recordedCrc32s(taskId)).get(key)).toBe(1234);
  });
});
