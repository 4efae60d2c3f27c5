import { env } from "cloudflare:workers";
import { mediaSha256 } from "./pattern";

export interface ServedFile {
  /** The file name in the URL; its extension decides the media header the origin lays over it. */
  name: string;
  size: number;
  seed: number;
}

const ARCHIVED_URL_KEY = /^(?!stream_|source_stream_|origin_)[a-z_]*_url$/;
const MIME_BY_EXT: Record<string, string> = {
  mp3: "audio/mpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  mp4: "video/mp4",
};
let seedCounter = 1;

/**
 * Rewrites every archivable media URL of a callback to the local origin, which serves pattern
 * bytes of a known size and seed behind a real header of the URL's format. Returns the body and what each new URL serves, so tests can
 * check sizes and SHA-256 of what lands in R2. Stream URLs are left alone (never fetched).
 */
export function atOrigin<T>(
  fixture: T,
  options: { size?: number; chunked?: boolean; base?: string } = {},
): { body: T; files: Map<string, ServedFile> } {
  const files = new Map<string, ServedFile>();
  const base = options.base ?? env.ORIGIN_URL;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (!value || typeof value !== "object") return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => {
        if (ARCHIVED_URL_KEY.test(key) && typeof inner === "string" && inner.startsWith("https://")) {
          const name = new URL(inner).pathname.split("/").pop() || "file";
          const ext = /\.([a-z0-9]+)$/.exec(name)?.[1] ?? "";
          const file = { name, size: (options.size ?? 3000) + seedCounter, seed: seedCounter++ };
          const query = new URLSearchParams({
            size: String(file.size),
            seed: String(file.seed),
            cl: options.chunked ? "0" : "1",
            type: MIME_BY_EXT[ext] ?? "application/octet-stream",
          });
          const url = `${base}/bytes/${name}?${query}`;
          files.set(url, file);
          return [key, url];
        }
        return [key, rewrite(inner)];
      }),
    );
  };
  return { body: rewrite(structuredClone(fixture)) as T, files };
}

export const expectedSha256 = (file: ServedFile) => mediaSha256(file.name, file.size, file.seed);

/**
 * A URL on the local origin serving `size` pattern bytes behind the media header of `name`'s
 * extension (their digest: `mediaSha256(name, size, seed)`).
 */
export function originBytes(name: string, size: number, seed: number, extra: Record<string, string> = {}) {
  const query = new URLSearchParams({ size: String(size), seed: String(seed), ...extra });
  return `${env.ORIGIN_URL}/bytes/${name}?${query}`;
}

export interface OriginRequest {
  method: string;
  path: string;
  query: string;
  ua: string | null;
  listener: "primary" | "alt";
}

/** Requests the origin received (optionally only paths with this prefix). */
export async function originLog(pathPrefix = ""): Promise<OriginRequest[]> {
  const response = await fetch(`${env.ORIGIN_URL}/__log?path=${encodeURIComponent(pathPrefix)}`);
  return ((await response.json()) as { requests: OriginRequest[] }).requests;
}

/** How many GETs each origin URL (path + query) received. */
export async function originHits(): Promise<Map<string, number>> {
  const hits = new Map<string, number>();
  for (const entry of await originLog()) {
    if (entry.method !== "GET") continue;
    const key = `${env.ORIGIN_URL}${entry.path}${entry.query ? `?${entry.query}` : ""}`;
    hits.set(key, (hits.get(key) ?? 0) + 1);
  }
  return hits;
}

/** Streams an R2 object through SHA-256 without buffering it. */
export async function r2Sha256(
  key: string,
): Promise<{ size: number; sha256: string; object: R2Object } | null> {
  const object = await env.MEDIA.get(key);
  if (!object) return null;
  const digest = new crypto.DigestStream("SHA-256");
  await object.body.pipeTo(digest);
  const sha256 = [...new Uint8Array(await digest.digest)]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  return { size: object.size, sha256, object };
}
