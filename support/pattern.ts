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

interface NodeCrypto {
  createHash(algorithm: "sha256"): { update(data: Uint8Array): unknown; digest(encoding: "hex"): string };
}

/**
 * Lower-case hex SHA-256 of the `size`-byte file with this seed, computed in 1 MiB pieces (constant
 * memory): with `crypto.DigestStream` inside workerd, with node:crypto in Node (reached through
 * `process.getBuiltinModule`, so that this file has no `node:` import and loads in workerd too).
 */
export async function patternSha256(size: number, seed: number): Promise<string> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
  const pieces = function* () {
    for (let offset = 0; offset < size; offset += MIB)
      yield patternChunk(offset, Math.min(MIB, size - offset), seed);
  };
  const Digest = (crypto as { DigestStream?: typeof DigestStream }).DigestStream;
  if (Digest) {
    const stream = new Digest("SHA-256");
    const writer = stream.getWriter();
    for (const piece of pieces()) await writer.write(piece);
    await writer.close();
    return [...new Uint8Array(await stream.digest)]
      .map((byte) => byte.toString(16).padStart(2, "0"))
      .join("");
  }
  const node = (globalThis as { process?: { getBuiltinModule(id: string): unknown } }).process;
  if (!node) throw new Error("patternSha256 needs crypto.DigestStream (workerd) or node:crypto (Node)");
  const hash = (node.getBuiltinModule("node:crypto") as NodeCrypto).createHash("sha256");
  for (const piece of pieces()) hash.update(piece);
  return hash.digest("hex");
}
