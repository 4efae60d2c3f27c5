// The files of a bundle as the ZIP writer takes them: each with its CRC-32 (recorded by the task
// object, or computed here once for a file stored before that) and a stream that opens its R2
// object only when the writer gets to it.

import { crc32 } from "node:zlib";
import { log } from "../core/log";
import type { TaskObject } from "../tasks/task-object";
import { MANIFEST_ENTRY } from "./bundle-names";
import { ZIP_CHUNK_BYTES, type ZipFile } from "./bundle-zip";

/** One stored file of the bundle: where it is in R2, what it is called in the ZIP. */
export interface BundleEntry {
  name: string;
  key: string;
  size: number;
  sha256: string | null;
}

export type TaskStub = DurableObjectStub<TaskObject>;

/** An R2 object of the plan that is gone or is not the file the task object recorded. */
export class BundleObjectChanged extends Error {
  constructor(key: string, what: string) {
    super(`bundle aborted: ${key} ${what}`);
  }
}

/**
 * Pieces of an R2 body of this size rather than the few KiB it comes in: the writer's work is per
 * piece (a few promise hops), so fewer pieces cost less. Half of zip.js's own pieces, which it
 * assembles from these by copying: two of these are still in the CPU's cache when it does
 * (measured in workerd, interleaved runs: about a fifth less time than pieces as large as zip.js's).
 */
const CHUNK_BYTES = ZIP_CHUNK_BYTES / 2;

/** The planned entry's R2 object, or BundleObjectChanged if it is gone or another one now. */
async function openEntry(bucket: R2Bucket, entry: BundleEntry, etag: string | null): Promise<R2ObjectBody> {
  const object = await bucket.get(entry.key);
  if (!object) throw new BundleObjectChanged(entry.key, "is gone");
  if (object.size !== entry.size || (etag !== null && object.etag !== etag)) {
    await object.body.cancel();
    const what = object.size !== entry.size ? `has ${object.size} bytes, not ${entry.size}` : "was replaced";
    throw new BundleObjectChanged(entry.key, what);
  }
  return object;
}

/**
 * The entry's bytes, in CHUNK_BYTES pieces, from an R2 read begun at the first pull: the writer
 * takes every file's stream when it starts, and reads them one after another.
 */
function entryStream(bucket: R2Bucket, entry: BundleEntry, etag: string | null): ReadableStream<Uint8Array> {
  let reader: ReadableStreamBYOBReader | null = null;
  // The next piece is read while the writer handles this one.
  let next: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
  const readPiece = (from: ReadableStreamBYOBReader) => {
    const read = from.readAtLeast(CHUNK_BYTES, new Uint8Array(CHUNK_BYTES));
    read.catch(() => {}); // awaited by the next pull, unless the stream is cancelled first
    return read;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        reader ??= (await openEntry(bucket, entry, etag)).body.getReader({ mode: "byob" });
        const read = await (next ?? readPiece(reader));
        next = read.done ? null : readPiece(reader);
        if (read.value && read.value.byteLength > 0) controller.enqueue(read.value);
        if (read.done) controller.close();
      },
      // The download was abandoned or the ZIP failed: let R2 stop sending.
      cancel: (reason) => reader?.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/**
 * The CRC-32 of a file stored before it was recorded: one pass over its R2 object (native, in
 * constant memory), then recorded by the task object so that the next bundle need not read it.
 * Returns it with the object's etag, so that the bytes zipped are the bytes summed.
 */
async function computeCrc32(bucket: R2Bucket, task: TaskStub, entry: BundleEntry) {
  const object = await openEntry(bucket, entry, null);
  const reader = object.body.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(CHUNK_BYTES);
  let crc = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (value) {
      crc = crc32(value, crc);
      buffer = value.buffer as ArrayBuffer; // the read transferred it: go on with the one returned
    }
    if (done) break;
  }
  const recorded = await task.recordCrc32(entry.key, entry.size, entry.sha256, crc);
  log.info("bundle_crc32_computed", { key: entry.key, bytes: entry.size, recorded });
  return { crc32: crc, etag: object.etag };
}

/**
 * The ZIP's files: the planned entries, each with its CRC-32 and its modification date as the
 * task object recorded them, then the manifest. Throws BundleObjectChanged if a planned file is
 * no longer the stored one.
 */
export async function bundleFiles(
  bucket: R2Bucket,
  task: TaskStub,
  entries: BundleEntry[],
  manifest: { text: string; lastModified: Date },
): Promise<ZipFile[]> {
  const stored = new Map((await task.storedFiles()).map((file) => [file.key, file]));
  const files: ZipFile[] = [];
  for (const entry of entries) {
    const file = stored.get(entry.key);
    if (!file || file.bytes !== entry.size || file.sha256 !== entry.sha256) {
      throw new BundleObjectChanged(entry.key, "is no longer the file planned");
    }
    const { crc32, etag } =
      file.crc32 === null ? await computeCrc32(bucket, task, entry) : { crc32: file.crc32, etag: null };
    files.push({
      name: entry.name,
      size: entry.size,
      crc32,
      lastModified: new Date(file.storedAt),
      open: () => entryStream(bucket, entry, etag),
    });
  }
  const bytes = new TextEncoder().encode(manifest.text);
  files.push({
    name: MANIFEST_ENTRY,
    size: bytes.byteLength,
    crc32: crc32(bytes),
    lastModified: manifest.lastModified,
    open: () => new Blob([bytes]).stream(),
  });
  return files;
}
