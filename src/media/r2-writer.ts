import { PermanentError, TransientError } from "./errors";

export interface WriteRequest {
  bucket: R2Bucket;
  /** Final key in the archive layout; it only ever holds a complete, verified object. */
  key: string;
  /** Where the bytes land first, outside the archive layout. */
  stagingKey: string;
  body: ReadableStream<Uint8Array>;
  /** Declared length, or null for a chunked body. */
  contentLength: number | null;
  maxBytes: number;
  /** Multipart part size for bodies of unknown length (R2 needs ≥ 5 MiB, all equal). */
  partSize: number;
  contentType: string;
  metadata: Record<string, string>;
}

export interface WrittenObject {
  bytes: number;
  sha256: string;
}

/** Counts and hashes bytes as they stream past; errors out once the size limit is crossed. */
class Meter {
  bytes = 0;
  overLimit: PermanentError | null = null;
  private readonly digest = new crypto.DigestStream("SHA-256");
  private readonly writer = this.digest.getWriter();

  constructor(private readonly maxBytes: number) {}

  readonly stream = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, controller) => {
      this.bytes += chunk.byteLength;
      if (this.bytes > this.maxBytes) {
        this.overLimit = new PermanentError(`larger than MAX_MEDIA_BYTES (${this.maxBytes} bytes)`);
        controller.error(this.overLimit);
        return;
      }
      this.writer.write(chunk).catch(() => {});
      controller.enqueue(chunk);
    },
    flush: () => this.writer.close(),
  });

  async sha256(): Promise<string> {
    const digest = new Uint8Array(await this.digest.digest);
    return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  }
}

/**
 * Streams a media body into R2 without holding it in memory, and only then publishes it:
 *
 * 1. Into a staging key, hashing (SHA-256) and counting on the way: with a known length as one
 *    streamed put through a FixedLengthStream (a short or long body fails the put), without one
 *    as a multipart upload of `partSize` parts, aborted on any error.
 * 2. Copied to the final key with the SHA-256 in its custom metadata, and R2 checking the copy
 *    against that SHA-256. The staging object is deleted either way.
 *
 * So the final key never holds a truncated object, nor one whose recorded hash is wrong.
 * Throws PermanentError (too large) or TransientError (short, long, empty, interrupted).
 */
export async function writeVerified(request: WriteRequest): Promise<WrittenObject> {
  const { bucket, body, contentLength, maxBytes } = request;
  if (contentLength !== null && contentLength > maxBytes) {
    await body.cancel();
    throw new PermanentError(`larger than MAX_MEDIA_BYTES: ${contentLength} > ${maxBytes} bytes`);
  }
  if (contentLength === 0) {
    await body.cancel();
    throw new TransientError("the origin sent an empty body");
  }
  const meter = new Meter(maxBytes);
  // A failing source errors the metered side, where the staging write reports it; the pipe's
  // own rejection carries nothing more (and would otherwise surface as an unhandled rejection).
  body.pipeTo(meter.stream.writable).catch(() => {});
  const metered = meter.stream.readable;
  try {
    if (contentLength !== null) await stageKnownLength(request, metered, contentLength, meter);
    else await stageMultipart(request, metered, meter);
    const sha256 = await meter.sha256();
    const staged = await bucket.get(request.stagingKey);
    if (!staged) throw new TransientError("the staged object vanished before it was published");
    await bucket.put(request.key, staged.body, {
      sha256,
      httpMetadata: { contentType: request.contentType },
      customMetadata: { ...request.metadata, sha256 },
    });
    return { bytes: meter.bytes, sha256 };
  } finally {
    await bucket.delete(request.stagingKey).catch(() => {});
  }
}

async function stageKnownLength(
  request: WriteRequest,
  metered: ReadableStream<Uint8Array>,
  length: number,
  meter: Meter,
): Promise<void> {
  const fixed = new FixedLengthStream(length);
  const [piped, put] = await Promise.allSettled([
    metered.pipeTo(fixed.writable),
    request.bucket.put(request.stagingKey, fixed.readable, {
      httpMetadata: { contentType: request.contentType },
    }),
  ]);
  if (meter.overLimit) throw meter.overLimit;
  if (meter.bytes < length)
    throw new TransientError(`the body ended after ${meter.bytes} of ${length} bytes`);
  if (meter.bytes > length)
    throw new TransientError(`the body is longer than its Content-Length (${length})`);
  for (const outcome of [piped, put]) {
    if (outcome.status === "rejected") throw new TransientError(`storing failed: ${String(outcome.reason)}`);
  }
}

async function stageMultipart(request: WriteRequest, metered: ReadableStream<Uint8Array>, meter: Meter) {
  const upload = await request.bucket.createMultipartUpload(request.stagingKey, {
    httpMetadata: { contentType: request.contentType },
  });
  const reader = metered.getReader();
  try {
    const parts: R2UploadedPart[] = [];
    const buffer = new Uint8Array(request.partSize);
    let filled = 0;
    const flushPart = async () => {
      parts.push(await upload.uploadPart(parts.length + 1, buffer.subarray(0, filled)));
      filled = 0;
    };
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let offset = 0; offset < value.byteLength; ) {
        const take = Math.min(buffer.byteLength - filled, value.byteLength - offset);
        buffer.set(value.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === buffer.byteLength) await flushPart();
      }
    }
    if (meter.bytes === 0) throw new TransientError("the origin sent an empty body");
    if (filled > 0) await flushPart();
    await upload.complete(parts);
  } catch (error) {
    await reader.cancel().catch(() => {});
    await upload.abort().catch(() => {});
    if (error instanceof PermanentError || error instanceof TransientError) throw error;
    throw meter.overLimit ?? new TransientError(`streaming failed: ${String(error)}`);
  }
}
