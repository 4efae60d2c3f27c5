import { sha256Hex } from "../core/crypto";
import { manifestKey } from "../core/keys";
import { log } from "../core/log";
import type { AssetStatus, TaskStatus } from "../tasks/status";
import { type BundleEntry, BundleObjectChanged, bundleFiles, type TaskStub } from "./files";
import { bundleEntryNames, MANIFEST_ENTRY } from "./names";
import {
  decodeLayout,
  encodeLayout,
  writeZip,
  type ZipFile,
  type ZipLayout,
  zipLayout,
  zipLength,
} from "./zip";

/**
 * Everything about a task's bundle that is known before its first byte: the entries in order,
 * the manifest (small JSON, held as text), the exact ZIP length and the entity tag.
 */
export interface BundlePlan {
  /** Every asset is stored and the task is finished (`archive.state` is `archived`). */
  complete: boolean;
  /** The assets not stored (queued, downloading or failed): what a partial bundle lacks. */
  missing: AssetStatus[];
  entries: BundleEntry[];
  manifest: { text: string; lastModified: Date };
  length: number;
  etag: string;
}

const encoder = new TextEncoder();

/** The asset is a stored file (one a bundle holds). */
export const stored = (asset: AssetStatus) =>
  asset.state === "stored" && asset.key !== null && asset.bytes !== null;

/** The set of stored files a status describes: key and SHA-256, in order. */
const storedFiles = (assets: AssetStatus[]) =>
  assets.filter(stored).map((asset) => `${asset.key}\n${asset.sha256}`);

/**
 * The manifest the bundle carries. A settled task (archived, or settled with a failed file) has
 * `<kind>/<taskId>/manifest.json` in R2, which is used as it is — unless it describes other
 * files than those stored now (written for an earlier settled state; the task object rewrites
 * it right after a change). Otherwise the status JSON itself, plus `missing`: the names of the
 * assets not stored, so a partial bundle says what it lacks.
 */
async function manifestOf(bucket: R2Bucket, status: TaskStatus): Promise<BundlePlan["manifest"]> {
  const settled = status.archive.state === "archived" || status.archive.state === "failed";
  if (settled) {
    const object = await bucket.get(manifestKey(status.kind, status.taskId));
    if (object) {
      const text = await object.text();
      if (describesStoredFiles(text, status)) return { text, lastModified: object.uploaded };
    }
  }
  const missing = status.assets.filter((asset) => !stored(asset)).map((asset) => asset.name);
  const changedAt = status.callbacks.lastAt ?? status.createdAt;
  return { text: JSON.stringify({ ...status, missing }, null, 2), lastModified: new Date(changedAt) };
}

function describesStoredFiles(text: string, status: TaskStatus): boolean {
  try {
    const manifest = JSON.parse(text) as Partial<TaskStatus>;
    const theirs = storedFiles(manifest.assets ?? []);
    const ours = storedFiles(status.assets);
    return theirs.length === ours.length && theirs.every((file, i) => file === ours[i]);
  } catch {
    return false;
  }
}

/** Plans the bundle of `status` (the task object's own status, without links). */
export async function planBundle(bucket: R2Bucket, status: TaskStatus): Promise<BundlePlan> {
  const files = status.assets.filter(stored);
  const names = bundleEntryNames(status.kind, status.tracks, files as { key: string }[]);
  const entries = files.map((asset, i) => ({
    name: names[i] as string,
    key: asset.key as string,
    size: asset.bytes as number,
    sha256: asset.sha256,
  }));
  const manifest = await manifestOf(bucket, status);
  const manifestSize = encoder.encode(manifest.text).byteLength;
  const length = await zipLength([
    ...entries.map(({ name, size }) => ({ name, size })),
    { name: MANIFEST_ENTRY, size: manifestSize },
  ]);
  // Weak: the same files and manifest may carry other modification dates in the ZIP's headers
  // (a file archived again with the same bytes), which changes no file a user extracts.
  const tag = await sha256Hex(JSON.stringify({ entries, manifest: manifest.text }));
  return {
    complete: status.archive.state === "archived",
    missing: status.assets.filter((asset) => !stored(asset)),
    entries,
    manifest,
    length,
    etag: `W/"${tag.slice(0, 40)}"`,
  };
}

