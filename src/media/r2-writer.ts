import { LeaseLostError, PermanentError, TransientError } from "./errors";
import type { Heartbeat } from "./heartbeat";

export interface WriteRequest {
  bucket: R2Bucket;
  /** The key in the archive layout. R2 creates the object only when the whole body is in. */
  key: string;
  body: ReadableStream<Uint8Array>;
  /** Declared length, or null for a chunked body. */
  contentLength: number | null;
  maxBytes: number;
  /** Multipart part size for bodies of unknown length (R2 needs ≥ 5 MiB, all equal). */
  partSize: number;
  contentType: string;
  metadata: Record<string, string>;
  /** Where multipart part buffers are accounted; the isolate's shared pool unless given. */
  partBuffers?: PartBufferPool;
  /** Renews the download's lease while bytes flow, and once more before the commit. */
  heartbeat?: Heartbeat;
}

export interface WrittenObject {
  bytes: number;
  sha256: string;
  /** From the response to its last byte: downloading, hashing and streaming into R2. */
  downloadMs: number;
  /** From the last byte until R2 had committed the object (the put's or multipart's end). */
  publishMs: number;
}

/**
 * Reads fill 1 MiB buffers (a BYOB reader where the body supports it): per-chunk work in
 * JavaScript is what makes a hashing pipe slow, so fewer, larger chunks keep the download close
 * to the speed of a bare put (measured: a TransformStream path took ~2x longer).
 */
const READ_SIZE = 1024 * 1024;

/**
 * Reads a body chunk by chunk. From a byte stream each read fills a READ_SIZE buffer, and the
 * caller hands chunks back (`recycle`) once nothing refers to their bytes any more, so a file
 * of any size cycles through the same two or three buffers instead of allocating one per read.
 */
class ChunkReader {
  private readonly byob: ReadableStreamBYOBReader | null = null;
  private readonly plain: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private readonly free: ArrayBuffer[] = [];
  private ended = false;

  constructor(body: ReadableStream<Uint8Array>) {
    try {
      this.byob = body.getReader({ mode: "byob" });
    } catch {
      this.plain = body.getReader(); // not a byte stream: whatever chunks it yields
    }
  }

  /** The next chunk, or null once the body has ended. */
  async read(): Promise<Uint8Array | null> {
    while (!this.ended) {
      if (this.plain) {
        const { done, value } = await this.plain.read();
        if (done) this.ended = true;
        else return value;
        continue;
      }
      const buffer = this.free.pop() ?? new ArrayBuffer(READ_SIZE);
      // readAtLeast (workerd) fills the buffer instead of returning each socket read's bytes;
      // at the end of the stream it returns the rest with `done` already set.
      const { done, value } = await (this.byob as ReadableStreamBYOBReader).readAtLeast(
        READ_SIZE,
        new Uint8Array(buffer),
      );
      if (done) this.ended = true;
      if (value && value.byteLength > 0) return value;
    }
    return null;
  }

  /** Takes back a chunk of `read` whose bytes are no longer needed, to read into again. */
  recycle(chunk: Uint8Array): void {
    if (this.byob && chunk.buffer.byteLength === READ_SIZE) this.free.push(chunk.buffer as ArrayBuffer);
  }

  /** Lets go of the body (which the caller may then cancel). */
  release(): void {
    (this.byob ?? this.plain)?.releaseLock();
  }
}

/** Counts and hashes bytes as they stream past; throws once the size limit is crossed. */
class Meter {
  bytes = 0;
  private readonly digest = new crypto.DigestStream("SHA-256");
  private readonly writer = this.digest.getWriter();

  constructor(private readonly maxBytes: number) {}

  /** Counts and hashes `chunk`; once this resolves the hash no longer needs its bytes. */
  async add(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.byteLength;
    if (this.bytes > this.maxBytes)
      throw new PermanentError(`larger than MAX_MEDIA_BYTES (${this.maxBytes} bytes)`);
    await this.writer.write(chunk);
  }

  async sha256(): Promise<string> {
    await this.writer.close();
    const digest = new Uint8Array(await this.digest.digest);
    return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  }
}

