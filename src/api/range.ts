export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a single-range `Range` header against an object of `size` bytes: `bytes=a-b`,
 * `bytes=a-` and the suffix form `bytes=-n`. Returns null when the header should be ignored
 * (not a bytes range, malformed, or several ranges: the full object is then served), and
 * "unsatisfiable" when it names no byte of the object.
 */
export function parseRange(header: string, size: number): ByteRange | "unsatisfiable" | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end };
}
