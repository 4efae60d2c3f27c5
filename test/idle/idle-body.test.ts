import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mediaSha256 } from "../../support/pattern";
import { r2Sha256 } from "../helpers/media";
import { archiveUrl, runConsumer, seedQueuedAsset } from "../helpers/tasks";
import { getStatus } from "../helpers/worker";

// This project runs with MEDIA_IDLE_TIMEOUT_SECONDS=2 (vitest.config.ts).

let seed = 100;
const nextSeed = () => seed++;

afterEach(() => vi.restoreAllMocks());

/** A body that sends its headers and `send` bytes, then holds the socket open for a minute. */
const stalled = (name: string, size: number, send: number, extra = "") =>
  `${env.ORIGIN_URL}/stall/${name}?size=${size}&send=${send}&seed=${nextSeed()}&holdMs=60000${extra}`;

describe("a body that goes silent", () => {
  it("fails the attempt as transient after MEDIA_IDLE_TIMEOUT_SECONDS, keeping nothing and releasing the lease", async () => {
    const taskId = await seedQueuedAsset("separation", "drums", stalled("quiet.mp3", 200_000, 100_000));
    const started = Date.now();
    const result = await runConsumer([{ taskId, asset: "drums" }]);
    const elapsed = Date.now() - started;
    // Not the minute the origin would hold the socket: the idle timeout (2 s) ended it.
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(elapsed).toBeLessThan(15_000);
    expect(result.retryMessages.map((message) => message.msgId)).toEqual(result.ids);
    const [asset] = (await getStatus(taskId)).assets;
    // Queued again (no lease held), with an error that says what happened.
    expect(asset).toMatchObject({ state: "queued", attempts: 1, key: null });
    expect(asset?.error).toMatch(/sent no data for 2 s \(MEDIA_IDLE_TIMEOUT_SECONDS\) after 100000 bytes/);
    expect(await env.MEDIA.list({ prefix: `separation/${taskId}/` })).toMatchObject({ objects: [] });
  });

  it("aborts the multipart upload of a chunked body that stalls after its first part", async () => {
    const uploads: R2MultipartUpload[] = [];
    const create = env.MEDIA.createMultipartUpload.bind(env.MEDIA);
    vi.spyOn(env.MEDIA, "createMultipartUpload").mockImplementation(async (...args) => {
      const upload = await create(...args);
      uploads.push(upload);
      return upload;
    });
    const MIB = 1024 * 1024;
    const url = stalled("quiet-chunked.mp3", 20 * MIB, 7 * MIB, "&cl=0");
    const taskId = await seedQueuedAsset("separation", "drums", url);
    const result = await runConsumer([{ taskId, asset: "drums" }]);
    expect(result.retryMessages.map((message) => message.msgId)).toEqual(result.ids);
    expect((await getStatus(taskId)).assets[0]?.error).toMatch(/sent no data for 2 s .* after 7340032 bytes/);
    expect(await env.MEDIA.list({ prefix: `separation/${taskId}/` })).toMatchObject({ objects: [] });
    expect(uploads).toHaveLength(1);
    const [upload] = uploads as [R2MultipartUpload];
    await expect(env.MEDIA.resumeMultipartUpload(upload.key, upload.uploadId).complete([])).rejects.toThrow();
  });

  it("archives the file on the next attempt through the real queue once the origin answers", async () => {
    const once = `idle-${nextSeed()}`;
    const s = nextSeed();
    const url = `${env.ORIGIN_URL}/stall/later.mp3?size=150000&send=4000&seed=${s}&holdMs=60000&once=${once}`;
    const { asset } = await archiveUrl(url, "drums", 40_000);
    expect(asset).toMatchObject({ state: "stored", attempts: 2, error: null, bytes: 150_000 });
    expect(asset.sha256).toBe(await mediaSha256("later.mp3", 150_000, s));
    expect(await r2Sha256(asset.key as string)).toMatchObject({ size: 150_000, sha256: asset.sha256 });
  });

  it("lets a body that keeps sending, however slowly, finish", async () => {
    // 40 writes of 2,500 bytes, 100 ms apart: 4 s in all, never 2 s without a byte.
    const s = nextSeed();
    const url = `${env.ORIGIN_URL}/bytes/trickle.mp3?size=100000&seed=${s}&chunk=2500&chunkDelayMs=100`;
    const taskId = await seedQueuedAsset("separation", "drums", url);
    const result = await runConsumer([{ taskId, asset: "drums" }]);
    expect(result.explicitAcks).toEqual(result.ids);
    expect((await getStatus(taskId)).assets[0]).toMatchObject({
      state: "stored",
      bytes: 100_000,
      sha256: await mediaSha256("trickle.mp3", 100_000, s),
    });
  });
});