/**
 * Streams a media body into R2 under its archive key without holding it in memory, hashing
 * (SHA-256) and counting on the way: with a known length as one streamed put through a
 * FixedLengthStream (a short or long body fails the put), without one as a multipart upload of
 * `partSize` parts, aborted on any error. Either way R2 creates the object only once every byte
 * is in, so the key never holds a truncated object; the size R2 reports is checked against the
 * bytes hashed. The SHA-256 is known only after the last byte, when the object's custom
 * metadata is already written: it is recorded by the task (status JSON and manifest), not in
 * the object (a second, verified copy carrying it halved the archive's throughput).
 *
 * Throws PermanentError (too large) or TransientError (short, long, empty, interrupted).
 */
export async function writeMedia(request: WriteRequest): Promise<WrittenObject> {
  const { body, contentLength, maxBytes } = request;
  if (contentLength !== null && contentLength > maxBytes) {
    await body.cancel();
    throw new PermanentError(`larger than MAX_MEDIA_BYTES: ${contentLength} > ${maxBytes} bytes`);
  }
  if (contentLength === 0) {
    await body.cancel();
    throw new TransientError("the origin sent an empty body");
  }
  const meter = new Meter(maxBytes);
  const started = Date.now();
  try {
    const { object, lastByteAt } =
      contentLength !== null
        ? await putKnownLength(request, contentLength, meter)
        : await putMultipart(request, meter);
    if (object.size !== meter.bytes) {
      await request.bucket.delete(request.key);
      throw new TransientError(`R2 stored ${object.size} bytes of ${meter.bytes}`);
    }
    return {
      bytes: meter.bytes,
      sha256: await meter.sha256(),
      downloadMs: lastByteAt - started,
      publishMs: Date.now() - lastByteAt,
    };
  } catch (error) {
    await body.cancel().catch(() => {});
    if (error instanceof PermanentError || error instanceof TransientError || error instanceof LeaseLostError)
      throw error;
    throw new TransientError(`streaming failed after ${meter.bytes} bytes: ${String(error)}`);
  }
}

interface Committed {
  object: R2Object;
  lastByteAt: number;
}

const objectOptions = (request: WriteRequest) => ({
  httpMetadata: { contentType: request.contentType },
  customMetadata: request.metadata,
});

async function putKnownLength(request: WriteRequest, length: number, meter: Meter): Promise<Committed> {
  const fixed = new FixedLengthStream(length);
  const put = request.bucket.put(request.key, fixed.readable, objectOptions(request));
  // A failing body rejects the put before the error path below gets to await it.
  put.catch(() => {});
  const writer = fixed.writable.getWriter();
  writer.closed.catch(() => {});
  const reader = new ChunkReader(request.body);
  // One write in flight while the next chunk is read: R2 takes a chunk as the origin sends one.
  let writing: Promise<void> = Promise.resolve();
  let written: Uint8Array | null = null;
  try {
    for (let chunk = await reader.read(); chunk; chunk = await reader.read()) {
      await meter.add(chunk);
      if (meter.bytes > length)
        throw new TransientError(`the body is longer than its Content-Length (${length})`);
      await writing;
      if (written) reader.recycle(written);
      writing = writer.write(chunk);
      writing.catch(() => {}); // awaited before the next write or the close
      written = chunk;
      await request.heartbeat?.beat();
    }
    await writing;
    if (meter.bytes < length)
      throw new TransientError(`the body ended after ${meter.bytes} of ${length} bytes`);
    await request.heartbeat?.confirm(); // the close commits the object: only under our lease
    await writer.close();
    const lastByteAt = Date.now();
    return { object: await put, lastByteAt };
  } catch (error) {
    await writer.abort(error).catch(() => {});
    await put.catch(() => {});
    if (error instanceof PermanentError || error instanceof TransientError || error instanceof LeaseLostError)
      throw error;
    throw new TransientError(`the body ended after ${meter.bytes} of ${length} bytes: ${String(error)}`);
  } finally {
    reader.release();
  }
}

/**
 * Bytes of multipart part buffers this isolate may hold at once. Every chunked download needs
 * one buffer; a second one, which lets the next part be read while the previous one uploads,
 * is taken only while the total stays within this budget, so a batch of chunked downloads
 * stays well inside the isolate's 128 MB.
 */
export const PART_BUFFER_BUDGET = 48 * 1024 * 1024;

