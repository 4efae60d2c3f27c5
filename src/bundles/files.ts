// The files of a bundle as the ZIP writer takes them: each with its CRC-32 (recorded by the task
// object, or computed here once for a file stored before that) and its R2 object's body, opened
// only when the writer gets to it and checked to be the file planned.

import { crc32 } from "node:zlib";
import { log } from "../core/log";
import type { TaskObject } from "../tasks/task-object";
import { MANIFEST_ENTRY } from "./names";
import type { ZipFile } from "./zip";

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

/** The pieces a file is read in to compute its CRC-32 (native, so their size hardly matters). */
const CHUNK_BYTES = 512 * 1024;

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
      open: async () => (await openEntry(bucket, entry, etag)).body,
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
