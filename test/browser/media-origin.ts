// Real, playable media for the browser test, served by a small HTTP origin on 127.0.0.1 (the
// dev server runs with LOCAL_DEV=true, so the consumer may download from it).
//
// The shared test origin (support/origin.ts) serves byte patterns, which are fine for
// hashing but are not media: a browser cannot play them, and content sniffing rejects them.
// These are real files: a WAV sine tone (44-byte RIFF header + 16-bit PCM), a PNG, and an MP4
// prefix (`ftyp isom`: detected as video, never played).

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32, deflateSync } from "node:zlib";

/** A mono 16-bit PCM WAV of a sine tone. */
export function wavTone({ seconds = 2, frequency = 440, sampleRate = 22_050 } = {}): Buffer {
  const samples = Math.round(seconds * sampleRate);
  const data = samples * 2;
  const wav = Buffer.alloc(44 + data);
  wav.write("RIFF", 0, "ascii");
  wav.writeUInt32LE(36 + data, 4);
  wav.write("WAVE", 8, "ascii");
  wav.write("fmt ", 12, "ascii");
  wav.writeUInt32LE(16, 16); // fmt chunk size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(sampleRate, 24);
  wav.writeUInt32LE(sampleRate * 2, 28); // byte rate
  wav.writeUInt16LE(2, 32); // block align
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write("data", 36, "ascii");
  wav.writeUInt32LE(data, 40);
  for (let i = 0; i < samples; i++) {
    const fade = Math.min(1, i / 500, (samples - i) / 500);
    wav.writeInt16LE(
      Math.round(Math.sin((2 * Math.PI * frequency * i) / sampleRate) * 12_000 * fade),
      44 + i * 2,
    );
  }
  return wav;
}

/** An RGB PNG of a diagonal gradient in the given hue. */
export function pngCover({ size = 96, hue = [31, 79, 216] as readonly number[] } = {}): Buffer {
  const chunk = (type: string, body: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length, 0);
    head.write(type, 4, "ascii");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const rows = Buffer.alloc(size * (1 + size * 3));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 3);
    for (let x = 0; x < size; x++) {
      const t = (x + y) / (2 * size);
      for (let c = 0; c < 3; c++) rows[row + 1 + x * 3 + c] = Math.round((hue[c] ?? 0) * (1 - t) + 245 * t);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Bytes that content sniffing takes for MP4 (an `ftyp isom` box), padded; not playable. */
export function mp4Prefix(size = 64_000): Buffer {
  const file = Buffer.alloc(size);
  Buffer.from("000000186674797069736f6d0000020069736f6d69736f32", "hex").copy(file);
  return file;
}

export interface MediaOrigin {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** Paths of `withheld` files answer 404 until released. */
  release(path: string): void;
  /** How many GETs each path received. */
  hits(path: string): number;
  close(): Promise<void>;
}

export interface ServedMedia {
  body: Buffer;
  type: string;
  /** Answer 404 until `release(path)` (a link that was not ready yet). */
  withheld?: boolean;
}

/** Serves `files` (path → media) on 127.0.0.1; anything else is a 404. */
export async function startMediaOrigin(files: Record<string, ServedMedia>): Promise<MediaOrigin> {
  const released = new Set<string>();
  const counts = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://origin.invalid").pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const file = files[path];
    if (!file || (file.withheld && !released.has(path))) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    response.writeHead(200, { "content-type": file.type, "content-length": String(file.body.length) });
    response.end(request.method === "HEAD" ? undefined : file.body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    release: (path) => released.add(path),
    hits: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