/** Accounts for the part buffers of concurrent multipart uploads against a byte budget. */
export class PartBufferPool {
  inUse = 0;
  /** The most bytes held at once. */
  peak = 0;

  constructor(readonly budget: number) {}

  /** A buffer of `size` bytes: always when `required`, otherwise only within the budget. */
  take(size: number, required: boolean): Uint8Array | null {
    if (!required && this.inUse + size > this.budget) return null;
    this.inUse += size;
    this.peak = Math.max(this.peak, this.inUse);
    return new Uint8Array(size);
  }

  give(bytes: number): void {
    this.inUse -= bytes;
  }
}

/** The part buffers of this isolate, shared by every download it runs. */
const isolatePartBuffers = new PartBufferPool(PART_BUFFER_BUDGET);

/**
 * Feeds a multipart upload part by part, one upload in flight while the next part fills.
 * Parts are numbered in order; all but the last are exactly `partSize` bytes, as R2 requires.
 */
class PartUploader {
  private readonly parts: R2UploadedPart[] = [];
  private inFlight: { done: Promise<void>; buffer: Uint8Array } | null = null;
  private part: Uint8Array;
  private filled = 0;
  private owned = 0;

  constructor(
    private readonly upload: R2MultipartUpload,
    private readonly partSize: number,
    private readonly pool: PartBufferPool,
  ) {
    this.part = this.takeBuffer(true) as Uint8Array;
  }

  async write(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.byteLength; ) {
      const n = Math.min(this.partSize - this.filled, chunk.byteLength - offset);
      this.part.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.partSize) await this.send(false);
    }
  }

  /** Uploads what is left and waits for every part; returns them for `complete`. */
  async finish(): Promise<R2UploadedPart[]> {
    if (this.filled > 0) await this.send(true);
    await this.inFlight?.done;
    return this.parts;
  }

  /** Waits for the part in flight, ignoring its outcome, and gives the buffers back. */
  async release(): Promise<void> {
    await this.inFlight?.done.catch(() => {});
    this.inFlight = null;
    this.pool.give(this.owned);
    this.owned = 0;
  }

  private async send(last: boolean): Promise<void> {
    let spare: Uint8Array | null = null;
    if (this.inFlight) {
      await this.inFlight.done;
      spare = this.inFlight.buffer;
      this.inFlight = null;
    }
    const partNumber = this.parts.length + 1;
    const buffer = this.part;
    const done = this.upload.uploadPart(partNumber, buffer.subarray(0, this.filled)).then((uploaded) => {
      this.parts.push(uploaded);
    });
    done.catch(() => {}); // awaited by the next send, finish or release
    this.inFlight = { done, buffer };
    this.filled = 0;
    if (last) return;
    const next = spare ?? this.takeBuffer(false);
    if (next) {
      this.part = next;
      return;
    }
    await done; // no budget for a second buffer: wait, then fill this one again
    this.inFlight = null;
  }

  private takeBuffer(required: boolean): Uint8Array | null {
    const buffer = this.pool.take(this.partSize, required);
    if (buffer) this.owned += this.partSize;
    return buffer;
  }
}

async function putMultipart(request: WriteRequest, meter: Meter): Promise<Committed> {
  const upload = await request.bucket.createMultipartUpload(request.key, objectOptions(request));
  const uploader = new PartUploader(upload, request.partSize, request.partBuffers ?? isolatePartBuffers);
  const reader = new ChunkReader(request.body);
  try {
    for (let chunk = await reader.read(); chunk; chunk = await reader.read()) {
      await meter.add(chunk);
      await uploader.write(chunk); // copies the bytes into its part buffer
      reader.recycle(chunk);
      await request.heartbeat?.beat();
    }
    if (meter.bytes === 0) throw new TransientError("the origin sent an empty body");
    const parts = await uploader.finish();
    await request.heartbeat?.confirm(); // complete() commits the object: only under our lease
    const lastByteAt = Date.now();
    return { object: await upload.complete(parts), lastByteAt };
  } catch (error) {
    await uploader.release(); // so that no part is still uploading when the upload is aborted
    await upload.abort().catch(() => {});
    throw error;
  } finally {
    reader.release();
    await uploader.release(); // idempotent; gives the part buffers back after a success too
  }
}
