import { z } from "zod";
import type { Config } from "../core/config";
import type { TaskKind } from "../core/ids";
import { musicAssets, separationAssets, separationType, trackInfo } from "./media-rules";
import type { AssetSpec, Stage, TaskResults, TaskUpdate, TrackInfo } from "./model";
import { familyDetails } from "./record-info-family";

/**
 * The provider's "get details" endpoint per kind (same paths on sunoapi.org and kie.ai). Cover
 * images have none documented: they are not polled (nor confirmable). An `unknown` task is asked
 * about as a kie.ai Market job, whose record-info names the kind its result produced.
 */
export const RECORD_INFO_PATHS: Partial<Record<TaskKind, string>> = {
  music: "/api/v1/generate/record-info",
  separation: "/api/v1/vocal-removal/record-info",
  video: "/api/v1/mp4/record-info",
  wav: "/api/v1/wav/record-info",
  lyrics: "/api/v1/lyrics/record-info",
  midi: "/api/v1/midi/record-info",
  // A task whose callbacks were all unrecognised: most likely a kie.ai Market job (§9.2).
  unknown: "/api/v1/jobs/recordInfo",
};

/** Whether tasks of this kind can be polled (and their URLs confirmed) at all. */
export const hasRecordInfo = (kind: TaskKind) => RECORD_INFO_PATHS[kind] !== undefined;

const TIMEOUT_MS = 10_000;

const MaybeString = z.string().nullish();
const Envelope = z.looseObject({ code: z.number().int(), msg: MaybeString, data: z.unknown().optional() });

/** record-info is camelCase (callbacks are snake_case). */
const SunoTrack = z.looseObject({
  id: z.string(),
  audioUrl: MaybeString,
  sourceAudioUrl: MaybeString,
  imageUrl: MaybeString,
  sourceImageUrl: MaybeString,
  title: MaybeString,
  tags: MaybeString,
  prompt: MaybeString,
  modelName: MaybeString,
  duration: z.number().nullish(),
  createTime: z.union([z.string(), z.number()]).nullish(),
});

const ErrorFields = { errorCode: z.union([z.number(), z.string()]).nullish(), errorMessage: MaybeString };

const MusicDetails = z.looseObject({
  status: z.string(),
  response: z.looseObject({ sunoData: z.array(SunoTrack).nullish() }).nullish(),
  ...ErrorFields,
});
const SeparationDetails = z.looseObject({
  successFlag: z.string(),
  response: z.record(z.string(), z.unknown()).nullish(),
  ...ErrorFields,
});
const VideoDetails = z.looseObject({
  successFlag: z.string(),
  response: z.looseObject({ videoUrl: MaybeString }).nullish(),
  ...ErrorFields,
});

export type RecordInfo =
  | {
      outcome: "result";
      /** The provider's status word, e.g. SUCCESS, FIRST_SUCCESS, GENERATE_AUDIO_FAILED. */
      status: string;
      /** What the poll tells the task; null while there is nothing to record (PENDING). */
      update: TaskUpdate | null;
      /** True once nothing more will come: success or failure. */
      final: boolean;
      /** Every media URL the provider lists for the task (for confirmation mode). */
      urls: Set<string>;
    }
  | {
      outcome: "unauthorized" | "rate_limited" | "unavailable" | "not_found" | "unsupported";
      message: string;
    };

const FAILED = /_FAILED$|^SENSITIVE_WORD_ERROR$/;

/** `backingVocalsUrl` → `backing_vocals_url`, so polled stems get the callback's names. */
const snakeCase = (key: string) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

function urlsOf(assets: AssetSpec[]): Set<string> {
  return new Set(
    assets.flatMap((asset) => (asset.fallbackUrl ? [asset.url, asset.fallbackUrl] : [asset.url])),
  );
}

/**
 * Maps a record-info `data` object onto the task model. PENDING, TEXT_SUCCESS and FIRST_SUCCESS
 * keep the task waiting (recording what is already there); SUCCESS completes it; *_FAILED and
 * SENSITIVE_WORD_ERROR fail it with the provider's error; CALLBACK_EXCEPTION (the provider could
 * not reach us) is judged by its content, never as a failure.
 */
