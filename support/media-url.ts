// URLs of the local origin (support/origin.ts). No Node imports: tests inside workerd use it too.

export interface MediaSpec {
  /** The file name at the end of the path, e.g. "clip.mp4" (the Worker keeps its extension). */
  name: string;
  size: number;
  seed: number;
  /** Served without Content-Length (chunked transfer). */
  chunked?: boolean;
  /** Content-Type; default application/octet-stream. */
  type?: string;
  /** Wait this long before answering (the origin's /slow route). */
  delayMs?: number;
}

/** The URL at which `base` serves `size` pattern bytes of `seed`. */
export function mediaUrl(base: string, spec: MediaSpec): string {
  const query = new URLSearchParams({
    size: String(spec.size),
    seed: String(spec.seed),
    cl: spec.chunked ? "0" : "1",
    type: spec.type ?? "application/octet-stream",
    ...(spec.delayMs ? { delayMs: String(spec.delayMs) } : {}),
  });
  return `${base}/${spec.delayMs ? "slow" : "bytes"}/${spec.name}?${query}`;
}
