import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TransientError } from "../../src/media/errors";
import { PART_BUFFER_BUDGET, PartBufferPool, type WriteRequest, writeMedia } from "../../src/media/r2-writer";
import { mediaSha256, patternStream } from "../../support/pattern";
import { r2Sha256 } from "../helpers/media";

const MIB = 1024 * 1024;
let seed = 7000;

/** Opens a URL on the local origin and describes the write of its body to `key`. */
async function fromOrigin(
  path: string,
  key: string,
  partSize = 5 * MIB,
  partBuffers = new PartBufferPool(PART_BUFFER_BUDGET),
): Promise<WriteRequest> {
  const response = await fetch(`${env.ORIGIN_URL}${path}`);
  if (!response.body) throw new Error("no body");
  const declared = response.headers.get("content-length");
  return {
    bucket: env.MEDIA,
    place: () => ({ key, contentType: "audio/mpeg" }),
    body: response.body,
    contentLength: declared === null ? null : Number(declared),
    maxBytes: 64 * MIB,
    partSize,
    metadata: { taskId: "t", asset: "a", sourceUrl: path },
    partBuffers,
  };
}

const chunkedBytes = (size: number, s: number) => `/bytes/f.mp3?size=${size}&seed=${s}&cl=0`;

describe("writeMedia", () => {
  it("streams a chunked body as parts, reading the next part while the previous one uploads", async () => {
    const s = seed++;
    const size = 3 * 16 * MIB + 12_345;
    const pool = new PartBufferPool(PART_BUFFER_BUDGET);
    const written = await writeMedia(
      await fromOrigin(chunkedBytes(size, s), "w/overlap.mp3", 16 * MIB, pool),
    );
    expect(written).toMatchObject({ bytes: size, sha256: await mediaSha256("f.mp3", size, s) });
    const stored = await r2Sha256("w/overlap.mp3");
    expect(stored).toMatchObject({ size, sha256: written.sha256 });
    expect(stored?.object.customMetadata).toEqual({
      taskId: "t",
      asset: "a",
      sourceUrl: chunkedBytes(size, s),
    });
    // Two buffers: one part uploading while the next one fills. Both are given back.
    expect(pool).toMatchObject({ inUse: 0, peak: 32 * MIB });
  });

  it("keeps concurrent chunked downloads within the part-buffer budget, each with one buffer at least", async () => {
    const partSize = 16 * MIB;
    const count = Math.floor(PART_BUFFER_BUDGET / partSize) + 1; // their first buffers alone exceed it
    const pool = new PartBufferPool(PART_BUFFER_BUDGET);
    // Every buffer the pool hands out, and what it then held: how many were held at once depends
    // on how the downloads interleave, what the pool lets each take does not.
    const takes: { required: boolean; inUse: number }[] = [];
    const take = pool.take.bind(pool);
    pool.take = (size, required) => {
      const buffer = take(size, required);
      if (buffer) takes.push({ required, inUse: pool.inUse });
      return buffer;
    };
    const results = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const s = seed++;
        const size = 2 * partSize + 1;
        const written = await writeMedia(
          await fromOrigin(chunkedBytes(size, s), `w/budget-${i}.mp3`, partSize, pool),
        );
        const stored = await r2Sha256(`w/budget-${i}.mp3`);
        const expected = await mediaSha256("f.mp3", size, s);
        return written.sha256 === expected && stored?.size === size && stored.sha256 === expected;
      }),
    );
    expect(results).toEqual(Array(count).fill(true));
    // One buffer each whatever the budget (their first buffers alone exceed it); a second one
    // only within it; all given back.
    expect(takes.filter((taken) => taken.required)).toHaveLength(count);
    expect(takes.filter((taken) => !taken.required && taken.inUse > PART_BUFFER_BUDGET)).toEqual([]);
    expect(pool.inUse).toBe(0);
  });

  it("stores nothing and gives its buffers back when a chunked body breaks off", async () => {
    const s = seed++;
    const pool = new PartBufferPool(PART_BUFFER_BUDGET);
    const request = await fromOrigin(
      `/truncate/t.mp3?size=${30 * MIB}&send=${17 * MIB}&seed=${s}&cl=0`,
      "w/cut.mp3",
      5 * MIB,
      pool,
    );
    await expect(writeMedia(request)).rejects.toBeInstanceOf(TransientError);
    expect(await env.MEDIA.head("w/cut.mp3")).toBeNull();
    expect(pool.inUse).toBe(0);
  });

  it("refuses a body longer than its Content-Length and stores nothing", async () => {
    // An HTTP origin cannot send more than it declares (the framing stops it), so a stream does.
    const request: WriteRequest = {
      ...(await fromOrigin(`/bytes/x.mp3?size=1&seed=1`, "w/long.mp3")),
      body: patternStream(2 * MIB, 3),
      contentLength: MIB,
    };
    await expect(writeMedia(request)).rejects.toThrow(/longer than its Content-Length/);
    expect(await env.MEDIA.head("w/long.mp3")).toBeNull();
  });
});