export function mapRecordInfo(kind: TaskKind, taskId: string, data: unknown): RecordInfo | null {
  let base = { taskId, kind, via: "poll" as const, tracks: [] as TrackInfo[], separationType: null };
  let status: string;
  let assets: AssetSpec[] = [];
  let tracks: TrackInfo[] = [];
  let sepType: TaskUpdate["separationType"] = null;
  let errorCode: number | string | null | undefined;
  let errorMessage: string | null | undefined;
  let progress: Stage | null = null;
  let results: TaskResults | undefined;

  if (kind !== "music" && kind !== "separation" && kind !== "video") {
    const details = familyDetails(kind === "unknown" ? "market" : kind, taskId, data);
    if (!details) return null;
    ({ status, assets, tracks, results, errorCode, errorMessage } = details);
    if (details.kind) base = { ...base, kind: details.kind };
  } else if (kind === "music") {
    const parsed = MusicDetails.safeParse(data);
    if (!parsed.success) return null;
    ({ status, errorCode, errorMessage } = parsed.data);
    const sunoData = parsed.data.response?.sunoData ?? [];
    const urls = sunoData.map((track) => ({
      id: track.id,
      audio_url: track.audioUrl,
      source_audio_url: track.sourceAudioUrl,
      image_url: track.imageUrl,
      source_image_url: track.sourceImageUrl,
    }));
    assets = musicAssets(urls.filter((track) => /^[A-Za-z0-9_-]{1,128}$/.test(track.id)));
    tracks = sunoData.map((track) =>
      trackInfo({ ...track, model_name: track.modelName, createTime: track.createTime }),
    );
    progress = status === "TEXT_SUCCESS" ? "text" : status === "FIRST_SUCCESS" ? "first" : null;
  } else if (kind === "separation") {
    const parsed = SeparationDetails.safeParse(data);
    if (!parsed.success) return null;
    ({ successFlag: status, errorCode, errorMessage } = parsed.data);
    const info = Object.fromEntries(
      Object.entries(parsed.data.response ?? {})
        .filter(([key]) => key.endsWith("Url"))
        .map(([key, value]) => [snakeCase(key), value]),
    );
    assets = separationAssets(info);
    sepType = separationType(info);
  } else {
    const parsed = VideoDetails.safeParse(data);
    if (!parsed.success) return null;
    ({ successFlag: status, errorCode, errorMessage } = parsed.data);
    const url = parsed.data.response?.videoUrl;
    assets = url ? [{ name: "video", role: "video", url, fallbackUrl: null }] : [];
  }

  const urls = urlsOf(assets);
  const succeeded = status === "SUCCESS" || (status === "CALLBACK_EXCEPTION" && assets.length > 0);
  if (FAILED.test(status)) {
    const code = typeof errorCode === "number" ? errorCode : Number(errorCode) || 500;
    const message = errorMessage || `the provider reports ${status}`;
    return {
      outcome: "result",
      status,
      final: true,
      urls,
      update: { ...base, stage: "error", code, message, assets: [] },
    };
  }
  const stage: Stage | null = succeeded ? "complete" : progress;
  if (!stage && assets.length === 0) return { outcome: "result", status, final: false, urls, update: null };
  return {
    outcome: "result",
    status,
    final: succeeded,
    urls,
    update: {
      ...base,
      // PENDING with media already listed: record the media, keep the stage where it is.
      stage: stage ?? "text",
      code: 200,
      message: `record-info: ${status}`,
      tracks,
      assets,
      separationType: sepType,
      ...(results ? { results } : {}),
    },
  };
}

/** GETs the task's record-info and classifies the answer; never throws for HTTP trouble. */
export async function fetchRecordInfo(cfg: Config, kind: TaskKind, taskId: string): Promise<RecordInfo> {
  const path = RECORD_INFO_PATHS[kind];
  if (!path) return { outcome: "unsupported", message: `the provider has no record-info for ${kind} tasks` };
  const url = `${cfg.providerApiBase}${path}?taskId=${encodeURIComponent(taskId)}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${cfg.providerApiKey}`, "content-type": "application/json" },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    return { outcome: "unavailable", message: `record-info request failed: ${String(error)}` };
  }
  const envelope = Envelope.safeParse(await response.json().catch(() => null));
  const code = response.status !== 200 ? response.status : envelope.success ? envelope.data.code : 502;
  const said = envelope.success && envelope.data.msg ? `: ${envelope.data.msg}` : "";
  if (code === 401 || code === 403) {
    return { outcome: "unauthorized", message: `the provider rejected PROVIDER_API_KEY (${code}${said})` };
  }
  if (code === 429 || code === 405 || code === 430) {
    return { outcome: "rate_limited", message: `the provider is rate limiting (${code}${said})` };
  }
  if (code === 404)
    return { outcome: "not_found", message: `the provider does not know this task (404${said})` };
  if (code !== 200 || !envelope.success) {
    return { outcome: "unavailable", message: `record-info answered ${code}${said}` };
  }
  return (
    mapRecordInfo(kind, taskId, envelope.data.data) ?? {
      outcome: "unavailable",
      message: "record-info returned a shape stemvault does not know",
    }
  );
}
