import { env } from "cloudflare:workers";
import { atOrigin as rewriteAtOrigin } from "../../support/fixtures/rewrite";
import { type MediaSpec, mediaUrl } from "../../support/media-url";
import type { OriginLogEntry } from "../../support/origin";
import { mediaSha256 } from "../../support/pattern";

let seedCounter = 1;

/**
 * A fixture whose archivable media URLs serve pattern bytes from the local origin, each file of
 * its own seed and `size` plus its seed bytes (so no two are alike), with what each URL serves.
 */
export function atOrigin<T>(
  fixture: T,
  options: { size?: number; chunked?: boolean; delayMs?: number } = {},
) {
  return rewriteAtOrigin(fixture, env.ORIGIN_URL, () => {
    const seed = seedCounter++;
    return { size: (options.size ?? 3000) + seed, seed, chunked: options.chunked, delayMs: options.delayMs };
  });
}

/** What the origin serves for a file: its pattern behind the media header of its name's extension. */
export const expectedSha256 = (file: { name: string; size: number; seed: number }) =>
  mediaSha256(file.name, file.size, file.seed);

/**
 * A URL on the local origin serving `size` pattern bytes behind the media header of `name`'s
 * extension (their digest: `mediaSha256(name, size, seed)`). Besides the spec's fields, any
 * other entry becomes a query parameter of the origin's route (`chunk`, `chunkDelayMs`, `magic`…).
 */
export function originBytes(
  name: string,
  size: number,
  seed: number,
  extra: Partial<Omit<MediaSpec, "name" | "size" | "seed">> &
    Record<string, string | number | boolean | undefined> = {},
): string {
  const { chunked, type, delayMs, ...query } = extra;
  const url = new URL(
    mediaUrl(env.ORIGIN_URL, {
      name,
      size,
      seed,
      chunked: chunked === true,
      type: typeof type === "string" ? type : undefined,
      delayMs: typeof delayMs === "number" ? delayMs : undefined,
    }),
  );
  for (const [key, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(key, String(value));
  return url.href;
}

/** Requests the origin received (optionally only paths with this prefix). */
export async function originLog(pathPrefix = ""): Promise<OriginLogEntry[]> {
  const response = await fetch(`${env.ORIGIN_URL}/__log?path=${encodeURIComponent(pathPrefix)}`);
  return ((await response.json()) as { requests: OriginLogEntry[] }).requests;
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
