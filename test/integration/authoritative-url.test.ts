import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { TaskStatus } from "../../src/tasks/status";
import { taskStub } from "../../src/tasks/stub";
import { mediaSha256 } from "../../support/pattern";
import { originBytes, originHits, r2Sha256 } from "../helpers/media";
import { getStatus, postCallback, settled, uniqueId, waitForStatus } from "../helpers/worker";

let seed = 5000;
const nextSeed = () => seed++;

/** A music callback of one track `t1` whose audio is at `audio` (and nothing else). */
const music = (taskId: string, stage: "first" | "complete", audio: string, msg = `${stage} ok`) => ({
  code: 200,
  msg,
  data: {
    callbackType: stage,
    task_id: taskId,
    data: [{ id: "t1", audio_url: audio, source_audio_url: "", image_url: "", title: "One" }],
  },
});

const post = async (body: unknown) => {
  const response = await postCallback(body);
  expect(response.status).toBe(200);
};

const audioOf = (status: TaskStatus) => status.assets.find((asset) => asset.name === "t1/audio");

/** A file on the origin and what it must look like once archived. */
function file(name: string, size = 20_000) {
  const s = nextSeed();
  return {
    url: originBytes(name, size, s),
    size,
    sha256: () => mediaSha256(name, size, s),
  };
}

const hitsOf = async (url: string) => (await originHits()).get(url) ?? 0;

