import { describe, expect, it } from "vitest";
import {
  decodeLayout,
  encodeLayout,
  writeZip,
  type ZipFile,
  zipLayout,
  zipLength,
} from "../../src/bundles/zip";
import { crc32, readZip } from "../../support/zip";

const GIB = 1024 * 1024 * 1024;
const PIECE = 4 * 1024 * 1024;

/** `size` zero bytes, in pieces of PIECE (one buffer, never written to, enqueued again and again). */
function zeros(size: number): ReadableStream<Uint8Array> {
  const piece = new Uint8Array(PIECE);
  let left = size;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const n = Math.min(PIECE, left);
        controller.enqueue(n === PIECE ? piece : piece.subarray(0, n));
        left -= n;
        if (left === 0) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Writes the ZIP of `files`, counting its bytes and keeping only its last `tail` bytes. */
async function written(files: ZipFile[], tail: number) {
  let bytes = 0;
  let last = new Uint8Array(0);
  await writeZip(
    await zipLayout(files),
    files,
    new WritableStream<Uint8Array>({
      write(chunk) {
        bytes += chunk.byteLength;
        if (chunk.byteLength >= tail) {
          last = chunk.slice(chunk.byteLength - tail);
          return;
        }
        const joined = new Uint8Array(last.byteLength + chunk.byteLength);
        joined.set(last);
        joined.set(chunk, last.byteLength);
        last = joined.slice(Math.max(0, joined.byteLength - tail));
      },
    }),
  );
  return { bytes, last };
}

const text = (value: string) => new TextEncoder().encode(value);

describe("the bundle's ZIP", () => {
  it("is as long as zip.js predicts, entries stored with the CRC-32 given", async () => {
    const drums = text("drums ".repeat(1000));
    const manifest = text('{"taskId":"t"}');
    const files: ZipFile[] = [
      {
        name: "Song/drums.mp3",
        size: drums.byteLength,
        crc32: crc32(drums),
        open: () => new Blob([drums]).stream(),
      },
      {
        name: "manifest.json",
        size: manifest.byteLength,
        crc32: crc32(manifest),
        open: () => new Blob([manifest]).stream(),
      },
    ];
    const chunks: Uint8Array[] = [];
    const layout = await zipLayout(files);
    await writeZip(layout, files, new WritableStream({ write: (chunk) => void chunks.push(chunk.slice()) }));
    const zip = new Uint8Array(await new Blob(chunks).arrayBuffer());
    expect(zip.byteLength).toBe(await zipLength(files.map(({ name, size }) => ({ name, size }))));
    const entries = readZip(zip);
    expect(
      entries.map((entry) => [entry.name, entry.method, entry.declaredCrc32 === crc32(entry.bytes)]),
    ).toEqual(
      expect.arrayContaining([
        ["Song/drums.mp3", 0, true],
        ["manifest.json", 0, true],
      ]),
    );
  });

  it("switches to ZIP64 past 4 GiB, still exactly as long as predicted", { timeout: 180_000 }, async () => {
    const big = 4 * GIB + 1;
    const files: ZipFile[] = [
      // The CRC-32 is taken as given (pass-through): any value will do for a length.
      { name: "big.wav", size: big, crc32: 0x12345678, open: () => zeros(big) },
      {
        name: "manifest.json",
        size: 2,
        crc32: crc32(text("{}")),
        open: () => new Blob([text("{}")]).stream(),
      },
    ];
    const predicted = await zipLength(files.map(({ name, size }) => ({ name, size })));
    const { bytes, last } = await written(files, 200);
    expect(bytes).toBe(predicted);
    // The end of the archive: a ZIP64 end of central directory record, its locator, then the
    // classic end record pointing at them (0xffffffff for the offset it cannot hold).
    const view = new DataView(last.buffer, last.byteOffset, last.byteLength);
    const end = last.byteLength - 22;
    expect(view.getUint32(end, true)).toBe(0x06054b50);
    expect(view.getUint32(end - 20, true)).toBe(0x07064b50);
    expect(view.getUint32(end + 16, true)).toBe(0xffffffff);
    const signatures = Array.from({ length: last.byteLength - 3 }, (_, at) => view.getUint32(at, true));
    expect(signatures).toContain(0x06064b50);
  });

  it("lays out only zip.js's bytes, and a kept copy of the layout writes the same ZIP", async () => {
    const vocals = text("la ".repeat(5000));
    const empty = new Uint8Array(0);
    const files: ZipFile[] = [
      {
        name: "vocals.mp3",
        size: vocals.byteLength,
        crc32: crc32(vocals),
        open: () => new Blob([vocals]).stream(),
      },
      { name: "empty.txt", size: 0, crc32: crc32(empty), open: () => new Blob([empty]).stream() },
    ];
    const layout = await zipLayout(files);
    expect(layout.length).toBe(await zipLength(files.map(({ name, size }) => ({ name, size }))));
    // The file's place is a number; zip.js's parts together are the ZIP less the file's bytes.
    expect(layout.parts.filter((part) => typeof part === "number")).toEqual([0]);
    const own = layout.parts.reduce<number>(
      (sum, part) => sum + (typeof part === "number" ? 0 : part.byteLength),
      0,
    );
    expect(own).toBe(layout.length - vocals.byteLength);

    const write = async (from: typeof layout) => {
      const chunks: Uint8Array[] = [];
      await writeZip(from, files, new WritableStream({ write: (chunk) => void chunks.push(chunk.slice()) }));
      return new Uint8Array(await new Blob(chunks).arrayBuffer());
    };
    const zip = await write(layout);
    const kept = decodeLayout(encodeLayout(layout));
    expect(kept).not.toBeNull();
    expect(await write(kept as typeof layout)).toEqual(zip);
    expect(readZip(zip).map((entry) => [entry.name, entry.bytes.byteLength, entry.declaredCrc32])).toEqual([
      ["vocals.mp3", vocals.byteLength, crc32(vocals)],
      ["empty.txt", 0, crc32(empty)],
    ]);
  });

  it("reads a kept layout that is not one as none", () => {
    expect(decodeLayout("not json")).toBeNull();
    expect(decodeLayout(JSON.stringify({ length: 10, parts: ["!!"] }))).toBeNull();
    expect(decodeLayout(JSON.stringify({ parts: [] }))).toBeNull();
  });

  it("aborts the output when a file fails midway, after the bytes before it", async () => {
    const good = text("x".repeat(100));
    const files: ZipFile[] = [
      { name: "good.mp3", size: good.byteLength, crc32: crc32(good), open: () => new Blob([good]).stream() },
      {
        name: "lost.mp3",
        size: 100,
        crc32: 0,
        open: () =>
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new Uint8Array(10));
              controller.error(new Error("R2 went away"));
            },
          }),
      },
    ];
    let written = 0;
    let aborted: unknown = null;
    let closed = false;
    const output = new WritableStream<Uint8Array>({
      write(chunk) {
        written += chunk.byteLength;
      },
      close() {
        closed = true;
      },
      abort(reason) {
        aborted = reason;
      },
    });
    await expect(writeZip(await zipLayout(files), files, output)).rejects.toThrow("R2 went away");
    expect(aborted).toBeInstanceOf(Error);
    expect(closed).toBe(false);
    expect(written).toBeGreaterThan(good.byteLength);
  });
});
