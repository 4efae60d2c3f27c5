// Deterministic test media: byte i of a file with seed S is (i + S * 7) % 251.
//
// Pure TypeScript, no Node imports: usable from Node (vitest globalSetup, scripts) and from
// inside workerd (tests running in the Workers pool). The local media origin
// (support/origin.ts) serves exactly these bytes, so tests can compare the size and
// SHA-256 that the Worker records against `patternSha256(size, seed)`.
//
// 251 is prime, so the pattern never lines up with power-of-two chunk or block sizes and a
// shifted, duplicated or dropped chunk changes the digest.

const PERIOD = 251;
const MIB = 1024 * 1024;
/** Up to this size `patternSha256` hashes one buffer with `crypto.subtle.digest`. */
const WHOLE_BUFFER_LIMIT = 64 * MIB;

let periodTable: Uint8Array | undefined;

/** One full period, repeated so that any 251-byte window can be copied with a single `set`. */
function table(): Uint8Array {
  if (!periodTable) {
    periodTable = new Uint8Array(PERIOD * 2);
    for (let i = 0; i < periodTable.length; i++) periodTable[i] = i % PERIOD;
  }
  return periodTable;
}

function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}

/** Pattern value of byte 0 of a file with this seed. */
function start(seed: number): number {
  return mod(mod(Math.trunc(seed), PERIOD) * 7, PERIOD);
}

/** Writes the pattern bytes [offset, offset + out.length) of a file into `out`. */
export function fillPattern(out: Uint8Array, offset: number, seed: number): Uint8Array {
  const t = table();
  let phase = mod(start(seed) + mod(offset, PERIOD), PERIOD);
  let pos = 0;
  while (pos < out.length) {
    const n = Math.min(PERIOD, out.length - pos);
    out.set(t.subarray(phase, phase + n), pos);
    pos += n;
    // n is PERIOD except for the last piece, so the phase only moves on the final (unused) step.
    phase = mod(phase + n, PERIOD);
  }
  return out;
}

/** Bytes [offset, offset + length) of the file with this seed. */
export function patternChunk(offset: number, length: number, seed: number): Uint8Array {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad offset ${offset}`);
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad length ${length}`);
  return fillPattern(new Uint8Array(length), offset, seed);
}

/** The whole file as a stream of ≤ `chunkSize` pieces (constant memory). */
export function patternStream(size: number, seed: number, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= size) {
        controller.close();
        return;
      }
      const n = Math.min(chunkSize, size - offset);
      controller.enqueue(patternChunk(offset, n, seed));
      offset += n;
    },
  });
}

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

interface DigestStreamLike extends WritableStream<Uint8Array> {
  readonly digest: Promise<ArrayBuffer>;
}
type DigestStreamCtor = new (algorithm: string) => DigestStreamLike;
interface NodeCryptoLike {
  createHash(algorithm: string): { update(data: Uint8Array): unknown; digest(encoding: "hex"): string };
}

/**
 * Lower-case hex SHA-256 of the `size`-byte file with this seed.
 *
 * - size ≤ 64 MiB: generated in ≤ 1 MiB chunks into one buffer, hashed with `crypto.subtle.digest`.
 * - larger: incremental, constant memory (one 1 MiB buffer) — `crypto.DigestStream` when the
 *   runtime has it (workerd), else node:crypto via `process.getBuiltinModule` (Node ≥ 22.3),
 *   else the small pure-TS `Sha256` below (slow: ~40–60 MB/s, i.e. ~40 s for 2 GiB).
 */