describe("the latest authoritative stage's URL wins", () => {
  it("archives the complete URL when first gave another one", async () => {
    // The probe's repro: first gives t1 URL A, complete gives URL B.
    const taskId = uniqueId("auth");
    const a = file(`a-${taskId}.mp3`);
    const b = file(`b-${taskId}.mp3`);
    await post(music(taskId, "first", a.url));
    await post(music(taskId, "complete", b.url));
    const status = await waitForStatus(
      taskId,
      (s) => settled(s) && audioOf(s)?.sourceUrl === b.url && audioOf(s)?.state === "stored",
    );
    expect(status.archive).toMatchObject({ state: "archived", stored: 1, total: 1 });
    expect(audioOf(status)).toMatchObject({ state: "stored", bytes: b.size, sha256: await b.sha256() });
    expect(await r2Sha256(`music/${taskId}/t1/audio.mp3`)).toMatchObject({
      size: b.size,
      sha256: await b.sha256(),
    });
    expect(await hitsOf(b.url)).toBe(1);
    expect(await hitsOf(a.url)).toBeLessThanOrEqual(1);
  });

  it("re-archives a stored asset from the newer URL, replacing its file and the manifest", async () => {
    const taskId = uniqueId("rearchive");
    const a = file(`a-${taskId}.wav`);
    const b = file(`b-${taskId}.mp3`);
    await post(music(taskId, "first", a.url));
    const first = await waitForStatus(taskId, (s) => audioOf(s)?.state === "stored");
    expect(audioOf(first)).toMatchObject({ key: `music/${taskId}/t1/audio.wav`, sha256: await a.sha256() });

    await post(music(taskId, "complete", b.url));
    const status = await waitForStatus(taskId, (s) => settled(s) && audioOf(s)?.sourceUrl === b.url);
    expect(audioOf(status)).toMatchObject({
      state: "stored",
      key: `music/${taskId}/t1/audio.mp3`,
      contentType: "audio/mpeg",
      sha256: await b.sha256(),
      attempts: 2,
    });
    expect(await r2Sha256(`music/${taskId}/t1/audio.mp3`)).toMatchObject({ sha256: await b.sha256() });
    // The earlier file (another extension) does not linger beside it.
    expect(await env.MEDIA.head(`music/${taskId}/t1/audio.wav`)).toBeNull();
    const manifest = (await (await env.MEDIA.get(`music/${taskId}/manifest.json`))?.json()) as TaskStatus;
    expect(audioOf(manifest)).toMatchObject({ sourceUrl: b.url, sha256: await b.sha256() });
  });

  it("records the replaced file and deletes it from the alarm when the first delete fails", async () => {
    const taskId = uniqueId("replacefail");
    const a = file(`a-${taskId}.wav`);
    const b = file(`b-${taskId}.mp3`);
    await post(music(taskId, "first", a.url));
    await waitForStatus(taskId, (s) => audioOf(s)?.state === "stored");
    const stub = taskStub(env, taskId);
    // The object's own R2 delete fails once (fault injection on the real binding).
    await runInDurableObject(stub, (instance) => {
      const bucket = (instance as unknown as { env: Env }).env.MEDIA;
      vi.spyOn(bucket, "delete").mockRejectedValueOnce(new Error("R2 unavailable"));
    });
    await post(music(taskId, "complete", b.url));
    await waitForStatus(taskId, (s) => settled(s) && audioOf(s)?.sourceUrl === b.url);
    const old = `music/${taskId}/t1/audio.wav`;
    expect(await env.MEDIA.head(old)).not.toBeNull();
    const pending = await runInDurableObject(stub, async (_, state) => {
      const rows = state.storage.sql.exec<{ key: string }>("SELECT key FROM replaced_objects").toArray();
      state.storage.sql.exec("UPDATE replaced_objects SET due_at = ?", Date.now() - 1);
      return rows.map((row) => row.key);
    });
    expect(pending).toEqual([old]);
    await runDurableObjectAlarm(stub);
    expect(await env.MEDIA.head(old)).toBeNull();
    expect(await env.MEDIA.head(`music/${taskId}/t1/audio.mp3`)).not.toBeNull();
  });

  it("falls back to the earlier URL when the newer one fails for good", async () => {
    const taskId = uniqueId("fallback");
    const a = file(`a-${taskId}.mp3`);
    await post(music(taskId, "first", a.url));
    await waitForStatus(taskId, (s) => audioOf(s)?.state === "stored");
    const gone = `${env.ORIGIN_URL}/status/404?n=${taskId}`;
    await post(music(taskId, "complete", gone));
    const status = await waitForStatus(taskId, (s) => settled(s) && (audioOf(s)?.attempts ?? 0) >= 2);
    expect(audioOf(status)).toMatchObject({ state: "stored", sourceUrl: a.url, sha256: await a.sha256() });
    expect(status.archive.state).toBe("archived");
    expect(await hitsOf(gone)).toBe(1);
  });

  it("switches a failed asset to the newer URL and archives it", async () => {
    const taskId = uniqueId("refail");
    const expired = `${env.ORIGIN_URL}/status/410?n=${taskId}`;
    await post(music(taskId, "first", expired));
    await waitForStatus(taskId, (s) => audioOf(s)?.state === "failed");
    const b = file(`b-${taskId}.mp3`);
    await post(music(taskId, "complete", b.url));
    const status = await waitForStatus(taskId, settled);
    expect(audioOf(status)).toMatchObject({
      state: "stored",
      sourceUrl: b.url,
      sha256: await b.sha256(),
      error: null,
    });
    expect(status.archive.state).toBe("archived");
    expect(await hitsOf(expired)).toBe(1);
  });

  it.each([
    ["stores", "wav"],
    ["fails (not media)", "bin"],
  ])(
    "ends a download in progress archived from the new URL, whatever the old download %s",
    async (_case, ext) => {
      const taskId = uniqueId("superseded");
      const slowSeed = nextSeed();
      // Headers only after 1.5 s: the asset is `downloading` when complete arrives.
      const slow = `${env.ORIGIN_URL}/slow/a-${taskId}.${ext}?size=30000&seed=${slowSeed}&delayMs=1500`;
      await post(music(taskId, "first", slow));
      await waitForStatus(taskId, (status) => audioOf(status)?.state === "downloading");
      const b = file(`b-${taskId}.mp3`);
      await post(music(taskId, "complete", b.url));
      const status = await waitForStatus(
        taskId,
        (current) => settled(current) && audioOf(current)?.sourceUrl === b.url,
      );
      expect(audioOf(status)).toMatchObject({
        state: "stored",
        key: `music/${taskId}/t1/audio.mp3`,
        sha256: await b.sha256(),
        error: null,
      });
      expect(status.archive.state).toBe("archived");
      expect(await r2Sha256(`music/${taskId}/t1/audio.mp3`)).toMatchObject({ sha256: await b.sha256() });
      expect(await env.MEDIA.head(`music/${taskId}/t1/audio.wav`)).toBeNull();
      expect(await hitsOf(slow)).toBe(1);
      expect(await hitsOf(b.url)).toBe(1);
    },
  );

  it("changes nothing on an equal-rank re-delivery, nor on a late first", async () => {
    const taskId = uniqueId("equal");
    const b = file(`b-${taskId}.mp3`);
    await post(music(taskId, "complete", b.url));
    const archived = await waitForStatus(taskId, settled);
    // The same complete again (a duplicate), the same URL in another complete, another URL in a
    // complete (equal rank: the first complete's URL stays), and a late first.
    await post(music(taskId, "complete", b.url));
    await post(music(taskId, "complete", b.url, "complete again"));
    const other = file(`c-${taskId}.mp3`);
    await post(music(taskId, "complete", other.url, "complete with another URL"));
    await post(music(taskId, "first", file(`d-${taskId}.mp3`).url));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // what a queue delivery would take
    const status = await getStatus(taskId);
    expect(audioOf(status)).toEqual({ ...audioOf(archived), url: expect.any(String) });
    expect(status.archive).toEqual(archived.archive);
    expect(await hitsOf(b.url)).toBe(1);
    expect(await hitsOf(other.url)).toBe(0);
  });
});
