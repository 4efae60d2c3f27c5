import type { AssetSpec } from "./model";

/** How deep the walk goes; a body nests far less, and this bounds the work on a hostile one. */
const MAX_DEPTH = 32;
const MAX_NAME = 120;

/** FNV-1a, 32 bits: a short, stable tag for a path too long to be a name. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/**
 * A JSON path as a key segment: its segments joined by `-` (`data.something_new` →
 * `data-something_new`, `data.images[0]` → `data-images-0`), every character outside
 * `[A-Za-z0-9_]` inside a segment replaced by `_`, and a path longer than 120 characters cut,
 * with a hash of the whole path appended so that two long paths stay apart.
 */
export function pathName(path: readonly (string | number)[]): string {
  const joined = path.map((segment) => String(segment).replace(/[^A-Za-z0-9_]/g, "_") || "_").join("-");
  if (joined.length <= MAX_NAME) return joined || "body";
  return `${joined.slice(0, MAX_NAME - 9)}-${fnv1a(path.join("\u0000"))}`;
}

/** A string that holds JSON (a Market `resultJson`), parsed; undefined when it is not that. */
function nestedJson(value: string): unknown {
  const start = value.trimStart()[0];
  if (start !== "{" && start !== "[") return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/**
 * Every http(s) URL string anywhere in a callback body (also inside strings that hold JSON),
 * that `allow` accepts, in document order, each URL once: an asset of role `file` named
 * `file:<path name>` (see pathName; a repeated name gets `-2`, `-3`, …). The `file:` prefix keeps
 * these names apart from every name a recognised callback gives (none has a `:`). At most `limit`.
 */
export function salvageUrls(body: unknown, allow: (url: string) => boolean, limit: number): AssetSpec[] {
  const assets: AssetSpec[] = [];
  const urls = new Set<string>();
  const names = new Set<string>();
  const visit = (value: unknown, path: (string | number)[], depth: number): void => {
    if (assets.length >= limit || depth > MAX_DEPTH) return;
    if (typeof value === "string") {
      const trimmed = value.trim();
      if (/^https?:\/\//i.test(trimmed)) {
        if (urls.has(trimmed) || !allow(trimmed)) return;
        urls.add(trimmed);
        const base = pathName(path);
        let name = base;
        for (let n = 2; names.has(name); n++) name = `${base}-${n}`;
        names.add(name);
        assets.push({ name: `file:${name}`, role: "file", url: trimmed, fallbackUrl: null });
        return;
      }
      const nested = nestedJson(value);
      if (nested !== undefined) visit(nested, path, depth + 1);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        visit(item, [...path, index], depth + 1);
      });
      return;
    }
    if (typeof value === "object" && value !== null) {
      for (const [key, inner] of Object.entries(value)) visit(inner, [...path, key], depth + 1);
    }
  };
  visit(body, [], 0);
  return assets;
}