export async function patternSha256(size: number, seed: number): Promise<string> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
  if (size <= WHOLE_BUFFER_LIMIT) {
    const buf = new Uint8Array(size);
    for (let off = 0; off < size; off += MIB) {
      fillPattern(buf.subarray(off, Math.min(size, off + MIB)), off, seed);
    }
    return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf)));
  }
  const DigestStream = (crypto as unknown as { DigestStream?: DigestStreamCtor }).DigestStream;
  if (typeof DigestStream === "function") {
    const ds = new DigestStream("SHA-256");
    const writer = ds.getWriter();
    const chunk = new Uint8Array(MIB);
    for (let off = 0; off < size; off += MIB) {
      const n = Math.min(MIB, size - off);
      // A fresh copy per write: the stream may hold on to the buffer until it is consumed.
      await writer.write(fillPattern(chunk.subarray(0, n), off, seed).slice());
    }
    await writer.close();
    return toHex(new Uint8Array(await ds.digest));
  }
  // Node (and workerd with nodejs_compat): node:crypto through process.getBuiltinModule — no
  // import statement, so this file still loads where `node:*` modules do not exist.
  const nodeCrypto = (
    globalThis as unknown as {
      process?: { getBuiltinModule?: (id: string) => NodeCryptoLike | undefined };
    }
  ).process?.getBuiltinModule?.("node:crypto");
  if (nodeCrypto && typeof nodeCrypto.createHash === "function") {
    const hash = nodeCrypto.createHash("sha256");
    const chunk = new Uint8Array(MIB);
    for (let off = 0; off < size; off += MIB) {
      const n = Math.min(MIB, size - off);
      hash.update(fillPattern(chunk.subarray(0, n), off, seed));
    }
    return hash.digest("hex");
  }
  const h = new Sha256();
  const chunk = new Uint8Array(MIB);
  for (let off = 0; off < size; off += MIB) {
    const n = Math.min(MIB, size - off);
    h.update(fillPattern(chunk.subarray(0, n), off, seed));
  }
  return toHex(h.digest());
}

// --- incremental SHA-256 fallback, used only above 64 MiB when the runtime offers nothing better ---

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** Minimal incremental SHA-256 (FIPS 180-4). Node: ~40–60 MB/s here; only used as a last resort. */
export class Sha256 {
  private readonly h = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  private readonly block = new Uint8Array(64);
  private blockLen = 0;
  private total = 0;
  private done = false;

  update(data: Uint8Array): this {
    if (this.done) throw new Error("Sha256: update after digest");
    this.total += data.length;
    let pos = 0;
    if (this.blockLen > 0) {
      const n = Math.min(64 - this.blockLen, data.length);
      this.block.set(data.subarray(0, n), this.blockLen);
      this.blockLen += n;
      pos = n;
      if (this.blockLen === 64) {
        compress(this.h, this.block, 0);
        this.blockLen = 0;
      }
    }
    while (data.length - pos >= 64) {
      compress(this.h, data, pos);
      pos += 64;
    }
    if (pos < data.length) {
      this.block.set(data.subarray(pos), 0);
      this.blockLen = data.length - pos;
    }
    return this;
  }

  digest(): Uint8Array {
    if (this.done) throw new Error("Sha256: digest called twice");
    this.done = true;
    const bitsHi = Math.floor(this.total / 0x20000000);
    const bitsLo = (this.total * 8) >>> 0;
    const b = this.block;
    b[this.blockLen++] = 0x80;
    if (this.blockLen > 56) {
      b.fill(0, this.blockLen);
      compress(this.h, b, 0);
      this.blockLen = 0;
    }
    b.fill(0, this.blockLen, 56);
    const dv = new DataView(b.buffer, b.byteOffset, 64);
    dv.setUint32(56, bitsHi);
    dv.setUint32(60, bitsLo);
    compress(this.h, b, 0);
    const out = new Uint8Array(32);
    const odv = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) odv.setInt32(i * 4, this.h[i]);
    return out;
  }
}

const W = new Int32Array(64);

function compress(h: Int32Array, d: Uint8Array, p: number): void {
  for (let i = 0, j = p; i < 16; i++, j += 4) {
    W[i] = (d[j] << 24) | (d[j + 1] << 16) | (d[j + 2] << 8) | d[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15];
    const y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = h[0] | 0;
  let b = h[1] | 0;
  let c = h[2] | 0;
  let dd = h[3] | 0;
  let e = h[4] | 0;
  let f = h[5] | 0;
  let g = h[6] | 0;
  let hh = h[7] | 0;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (dd + t1) | 0;
    dd = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + dd) | 0;
  h[4] = (h[4] + e) | 0;
  h[5] = (h[5] + f) | 0;
  h[6] = (h[6] + g) | 0;
  h[7] = (h[7] + hh) | 0;
}

