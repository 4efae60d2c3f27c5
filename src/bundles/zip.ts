// The bundle's ZIP. Every byte of its structure (local headers, central directory, ZIP64 records)
// is zip.js's; the files' own bytes never pass through JavaScript. Each entry is stored as it is,
// so its data in the ZIP is exactly the file: zip.js is given a placeholder of the file's length
// in its place, and what it writes around the placeholders is the ZIP's *layout* (zipLayout).
// Writing the ZIP (writeZip) is then the layout's bytes with each file's R2 object piped natively
// in its place: no more CPU than /media. Laying out costs CPU in proportion to the files' sizes
// (zip.js copies the placeholders through its streams), so a layout is made once and kept (see
// src/bundles/plan.ts). The length comes from zip.js too, from the same entries without any data.

// The filesystem API without web workers or WebAssembly (workerd has no workers and refuses
// WebAssembly compiled from bytes): no codec runs at all, since every entry is stored with the
// CRC-32 recorded when it was archived.
import { configure, fs, type ZipDirectoryEntry } from "@zip.js/zip.js/lib/zip-fs-core-native.js";
import { fromBase64Url, toBase64Url } from "../core/crypto";

/**
 * The size of the pieces zip.js passes from one of its streams to the next (it re-cuts what it
 * reads to this size, copying each piece twice): only placeholders pass. Each piece costs promise
 * hops in each stream, so smaller pieces cost more CPU per GiB laid out; larger ones more memory.
 * Measured in workerd (a 1 GiB bundle laid out while it was written, Worker CPU per GiB including
 * the 0.9 s of the native pipe): 64 KiB 3.4 s, 256 KiB 1.9 s, 1 MiB 1.4 s, 4 MiB 1.3 s, 8 MiB
 * 1.3 s; 16 MiB grew the RSS by up to 140 MB.
 */
const ZIP_CHUNK_BYTES = 4 * 1024 * 1024;

configure({ useWebWorkers: false, chunkSize: ZIP_CHUNK_BYTES });

/** One file of the ZIP. `crc32` and `open` are needed to write it, not to know its length. */
export interface ZipFile {
  name: string;
  size: number;
  crc32?: number;
  lastModified?: Date;
  /** Its bytes, exactly `size` of them; called when the ZIP gets to the file. */
  open?: () => ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>;
}

/**
 * How every entry is written, for the length and for the bytes alike: stored as it is (no
 * compression, the CRC-32 given rather than computed), its sizes and CRC-32 in the local header
 * (no data descriptor), one entry after another straight to the output (nothing buffered). zip.js
 * switches to ZIP64 where an entry or an offset needs it.
 */
const EXPORT_OPTIONS = {
  passThrough: true,
  level: 0,
  compressionMethod: 0,
  dataDescriptor: false,
  bufferedWrite: false,
  useWebWorkers: false,
} as const;

/** What zip.js reads in place of a file: never written to, enqueued again and again. */
const ZEROS = new Uint8Array(ZIP_CHUNK_BYTES);

/**
 * `size` zero bytes. `due` is called at the first read, when zip.js has written the entry's local
 * header and starts on its data (the stream waits to be read: highWaterMark 0).
 */
