import { env } from "cloudflare:workers";
import { atOrigin as rewriteAtOrigin } from "../../support/fixtures/rewrite";
import { type MediaSpec, mediaUrl } from "../../support/media-url";
import type { OriginLogEntry } from "../../support/origin";
import { patternSha256 } from "../../support/pattern";

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

export const expectedSha256 = (file: { size: number; seed: number }) => patternSha256(file.size, file.seed);

/** A URL on the local origin serving `size` pattern bytes. */
export const originBytes = (name: string, size: number, seed: number, spec: Partial<MediaSpec> = {}) =>
  mediaUrl(env.ORIGIN_URL, { name, size, seed, ...spec });

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
