import { ChunkReader, Meter, messageOf } from "./body-reader";
import { LeaseLostError, PermanentError, TransientError } from "./errors";
import type { Heartbeat } from "./heartbeat";
import { isolatePartBuffers, type PartBufferPool, PartUploader } from "./part-buffers";

export { PART_BUFFER_BUDGET, PartBufferPool } from "./part-buffers";

export interface WriteTarget {
  /** The key in the archive layout. R2 creates the object only when the whole body is in. */
  key: string;
  contentType: string;
}

export interface WriteRequest {
  bucket: R2Bucket;
  /**
   * Where the object goes and what it is, decided from the body's first `headBytes` bytes (fewer
   * only if the body is shorter) before anything is written to R2. Throwing refuses the body:
   * then nothing was put and no multipart upload was started.
   */
  place: (head: Uint8Array) => WriteTarget | Promise<WriteTarget>;
  /** How many first bytes `place` needs to see. Default 1. */
  headBytes?: number;
  body: ReadableStream<Uint8Array>;
  /** Declared length, or null for a chunked body. */
  contentLength: number | null;
  maxBytes: number;
  /** Multipart part size for bodies of unknown length (R2 needs ≥ 5 MiB, all equal). */
  partSize: number;
  /** A body that sends no byte for this long fails (TransientError). Default: no limit. */
  idleTimeoutMs?: number;
  metadata: Record<string, string>;
  /** Where multipart part buffers are accounted; the isolate's shared pool unless given. */
  partBuffers?: PartBufferPool;
  /** Renews the download's lease while bytes flow, and once more before the commit. */
  heartbeat?: Heartbeat;
}

export interface WrittenObject extends WriteTarget {
  bytes: number;
  sha256: string;
  /** CRC-32 of the stored bytes (see Meter). */
  crc32: number;
  /** From the response to its last byte: downloading, hashing and streaming into R2. */
  downloadMs: number;
  /** From the last byte until R2 had committed the object (the put's or multipart's end). */
  publishMs: number;
}

/**
 * Streams a media body into R2 under its archive key without holding it in memory, hashing
 * (SHA-256 and CRC-32) and counting on the way: with a known length as one streamed put through a
 * FixedLengthStream (a short or long body fails the put), without one as a multipart upload of
 * `partSize` parts, aborted on any error. Either way R2 creates the object only once every byte
 * is in, so the key never holds a truncated object; the size R2 reports is checked against the
 * bytes hashed. The SHA-256 is known only after the last byte, when the object's custom
 * metadata is already written: it is recorded by the task (status JSON and manifest), not in
 * the object (a second, verified copy carrying it halved the archive's throughput).
 *
 * The body's first bytes are read before anything is written: `place` decides from them where
 * the object goes and what it is, or refuses it (nothing is then written at all).
 *
 * Throws PermanentError (too large, or refused by `place`) or TransientError (short, long, empty,
 * interrupted, idle).
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
  const reader = new ChunkReader(body, request.idleTimeoutMs ?? null, contentLength);
  const meter = new Meter(maxBytes);
  const started = Date.now();
  try {
    const target = await request.place(await readHead(reader, request.headBytes ?? 1));
    const { object, lastByteAt } =
      contentLength !== null
        ? await putKnownLength(request, target, reader, contentLength, meter)
        : await putMultipart(request, target, reader, meter);
    if (object.size !== meter.bytes) {
      await request.bucket.delete(target.key);
      throw new TransientError(`R2 stored ${object.size} bytes of ${meter.bytes}`);
    }
    return {
      ...target,
      bytes: meter.bytes,
      sha256: await meter.sha256(),
      crc32: meter.crc32,
      downloadMs: lastByteAt - started,
      publishMs: Date.now() - lastByteAt,
    };
  } catch (error) {
    await reader.cancel(error);
    if (error instanceof PermanentError || error instanceof TransientError || error instanceof LeaseLostError)
      throw error;
    throw new TransientError(`streaming failed after ${reader.received} bytes: ${messageOf(error)}`);
  } finally {
    reader.release();
  }
}

/**
 * Reads chunks until `bytes` have come (or the body ended), gives them back to the reader to be
 * read again, and returns them as one view (a copy only if they span several chunks).
 */
async function readHead(reader: ChunkReader, bytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < bytes) {
    const chunk = await reader.read();
    if (!chunk) break;
    chunks.push(chunk);
    total += chunk.byteLength;
  }
  if (total === 0) throw new TransientError("the origin sent an empty body");
  reader.pushBack(chunks);
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const head = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    head.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return head;
}

interface Committed {
  object: R2Object;
  lastByteAt: number;
}

const objectOptions = (request: WriteRequest, target: WriteTarget) => ({
  httpMetadata: { contentType: target.contentType },
  customMetadata: request.metadata,
});

async function putKnownLength(
  request: WriteRequest,
  target: WriteTarget,
  reader: ChunkReader,
  length: number,
  meter: Meter,
): Promise<Committed> {
  const fixed = new FixedLengthStream(length);
  const put = request.bucket.put(target.key, fixed.readable, objectOptions(request, target));
  // A failing body rejects the put before the error path below gets to await it.
  put.catch(() => {});
  const writer = fixed.writable.getWriter();
  writer.closed.catch(() => {});
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
      // R2 commits the object once its last byte is in: only while our lease holds.
      if (meter.bytes === length) await request.heartbeat?.confirm();
      writing = writer.write(chunk);
      writing.catch(() => {}); // awaited before the next write or the close
      written = chunk;
      await request.heartbeat?.beat();
    }
    await writing;
    if (meter.bytes < length)
      throw new TransientError(`the body ended after ${reader.received} of ${length} bytes`);
    await writer.close();
    const lastByteAt = Date.now();
    return { object: await put, lastByteAt };
  } catch (error) {
    await writer.abort(error).catch(() => {});
    await put.catch(() => {});
    throw error;
  }
}

async function putMultipart(
  request: WriteRequest,
  target: WriteTarget,
  reader: ChunkReader,
  meter: Meter,
): Promise<Committed> {
  const upload = await request.bucket.createMultipartUpload(target.key, objectOptions(request, target));
  const uploader = new PartUploader(upload, request.partSize, request.partBuffers ?? isolatePartBuffers);
  try {
    for (let chunk = await reader.read(); chunk; chunk = await reader.read()) {
      await meter.add(chunk);
      await uploader.write(chunk); // copies the bytes into its part buffer
      reader.recycle(chunk);
      await request.heartbeat?.beat();
    }
    const parts = await uploader.finish();
    await request.heartbeat?.confirm(); // complete() commits the object: only under our lease
    const lastByteAt = Date.now();
    return { object: await upload.complete(parts), lastByteAt };
  } catch (error) {
    await uploader.release(); // so that no part is still uploading when the upload is aborted
    await upload.abort().catch(() => {});
    throw error;
  } finally {
    await uploader.release(); // idempotent; gives the part buffers back after a success too
  }
}