/**
 * The layout of the ZIP of `files`: the one the task object keeps for exactly these files (names,
 * sizes, CRC-32s, dates), else laid out now and given to it to keep. Keeping it is best effort.
 */
async function layoutOf(
  task: TaskStub,
  taskId: string,
  files: ZipFile[],
  length: number,
): Promise<ZipLayout> {
  const key = await sha256Hex(
    JSON.stringify(files.map((file) => [file.name, file.size, file.crc32, file.lastModified?.getTime()])),
  );
  const kept = await task.bundleLayout(key);
  const layout = kept === null ? null : decodeLayout(kept);
  if (layout?.length === length) return layout;
  if (kept !== null)
    log.warn("bundle_layout_unusable", { taskId, kept: layout?.length ?? null, planned: length });
  const laidOut = await zipLayout(files);
  log.info("bundle_laid_out", { taskId, entries: files.length, bytes: length });
  await task.saveBundleLayout(key, encodeLayout(laidOut)).catch((error: unknown) => {
    log.warn("bundle_layout_not_kept", { taskId, error });
  });
  return laidOut;
}

/**
 * From this many stored bytes on, a task's bundle is laid out as soon as it is archived rather
 * than by its first download. Laying out costs CPU in proportion to the bytes, and a download
 * that must lay out runs at about 0.8 of /media's rate: on a small task that is milliseconds
 * either way, and laying out every small task ahead would cost every archived task some
 * subrequests and CPU beside the callbacks' acks (measured in the ack bench), for bundles few
 * of them are downloaded as.
 */
export const LAY_OUT_AHEAD_BYTES = 16 * 1024 * 1024;

/**
 * Lays out the bundle of a task that a stored file has just archived (`status`, the task
 * object's), if it is large enough to be worth it (LAY_OUT_AHEAD_BYTES) and not laid out
 * already: run by the consumer, so that a download only writes it. Best effort: a bundle not
 * laid out here is laid out by its first download.
 */
export async function layOutBundle(bucket: R2Bucket, task: TaskStub, status: TaskStatus): Promise<void> {
  const bytes = status.assets.filter(stored).reduce((sum, asset) => sum + (asset.bytes ?? 0), 0);
  if (bytes < LAY_OUT_AHEAD_BYTES) return;
  const plan = await planBundle(bucket, status);
  const files = await bundleFiles(bucket, task, plan.entries, plan.manifest);
  await layoutOf(task, status.taskId, files, plan.length);
}

/**
 * The ZIP, streamed: zip.js's headers from the task's layout, and between them each file's R2
 * object piped natively into the response, one at a time (zip.ts); no compression, each
 * entry's CRC-32 the one the task object recorded (computed once for a file stored before that,
 * see files.ts). The FixedLengthStream holds it to the planned length, and any failure (an
 * object that vanished or changed, an R2 read error) aborts it: the client sees a broken
 * connection, never a complete-looking ZIP.
 */
export function streamBundle(
  bucket: R2Bucket,
  task: TaskStub,
  taskId: string,
  plan: BundlePlan,
): ReadableStream {
  const fixed = new FixedLengthStream(plan.length);
  const write = async () => {
    try {
      const files = await bundleFiles(bucket, task, plan.entries, plan.manifest);
      await writeZip(await layoutOf(task, taskId, files, plan.length), files, fixed.writable);
    } catch (error) {
      // writeZip aborts the stream itself on a failure of its own; this one is for the rest.
      await fixed.writable.abort(error).catch(() => {});
      if (error instanceof BundleObjectChanged) log.error("bundle_aborted", { taskId, error });
      else log.warn("bundle_aborted", { taskId, error });
    }
  };
  void write();
  return fixed.readable;
}
