// The part buffers of multipart uploads: a per-isolate byte budget and the uploader that fills
// one part while the previous one uploads.

/**
 * Bytes of multipart part buffers this isolate may hold at once. Every chunked download needs
 * one buffer; a second one, which lets the next part be read while the previous one uploads,
 * is taken only while the total stays within this budget, so a batch of chunked downloads
 * stays well inside the isolate's 128 MB.
 */
export const PART_BUFFER_BUDGET = 48 * 1024 * 1024;

/** Accounts for the part buffers of concurrent multipart uploads against a byte budget. */
export class PartBufferPool {
  inUse = 0;
  /** The most bytes held at once. */
  peak = 0;

  constructor(readonly budget: number) {}

  /** A buffer of `size` bytes: always when `required`, otherwise only within the budget. */
  take(size: number, required: boolean): Uint8Array | null {
    if (!required && this.inUse + size > this.budget) return null;
    this.inUse += size;
    this.peak = Math.max(this.peak, this.inUse);
    return new Uint8Array(size);
  }

  give(bytes: number): void {
    this.inUse -= bytes;
  }
}

/** The part buffers of this isolate, shared by every download it runs. */
export const isolatePartBuffers = new PartBufferPool(PART_BUFFER_BUDGET);

/**
 * Feeds a multipart upload part by part, one upload in flight while the next part fills.
 * Parts are numbered in order; all but the last are exactly `partSize` bytes, as R2 requires.
 */
export class PartUploader {
  private readonly parts: R2UploadedPart[] = [];
  private inFlight: { done: Promise<void>; buffer: Uint8Array } | null = null;
  private part: Uint8Array;
  private filled = 0;
  private owned = 0;

  constructor(
    private readonly upload: R2MultipartUpload,
    private readonly partSize: number,
    private readonly pool: PartBufferPool,
  ) {
    this.part = this.takeBuffer(true) as Uint8Array;
  }

  async write(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.byteLength; ) {
      const n = Math.min(this.partSize - this.filled, chunk.byteLength - offset);
      this.part.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.partSize) await this.send(false);
    }
  }

  /** Uploads what is left and waits for every part; returns them for `complete`. */
  async finish(): Promise<R2UploadedPart[]> {
    if (this.filled > 0) await this.send(true);
    await this.inFlight?.done;
    return this.parts;
  }

  /** Waits for the part in flight, ignoring its outcome, and gives the buffers back. */
  async release(): Promise<void> {
    await this.inFlight?.done.catch(() => {});
    this.inFlight = null;
    this.pool.give(this.owned);
    this.owned = 0;
  }

  private async send(last: boolean): Promise<void> {
    let spare: Uint8Array | null = null;
    if (this.inFlight) {
      await this.inFlight.done;
      spare = this.inFlight.buffer;
      this.inFlight = null;
    }
    const partNumber = this.parts.length + 1;
    const buffer = this.part;
    const done = this.upload.uploadPart(partNumber, buffer.subarray(0, this.filled)).then((uploaded) => {
      this.parts.push(uploaded);
    });
    done.catch(() => {}); // awaited by the next send, finish or release
    this.inFlight = { done, buffer };
    this.filled = 0;
    if (last) return;
    const next = spare ?? this.takeBuffer(false);
    if (next) {
      this.part = next;
      return;
    }
    await done; // no budget for a second buffer: wait, then fill this one again
    this.inFlight = null;
  }

  private takeBuffer(required: boolean): Uint8Array | null {
    const buffer = this.pool.take(this.partSize, required);
    if (buffer) this.owned += this.partSize;
    return buffer;
  }
}
