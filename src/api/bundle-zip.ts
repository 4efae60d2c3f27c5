// The bundle's ZIP, as zip.js lays it out: one tree of entries gives both the exact length (before
// the first byte, from zip.js itself) and the bytes, so the two cannot disagree.

// The filesystem API without web workers or WebAssembly (workerd has no workers and refuses
// WebAssembly compiled from bytes): no codec runs at all, since every entry is stored with the
// CRC-32 recorded when it was archived.
import { configure, fs, type ZipDirectoryEntry } from "@zip.js/zip.js/lib/zip-fs-core-native.js";

/**
 * The size of the pieces zip.js passes from one of its streams to the next (it re-cuts what it
 * reads to this size): each piece costs a few promise hops in each, so larger pieces, fewer hops.
 */
export const ZIP_CHUNK_BYTES = 1024 * 1024;

configure({ useWebWorkers: false, chunkSize: ZIP_CHUNK_BYTES });

/** One file of the ZIP. `crc32` and `open` are needed to write it, not to know its length. */
export interface ZipFile {
  name: string;
  size: number;
  crc32?: number;
  lastModified?: Date;
  /** Its bytes: a stream that starts reading only when it is first pulled. */
  open?: () => ReadableStream<Uint8Array>;
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

const unopened = (): ReadableStream<Uint8Array> => {
  throw new Error("a ZIP planned for its length only cannot be written");
};

function zipTree(files: ZipFile[]): ZipDirectoryEntry {
  const tree = new fs.FS();
  for (const file of files) {
    // addFile takes a File, of which it uses these four members: a File's bytes are read only
    // through stream(), called when the export starts, so each R2 object opens when it is due.
    const source = {
      name: file.name,
      size: file.size,
      lastModified: (file.lastModified ?? new Date(0)).getTime(),
      stream: file.open ?? unopened,
    };
    tree.addFile(source as unknown as File, { crc32: file.crc32, uncompressedSize: file.size });
  }
  return tree.root;
}

/** The exact length of the ZIP of `files`, as zip.js will write it. */
export function zipLength(files: ZipFile[]): Promise<number> {
  return zipTree(files).getExportedSize(EXPORT_OPTIONS);
}

/** Writes the ZIP of `files` (each with its CRC-32 and `open`) to `output`, and closes it. */
export async function writeZip(files: ZipFile[], output: WritableStream<Uint8Array>): Promise<void> {
  await zipTree(files).exportZip(output, EXPORT_OPTIONS);
}