// --- media files: the pattern behind a real format header ---
//
// The consumer judges a file by its first bytes, and plain pattern bytes are no media format. So
// the origin lays a real format header over the first bytes of a file whose name ends in a media
// extension (or whose `?magic=` names a format): byte i is the header's byte i while there is
// one, the pattern's byte i after it. The size stays the same; `mediaSha256(name, size, seed)`
// is the digest of such a file, `mediaChunk` its bytes. Names without a known extension (and
// `magic=none`) get the bare pattern, which no sniffer takes for media.

const hexBytes = (hex: string) =>
  Uint8Array.from(hex.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));

/** First bytes of real files that `file-type` recognises (see TOOLCHAIN.md), by format. */
export const MEDIA_HEADERS: Readonly<Record<string, Uint8Array>> = {
  // An MPEG-1 Layer III frame header.
  mp3: hexBytes("fffb9064"),
  // `ftyp isom`.
  mp4: hexBytes("000000186674797069736f6d0000020069736f6d69736f32"),
  // JFIF APP0.
  jpeg: hexBytes("ffd8ffe000104a46494600010100000100010000"),
  jpg: hexBytes("ffd8ffe000104a46494600010100000100010000"),
  // Signature and the IHDR chunk's start.
  png: hexBytes("89504e470d0a1a0a0000000d49484452"),
  // A 44-byte RIFF/WAVE header: PCM, 2 channels, 44.1 kHz, 16 bit.
  wav: hexBytes("52494646f0ffff7f57415645666d7420100000000100020044ac000010b102000400100064617461ccffff7f"),
};

/** The header laid over a file: the format `magic` names ("none": no header), else by extension. */
export function mediaHeader(name: string, magic?: string | null): Uint8Array {
  const format = magic ?? /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? "";
  return MEDIA_HEADERS[format] ?? new Uint8Array(0);
}

/** Lays the part of `header` that falls into [offset, offset + bytes.length) over `bytes`. */
export function overlayHeader(bytes: Uint8Array, offset: number, header: Uint8Array): Uint8Array {
  if (offset < header.length) {
    const part = header.subarray(offset, Math.min(header.length, offset + bytes.length));
    bytes.set(part, 0);
  }
  return bytes;
}

/** Bytes [offset, offset + length) of the media file `name` with this seed. */
export function mediaChunk(
  name: string,
  offset: number,
  length: number,
  seed: number,
  magic?: string | null,
): Uint8Array {
  return overlayHeader(patternChunk(offset, length, seed), offset, mediaHeader(name, magic));
}

/** Lower-case hex SHA-256 of the `size`-byte media file `name` with this seed (as the origin serves it). */
export async function mediaSha256(
  name: string,
  size: number,
  seed: number,
  magic?: string | null,
): Promise<string> {
  const header = mediaHeader(name, magic);
  if (header.length === 0) return patternSha256(size, seed);
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
  const chunks = function* () {
    const chunk = new Uint8Array(MIB);
    for (let off = 0; off < size; off += MIB) {
      const n = Math.min(MIB, size - off);
      yield overlayHeader(fillPattern(chunk.subarray(0, n), off, seed), off, header);
    }
  };
  if (size <= WHOLE_BUFFER_LIMIT) {
    const buf = new Uint8Array(size);
    let off = 0;
    for (const piece of chunks()) {
      buf.set(piece, off);
      off += piece.length;
    }
    return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf)));
  }
  const DigestStream = (crypto as unknown as { DigestStream?: DigestStreamCtor }).DigestStream;
  if (typeof DigestStream === "function") {
    const ds = new DigestStream("SHA-256");
    const writer = ds.getWriter();
    for (const piece of chunks()) await writer.write(piece.slice());
    await writer.close();
    return toHex(new Uint8Array(await ds.digest));
  }
  const nodeCrypto = (
    globalThis as unknown as { process?: { getBuiltinModule?: (id: string) => NodeCryptoLike | undefined } }
  ).process?.getBuiltinModule?.("node:crypto");
  if (nodeCrypto && typeof nodeCrypto.createHash === "function") {
    const hash = nodeCrypto.createHash("sha256");
    for (const piece of chunks()) hash.update(piece);
    return hash.digest("hex");
  }
  const h = new Sha256();
  for (const piece of chunks()) h.update(piece);
  return toHex(h.digest());
}
