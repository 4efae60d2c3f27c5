import { z } from "zod";
import { KeySegment } from "../core/ids";
import { isObject } from "./callback-schemas";
import { coverAssets } from "./family-rules";
import type { MarketData } from "./family-schemas";
import { musicAssets, trackInfo, videoAssets } from "./media-rules";
import type { AssetSpec, TrackInfo } from "./model";

/**
 * What a kie.ai Market job produced, read from its `resultJson` (a JSON string inside the JSON):
 * tracks → `music`; `resultUrls` that are all images → `cover`, all audio → `music` (one track
 * `result-<n>` per URL), one video → `video`, judged by the URL's extension (the archive still
 * judges each file by its bytes). Anything else — no result, a malformed `resultJson`, URLs of
 * mixed or unknown types — tells no kind: null, and the callback is kept as unrecognised, its
 * URLs salvaged. A failed job (`state: "fail"`) tells no kind either; see `marketFailed`.
 */
export type MarketResult =
  | { kind: "music"; tracks: TrackInfo[]; assets: AssetSpec[] }
  | { kind: "cover" | "video"; tracks: []; assets: AssetSpec[] };

const MaybeString = z.string().nullish();

/** A track in either spelling: the callbacks' snake_case or record-info's camelCase. */
const MarketTrack = z.looseObject({
  id: KeySegment,
  audio_url: MaybeString,
  audioUrl: MaybeString,
  source_audio_url: MaybeString,
  sourceAudioUrl: MaybeString,
  image_url: MaybeString,
  imageUrl: MaybeString,
  source_image_url: MaybeString,
  sourceImageUrl: MaybeString,
  title: MaybeString,
  tags: MaybeString,
  prompt: MaybeString,
  model_name: MaybeString,
  modelName: MaybeString,
  duration: z.number().nullish(),
  createTime: z.union([z.string(), z.number()]).nullish(),
});

const AUDIO = /\.(?:mp3|wav|m4a|aac|flac|ogg|oga|opus)$/i;
const IMAGE = /\.(?:png|jpe?g|webp|gif|avif)$/i;
const VIDEO = /\.(?:mp4|m4v|mov|webm)$/i;

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "";
  }
}

export const marketFailed = (data: MarketData) => /^fail/i.test(data.state);

/** The result of a successful Market job, or null when it tells no kind (see MarketResult). */
export function marketResult(data: MarketData): MarketResult | null {
  if (!data.resultJson) return null;
  let result: unknown;
  try {
    result = JSON.parse(data.resultJson);
  } catch {
    return null;
  }
  return tracksOf(result) ?? urlsOf(result);
}

function tracksOf(result: unknown): MarketResult | null {
  const candidates = isObject(result)
    ? [
        result.data,
        result.sunoData,
        result.tracks,
        isObject(result.response) ? result.response.sunoData : null,
      ]
    : [result];
  const list = candidates.find((value) => Array.isArray(value) && value.length > 0);
  const parsed = z.array(MarketTrack).safeParse(list);
  if (!parsed.success) return null;
  const tracks = parsed.data.map((track) => ({
    ...track,
    audio_url: track.audio_url ?? track.audioUrl,
    source_audio_url: track.source_audio_url ?? track.sourceAudioUrl,
    image_url: track.image_url ?? track.imageUrl,
    source_image_url: track.source_image_url ?? track.sourceImageUrl,
    model_name: track.model_name ?? track.modelName,
  }));
  if (!tracks.some((track) => track.audio_url || track.source_audio_url)) return null;
  return { kind: "music", tracks: tracks.map(trackInfo), assets: musicAssets(tracks) };
}

function urlsOf(result: unknown): MarketResult | null {
  const urls = isObject(result) ? result.resultUrls : null;
  if (!Array.isArray(urls) || urls.length === 0) return null;
  if (!urls.every((url): url is string => typeof url === "string" && /^https?:\/\//i.test(url))) return null;
  const paths = urls.map(pathOf);
  if (paths.every((path) => IMAGE.test(path)))
    return { kind: "cover", tracks: [], assets: coverAssets(urls) };
  if (paths.length === 1 && VIDEO.test(paths[0] ?? "")) {
    return { kind: "video", tracks: [], assets: videoAssets(urls[0]) };
  }
  if (!paths.every((path) => AUDIO.test(path))) return null;
  const tracks = urls.map((url, index) => ({ id: `result-${index + 1}`, audio_url: url }));
  return { kind: "music", tracks: tracks.map(trackInfo), assets: musicAssets(tracks) };
}