function placeholder(size: number, due: () => void): ReadableStream<Uint8Array> {
  let left = size;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (!started) {
          started = true;
          due();
        }
        const n = Math.min(ZIP_CHUNK_BYTES, left);
        if (n > 0) controller.enqueue(n === ZIP_CHUNK_BYTES ? ZEROS : ZEROS.subarray(0, n));
        left -= n;
        if (left === 0) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

function zipTree(files: ZipFile[], due?: (file: ZipFile) => void): ZipDirectoryEntry {
  const tree = new fs.FS();
  for (const file of files) {
    // addFile takes a File, of which it uses these four members (stream() when the export starts).
    const source = {
      name: file.name,
      size: file.size,
      lastModified: (file.lastModified ?? new Date(0)).getTime(),
      stream: () => placeholder(file.size, () => due?.(file)),
    };
    tree.addFile(source as unknown as File, { crc32: file.crc32, uncompressedSize: file.size });
  }
  return tree.root;
}

/** The exact length of the ZIP of `files`, as zip.js will write it. */
export function zipLength(files: ZipFile[]): Promise<number> {
  return zipTree(files).getExportedSize(EXPORT_OPTIONS);
}

/**
 * The ZIP's bytes other than the files', in order, with each file's place: what zip.js writes for
 * `files`, the placeholders taken out. A file of zero bytes has no place (nothing to write).
 */
export interface ZipLayout {
  length: number;
  /** zip.js's bytes, and (a number) where the file of that index goes. */
  parts: (Uint8Array | number)[];
}

/**
 * Records zip.js's output as a layout. zip.js writes one entry at a time: its local header, then
 * (once the placeholder is first read: `due`) exactly the file's size in placeholder bytes.
 */
class LayoutRecorder {
  readonly parts: (Uint8Array | number)[] = [];
  length = 0;
  private pending: Uint8Array[] = [];
  /** The file whose placeholder bytes are arriving, and how many are still to come. */
  private current: { index: number; name: string; left: number } | null = null;

  due(index: number, file: ZipFile): void {
    if (this.current) throw new Error(`zip: ${file.name} began inside ${this.current.name}'s data`);
    if (file.size === 0) return;
    this.flush();
    this.parts.push(index);
    this.current = { index, name: file.name, left: file.size };
  }

  write(chunk: Uint8Array): void {
    this.length += chunk.byteLength;
    let at = 0;
    while (at < chunk.byteLength) {
      const current = this.current;
      if (!current) {
        this.pending.push(chunk.slice(at));
        return;
      }
      const n = Math.min(current.left, chunk.byteLength - at);
      // A placeholder starts and ends with zero bytes; zip.js's own bytes (a signature) do not.
      if (chunk[at] !== 0 || chunk[at + n - 1] !== 0) {
        throw new Error(`zip: unexpected bytes in place of ${current.name}`);
      }
      current.left -= n;
      at += n;
      if (current.left === 0) this.current = null;
    }
  }

  finish(): ZipLayout {
    if (this.current) throw new Error(`zip: ended inside ${this.current.name}'s data`);
    this.flush();
    return { length: this.length, parts: this.parts };
  }

  /** The bytes written since the last file, as one part. */
  private flush(): void {
    if (this.pending.length === 0) return;
    const part = new Uint8Array(this.pending.reduce((sum, piece) => sum + piece.byteLength, 0));
    let at = 0;
    for (const piece of this.pending) {
      part.set(piece, at);
      at += piece.byteLength;
    }
    this.parts.push(part);
    this.pending = [];
  }
}

/**
 * The layout of the ZIP of `files` (their CRC-32s needed, their bytes not): zip.js writes it
 * around placeholders, which costs CPU in proportion to the files' sizes (zip.js copies what
 * passes through it), once; writing the ZIP from it costs next to none.
 */
export async function zipLayout(files: ZipFile[]): Promise<ZipLayout> {
  const recorder = new LayoutRecorder();
  await zipTree(files, (file) => recorder.due(files.indexOf(file), file)).exportZip(
    new WritableStream<Uint8Array>({ write: (chunk) => recorder.write(chunk) }),
    EXPORT_OPTIONS,
  );
  return recorder.finish();
}

/** A layout as text, to be kept (base64url for zip.js's bytes). */
export function encodeLayout(layout: ZipLayout): string {
  const parts = layout.parts.map((part) => (typeof part === "number" ? part : toBase64Url(part)));
  return JSON.stringify({ length: layout.length, parts });
}

/** A layout kept by encodeLayout; null if the text is not one. */
export function decodeLayout(text: string): ZipLayout | null {
  try {
    const { length, parts } = JSON.parse(text) as { length: unknown; parts: unknown };
    if (typeof length !== "number" || !Array.isArray(parts)) return null;
    const decoded = parts.map((part: unknown) =>
      typeof part === "number" ? part : typeof part === "string" ? fromBase64Url(part) : null,
    );
    return decoded.every((part) => part !== null) ? { length, parts: decoded } : null;
  } catch {
    return null;
  }
}

/**
 * Writes the ZIP of `files` as `layout` lays it out to `output`, and closes it: zip.js's bytes,
 * and each file piped in its place (natively, where both ends are native streams: R2 to the
 * response). On a failure (a file that fails to open or read) `output` is aborted, so that whoever
 * reads it sees an error, never a complete-looking ZIP; `open` must give exactly `size` bytes.
 */
export async function writeZip(
  layout: ZipLayout,
  files: ZipFile[],
  output: WritableStream<Uint8Array>,
): Promise<void> {
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = output.getWriter();
  try {
    for (const part of layout.parts) {
      if (part instanceof Uint8Array) {
        writer ??= output.getWriter();
        await writer.write(part);
        continue;
      }
      const open = files[part]?.open;
      if (!open) throw new Error("a ZIP planned for its length only cannot be written");
      const bytes = await open();
      writer?.releaseLock();
      writer = null;
      await bytes.pipeTo(output, { preventClose: true, preventAbort: true });
    }
    writer ??= output.getWriter();
    await writer.close();
  } catch (error) {
    writer ??= output.getWriter();
    await writer.abort(error).catch(() => {});
    throw error;
  }
}
