import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { TransientError } from "../../src/media/errors";
import { PART_BUFFER_BUDGET, type WriteRequest, writeMedia } from "../../src/media/r2-writer";
import { patternSha256, patternStream } from "../../support/pattern";
import { r2Sha256 } from "../helpers/media";

const MIB = 1024 * 1024;
let seed = 7000;

/** How many bytes of its body the writer has pulled so far. */
interface Meter {
  bytes: number;
}

/**
 * Opens a URL on the local origin and describes the write of its body to `key`. The body is
 * counted on its way (and stays a byte stream, as a fetched body is), so a test can see how far
 * the writer has read.
 */
async function fromOrigin(path: string, key: string, partSize = 5 * MIB) {
  const response = await fetch(`${env.ORIGIN_URL}${path}`);
  if (!response.body) throw new Error("no body");
  const meter: Meter = { bytes: 0 };
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      meter.bytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  const declared = response.headers.get("content-length");
  const request: WriteRequest = {
    bucket: env.MEDIA,
    key,
    body: response.body.pipeThrough(counter).pipeThrough(new IdentityTransformStream()),
    contentLength: declared === null ? null : Number(declared),
    maxBytes: 64 * MIB,
    partSize,
    contentType: "audio/mpeg",
    metadata: { taskId: "t", asset: "a", sourceUrl: path },
  };
  return { request, meter };
}

const chunkedBytes = (size: number, s: number) => `/bytes/f.mp3?size=${size}&seed=${s}&cl=0`;

/** What the writer did while the upload of its first part was held back. */
interface FirstPart {
  /** It read its second part meanwhile (so it held a second part buffer). */
  readAhead: boolean;
  /** Bytes it had read when the upload was let go. */
  read: number;
}

/**
 * Holds back the upload of part 1 of every multipart upload to the given keys until the writer
 * has read two parts of its body or `waitMs` passed, then a little longer, and records how far
 * it read: a writer holding a second part buffer reads on while a part uploads, one holding a
 * single buffer waits.
 */
function holdFirstParts(meters: Map<string, Meter>, partSize: number, waitMs: number) {
  const seen = new Map<string, FirstPart>();
  const create = env.MEDIA.createMultipartUpload.bind(env.MEDIA);
  vi.spyOn(env.MEDIA, "createMultipartUpload").mockImplementation(async (key, options) => {
    const upload = await create(key, options);
    const meter = meters.get(key);
    if (!meter) return upload;
    const held: R2MultipartUpload = {
      key: upload.key,
      uploadId: upload.uploadId,
      abort: () => upload.abort(),
      complete: (parts) => upload.complete(parts),
      uploadPart: async (partNumber, ...rest) => {
        if (partNumber === 1) {
          const deadline = Date.now() + waitMs;
          while (meter.bytes < 2 * partSize && Date.now() < deadline) await scheduler.wait(20);
          const readAhead = meter.bytes >= 2 * partSize;
          await scheduler.wait(300);
          seen.set(key, { readAhead, read: meter.bytes });
        }
        return upload.uploadPart(partNumber, ...rest);
      },
    };
    return held;
  });
  return seen;
}

describe("writeMedia", () => {
  it("streams a chunked body as parts, reading the next part while the previous one uploads", async () => {
    const s = seed++;
    const size = 3 * 16 * MIB + 12_345;
    const { request, meter } = await fromOrigin(chunkedBytes(size, s), "w/overlap.mp3", 16 * MIB);
    const firstPart = holdFirstParts(new Map([["w/overlap.mp3", meter]]), 16 * MIB, 5000);
    const written = await writeMedia(request);
    expect(written).toMatchObject({ bytes: size, sha256: await patternSha256(size, s) });
    const stored = await r2Sha256("w/overlap.mp3");
    expect(stored).toMatchObject({ size, sha256: written.sha256 });
    expect(stored?.object.customMetadata).toEqual({
      taskId: "t",
      asset: "a",
      sourceUrl: chunkedBytes(size, s),
    });
    // Two buffers: the second part was read while the first uploaded, and no third one.
    const seen = firstPart.get("w/overlap.mp3");
    expect(seen?.readAhead).toBe(true);
    expect(seen?.read).toBeLessThan(2 * 16 * MIB + 4 * MIB);
  });

  it("keeps concurrent chunked downloads within the part-buffer budget, each with one buffer at least", async () => {
    const partSize = 16 * MIB;
    const count = Math.floor(PART_BUFFER_BUDGET / partSize) + 1; // their first buffers alone exceed it
    const writes = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const s = seed++;
        const size = 2 * partSize + 1;
        return {
          s,
          size,
          key: `w/budget-${i}.mp3`,
          ...(await fromOrigin(chunkedBytes(size, s), `w/budget-${i}.mp3`, partSize)),
        };
      }),
    );
    const firstPart = holdFirstParts(new Map(writes.map((w) => [w.key, w.meter])), partSize, 1000);
    const results = await Promise.all(
      writes.map(async ({ request, key, size, s }) => {
        const written = await writeMedia(request);
        const stored = await r2Sha256(key);
        const expected = await patternSha256(size, s);
        return written.sha256 === expected && stored?.size === size && stored.sha256 === expected;
      }),
    );
    expect(results).toEqual(Array(count).fill(true));
    // No writer got a second buffer: none read on while its first part uploaded.
    expect(writes.map((w) => firstPart.get(w.key)?.readAhead)).toEqual(Array(count).fill(false));
  });

  it("stores nothing and gives its buffers back when a chunked body breaks off", async () => {
    const s = seed++;
    // Two 16 MiB buffers are taken before the body breaks off after 20 MiB.
    const cut = await fromOrigin(
      `/truncate/t.mp3?size=${40 * MIB}&send=${20 * MIB}&seed=${s}&cl=0`,
      "w/cut.mp3",
      16 * MIB,
    );
    await expect(writeMedia(cut.request)).rejects.toBeInstanceOf(TransientError);
    expect(await env.MEDIA.head("w/cut.mp3")).toBeNull();
    // Were they kept, the next write could not take the two buffers it reads ahead with.
    const next = await fromOrigin(chunkedBytes(2 * 16 * MIB + 1, s), "w/after-cut.mp3", 16 * MIB);
    const firstPart = holdFirstParts(new Map([["w/after-cut.mp3", next.meter]]), 16 * MIB, 5000);
    await writeMedia(next.request);
    expect(firstPart.get("w/after-cut.mp3")?.readAhead).toBe(true);
  });

  it("refuses a body longer than its Content-Length and stores nothing", async () => {
    // An HTTP origin cannot send more than it declares (the framing stops it), so a stream does.
    const request: WriteRequest = {
      ...(await fromOrigin(`/bytes/x.mp3?size=1&seed=1`, "w/long.mp3")).request,
      body: patternStream(2 * MIB, 3),
      contentLength: MIB,
    };
    await expect(writeMedia(request)).rejects.toThrow(/longer than its Content-Length/);
    expect(await env.MEDIA.head("w/long.mp3")).toBeNull();
  });
});
