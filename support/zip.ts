// Reading a bundle (a ZIP) back, independently of the library that wrote it: fflate extracts
// the entries; the central directory is walked here for the CRC-32 each entry declares, and
// `crc32` recomputes it from the extracted bytes. Used by the workerd tests, the end-to-end and
// browser tests. No Node imports.

import { unzipSync } from "fflate";

export interface ZipEntry {
  name: string;
  bytes: Uint8Array;
  /** The CRC-32 the central directory records for the entry. */
  declaredCrc32: number;
  /** The compression method (0: stored). */
  method: number;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (ISO-HDLC, the ZIP one) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++)
    crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Where the central directory starts and how many entries it has (ZIP64 aware). */
function centralDirectory(zip: Uint8Array): { offset: number; count: number } {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) !== 0x06054b50) continue;
    const count = view.getUint16(at + 10, true);
    const offset = view.getUint32(at + 16, true);
    if (offset !== 0xffffffff && count !== 0xffff) return { offset, count };
    // ZIP64: the locator just before points at the ZIP64 end record.
    const end64 = Number(view.getBigUint64(at - 20 + 8, true));
    return {
      count: Number(view.getBigUint64(end64 + 32, true)),
      offset: Number(view.getBigUint64(end64 + 48, true)),
    };
  }
  throw new Error("not a ZIP: no end of central directory record");
}

/** Every entry of `zip`, in central-directory order, with its bytes and declared CRC-32. */
export function readZip(zip: Uint8Array): ZipEntry[] {
  const contents = unzipSync(zip);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const decoder = new TextDecoder();
  const { offset, count } = centralDirectory(zip);
  const entries: ZipEntry[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error(`no central directory entry at ${at}`);
    const method = view.getUint16(at + 10, true);
    const declaredCrc32 = view.getUint32(at + 16, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const name = decoder.decode(zip.subarray(at + 46, at + 46 + nameLength));
    const bytes = contents[name];
    if (!bytes) throw new Error(`fflate did not extract ${name}`);
    entries.push({ name, bytes, declaredCrc32, method });
    at += 46 + nameLength + extraLength + commentLength;
  }
  if (entries.length !== Object.keys(contents).length)
    throw new Error("entries differ from the extracted files");
  return entries;
}

/** SHA-256 of bytes, hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
