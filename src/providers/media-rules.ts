import { KeySegment } from "../core/ids";
import type { AssetSpec, TrackInfo } from "./model";

const present = (url: string | null | undefined): url is string =>
  typeof url === "string" && url.trim() !== "";

/** Primary URL plus its twin; if only the twin is there yet, it becomes the primary. */
function pair(primary: string | null | undefined, twin: string | null | undefined) {
  if (present(primary)) return { url: primary.trim(), fallbackUrl: present(twin) ? twin.trim() : null };
  if (present(twin)) return { url: twin.trim(), fallbackUrl: null };
  return null;
}

export interface TrackUrls {
  id: string;
  audio_url?: string | null;
  source_audio_url?: string | null;
  image_url?: string | null;
  source_image_url?: string | null;
}

/** Music: each track's audio and cover. Stream URLs are never archived. */
export function musicAssets(tracks: readonly TrackUrls[]): AssetSpec[] {
  const assets: AssetSpec[] = [];
  for (const track of tracks) {
    const audio = pair(track.audio_url, track.source_audio_url);
    if (audio) assets.push({ name: `${track.id}/audio`, role: "audio", ...audio });
    const cover = pair(track.image_url, track.source_image_url);
    if (cover) assets.push({ name: `${track.id}/cover`, role: "cover", ...cover });
  }
  return assets;
}

/**
 * Separation: every non-empty `<stem>_url` except `origin_url` (the input, not a result).
 * The stem name (`vocal`, `drums`, `backing_vocals`, …) is the asset name.
 */
export function separationAssets(info: Record<string, unknown> | null | undefined): AssetSpec[] {
  if (!info) return [];
  return Object.entries(info)
    .filter(
      ([key, url]) => key.endsWith("_url") && key !== "origin_url" && typeof url === "string" && present(url),
    )
    .map(([key, url]) => ({ name: key.slice(0, -4), url: (url as string).trim() }))
    .filter(({ name }) => KeySegment.safeParse(name).success)
    .map(({ name, url }) => ({ name, role: "stem" as const, url, fallbackUrl: null }));
}

export function separationType(info: Record<string, unknown> | null | undefined) {
  if (!info) return null;
  if ("instrumental_url" in info) return "separate_vocal" as const;
  if ("drums_url" in info || "backing_vocals_url" in info) return "split_stem" as const;
  return null;
}

export function videoAssets(url: string | null | undefined): AssetSpec[] {
  return present(url) ? [{ name: "video", role: "video", url: url.trim(), fallbackUrl: null }] : [];
}

export interface TrackFields {
  id: string;
  title?: string | null;
  tags?: string | null;
  prompt?: string | null;
  model_name?: string | null;
  duration?: number | null;
  createTime?: string | number | null;
}

export const trackInfo = (track: TrackFields): TrackInfo => ({
  id: track.id,
  title: track.title ?? null,
  tags: track.tags ?? null,
  prompt: track.prompt ?? null,
  modelName: track.model_name ?? null,
  duration: track.duration ?? null,
  createTime: track.createTime ?? null,
});
