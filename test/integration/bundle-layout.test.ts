import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { LAY_OUT_AHEAD_BYTES } from "../../src/bundles/plan";
import { fromBase64Url, toBase64Url } from "../../src/core/crypto";
import { BundleLayouts } from "../../src/tasks/bundle-layouts";
import { taskStub } from "../../src/tasks/stub";
import type { TaskObject } from "../../src/tasks/task-object";
import { crc32, readZip } from "../../support/zip";
import { archivedStems } from "../helpers/tasks";
import { bearer, request } from "../helpers/worker";

/** The layouts the task object keeps: key and length of each. */
const keptLayouts = (taskId: string) =>
  runInDurableObject(taskStub(env, taskId), (_: TaskObject, state) =>
    state.storage.sql
      .exec<{ key: string; layout: string }>(
        "SELECT key, layout FROM bundle_layouts ORDER BY saved_at, rowid",
      )
      .toArray(),
  );

const setKeptLayouts = (taskId: string, layout: string) =>
  runInDurableObject(taskStub(env, taskId), (_: TaskObject, state) => {
    state.storage.sql.exec("UPDATE bundle_layouts SET layout = ?", layout);
  });

/** The bundle's bytes, checked whole: as long as announced, every entry's CRC-32 right. */
async function download(taskId: string): Promise<Uint8Array> {
  const response = await request(`/tasks/${taskId}/bundle.zip`, { headers: bearer });
  expect(response.status).toBe(200);
  const bytes = new Uint8Array(await response.arrayBuffer());
  expect(bytes.byteLength).toBe(Number(response.headers.get("content-length")));
  const entries = readZip(bytes);
  expect(entries).toHaveLength(13);
  for (const entry of entries) expect(entry.declaredCrc32, entry.name).toBe(crc32(entry.bytes));
  return bytes;
}

/** A separation archived through the real path, its 12 stems in all at least `bytes`: its id. */
const archivedTask = async (bytes = 0) =>
  (await archivedStems(Math.max(20_000, Math.ceil(bytes / 12)), "layout")).taskId;

/** A task whose bundle the consumer lays out as soon as it is archived. */
const largeTask = () => archivedTask(LAY_OUT_AHEAD_BYTES);

/** The task's kept layouts, once the consumer that stored its last file has laid its bundle out. */
async function laidOut(taskId: string) {
  await vi.waitFor(async () => expect(await keptLayouts(taskId)).toHaveLength(1), { timeout: 10_000 });
  return keptLayouts(taskId);
}

describe("the bundle's layout", () => {
  it("is laid out once a large task's last file is stored, and downloads are written from it", async () => {
    const taskId = await largeTask();
    const [kept] = await laidOut(taskId);
    const layout = JSON.parse(kept?.layout as string) as { length: number; parts: (string | number)[] };
    const first = await download(taskId);
    expect(layout.length).toBe(first.byteLength);
    expect(await keptLayouts(taskId)).toEqual([kept]);

    // A kept layout altered in the first entry's time (bytes 10-11 of its local header): the
    // download carries the alteration, so it was written from the layout, not laid out again.
    const header = fromBase64Url(layout.parts[0] as string) as Uint8Array;
    header[10] = (header[10] as number) ^ 0x01;
    await setKeptLayouts(
      taskId,
      JSON.stringify({ ...layout, parts: [toBase64Url(header), ...layout.parts.slice(1)] }),
    );
    const altered = await download(taskId);
    expect(altered[10]).toBe(header[10]);
    expect(altered[10]).not.toBe(first[10]);
  });

  it("is laid out by the first download of a small task, and kept", async () => {
    const taskId = await archivedTask();
    // The consumer that stored the last file has finished with it well within this; had it laid
    // the bundle out, the row would be there.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await keptLayouts(taskId)).toEqual([]);
    const zip = await download(taskId);
    const kept = await keptLayouts(taskId);
    expect(kept).toHaveLength(1);
    expect(JSON.parse(kept[0]?.layout as string)).toMatchObject({ length: zip.byteLength });
    expect(await download(taskId)).toEqual(zip);
    expect(await keptLayouts(taskId)).toEqual(kept);
  });

  it("is laid out again when the kept one is unusable: not a layout, or of another length", async () => {
    const taskId = await archivedTask();
    const first = await download(taskId);
    const [kept] = await keptLayouts(taskId);

    await setKeptLayouts(taskId, "not a layout");
    expect(await download(taskId)).toEqual(first);
    expect(await keptLayouts(taskId)).toEqual([kept]);

    // A layout in itself, without the central directory: were it written, the ZIP would break.
    const whole = JSON.parse(kept?.layout as string) as { length: number; parts: (string | number)[] };
    const directory = whole.parts.at(-1) as string;
    const cut = {
      length: whole.length - (fromBase64Url(directory) as Uint8Array).byteLength,
      parts: whole.parts.slice(0, -1),
    };
    await setKeptLayouts(taskId, JSON.stringify(cut));
    expect(await download(taskId)).toEqual(first);
    expect(await keptLayouts(taskId)).toEqual([kept]);
  });

  it("keeps the newest few, and none once the task is deleted", async () => {
    const taskId = await archivedTask();
    const task = taskStub(env, taskId);
    for (let i = 0; i < BundleLayouts.KEPT + 2; i++) await task.saveBundleLayout(`key-${i}`, `{"n":${i}}`);
    expect((await keptLayouts(taskId)).map((row) => row.key)).toEqual(["key-2", "key-3", "key-4"]);
    expect(await task.bundleLayout("key-4")).toBe('{"n":4}');
    expect(await task.bundleLayout("key-0")).toBeNull();

    expect((await request(`/tasks/${taskId}`, { method: "DELETE", headers: bearer })).status).toBe(200);
    expect(await keptLayouts(taskId)).toEqual([]);
    await task.saveBundleLayout("key-after", "{}");
    expect(await task.bundleLayout("key-after")).toBeNull();
  });
});
