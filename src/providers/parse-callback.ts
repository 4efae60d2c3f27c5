import { ApiError } from "../core/errors";
import { KINDS, type Kind, TaskId } from "../core/ids";
import { callbackSchemas, detectShape, findTaskId, isBareFailure, type Shape } from "./callback-schemas";
import {
  coverAssets,
  lyricsAssets,
  lyricsEntries,
  midiAssets,
  midiSummary,
  midiTracks,
  wavAssets,
} from "./family-rules";
import { marketFailed, marketResult } from "./market";
import { musicAssets, separationAssets, separationType, trackInfo, videoAssets } from "./media-rules";
import type { ParsedCallback, Stage, TaskUpdate } from "./model";
import { salvageUrls } from "./salvage";

const invalid = (message: string, issues?: unknown[]) =>
  new ApiError(400, "invalid_payload", message, issues);

/** The validated task id of a parsed body, needed before the HMAC check and the schema. */
export function taskIdOf(body: unknown): string {
  const candidate = findTaskId(body);
  const parsed = TaskId.safeParse(candidate);
  if (!parsed.success) {
    throw invalid(candidate === undefined ? "no task id in the callback" : "invalid task id", [
      { path: "data.task_id", message: parsed.error.issues[0]?.message ?? "invalid" },
    ]);
  }
  return parsed.data;
}

export interface ParseOptions {
  /** The kind from the URL (`/callbacks/:kind`): a body of another kind is refused. */
  expected?: Kind;
  /** Salvage of an unrecognised body: which URLs may be archived, and how many at most. */
  salvage?: { allow: (url: string) => boolean; limit: number };
}

/**
 * Parses a callback of a valid task id. A known shape is validated and normalised; a shape
 * stemvault does not know — or a known one that fails its schema — is unrecognised (kept raw by
 * the caller, its allowed URLs salvaged), never refused. Throws 400 only for a body that names
 * no valid task id, or whose kind contradicts `expected`.
 */
export function parseCallback(body: unknown, options: ParseOptions = {}): ParsedCallback {
  const taskId = taskIdOf(body);
  const { expected } = options;
  const unrecognized = (): ParsedCallback => ({
    recognized: false,
    taskId,
    assets: options.salvage ? salvageUrls(body, options.salvage.allow, options.salvage.limit) : [],
  });
  const shape = detectShape(body);
  if (!shape) {
    if (!isBareFailure(body)) return unrecognized();
    const { code, msg } = body as { code: number; msg?: unknown };
    return { recognized: true, ...failure(taskId, expected ?? "unknown", code, text(msg)) };
  }
  const update = parseShape(shape, taskId, body);
  if (!update) return unrecognized();
  if (expected && update.kind !== "unknown" && update.kind !== expected) {
    if (update.alsoKind !== expected) {
      throw invalid(`a ${update.kind} callback was posted to /callbacks/${expected}`);
    }
    return { recognized: true, ...update, kind: expected, alsoKind: undefined };
  }
  return {
    recognized: true,
    ...(expected && update.kind === "unknown" ? { ...update, kind: expected } : update),
  };
}

/**
 * A kept callback parsed again by the current version (the retry endpoint): its update when it
 * is recognised now, else null. The kind its route named still binds it.
 */
export function reparseCallback(raw: string, route: string | null): TaskUpdate | null {
  const named = /^\/callbacks\/([a-z]+)$/.exec(route ?? "")?.[1];
  const expected = KINDS.find((kind) => kind === named);
  try {
    const parsed = parseCallback(JSON.parse(raw), { expected });
    return parsed.recognized ? parsed : null;
  } catch {
    return null;
  }
}

const text = (value: unknown) => (typeof value === "string" ? value : null);

const base = (taskId: string) => ({
  taskId,
  via: "callback" as const,
  tracks: [],
  assets: [],
  separationType: null,
});

function failure(taskId: string, kind: TaskUpdate["kind"], code: number, message: string | null): TaskUpdate {
  return { ...base(taskId), kind, stage: "error", code, message };
}

/** The update of a body of a known shape; null when it fails that shape's schema. */
function parseShape(shape: Shape, taskId: string, body: unknown): TaskUpdate | null {
  const update = base(taskId);
  switch (shape) {
    case "music": {
      const result = callbackSchemas.music.safeParse(body);
      if (!result.success) return null;
      const { code, msg, data } = result.data;
      const failed = code !== 200 || data.callbackType === "error";
      const stage: Stage = failed ? "error" : data.callbackType;
      const tracks = failed ? [] : (data.data ?? []);
      return {
        ...update,
        kind: "music",
        // A failure without tracks could be a lyrics task's (see detectShape).
        alsoKind: failed && !data.data?.length ? "lyrics" : undefined,
        stage,
        code,
        message: msg ?? data.error ?? null,
        tracks: tracks.map(trackInfo),
        assets: musicAssets(tracks),
      };
    }
    case "separation": {
      const result = callbackSchemas.separation.safeParse(body);
      if (!result.success) return null;
      const { code, msg, data } = result.data;
      const info = data.vocal_removal_info ?? data.vocal_separation_info ?? null;
      const failed = code !== 200 || info === null;
      return {
        ...update,
        kind: "separation",
        stage: failed ? "error" : "complete",
        code,
        message: msg ?? null,
        assets: failed ? [] : separationAssets(info),
        separationType: separationType(info),
      };
    }
    case "video": {
      const result = callbackSchemas.video.safeParse(body);
      if (!result.success) return null;
      const { code, msg, data } = result.data;
      const failed = code !== 200 || !data.video_url;
      return completeOrError(update, "video", code, msg, failed ? [] : videoAssets(data.video_url));
    }
    case "wav": {
      const result = callbackSchemas.wav.safeParse(body);
      if (!result.success) return null;
      const { code, msg, data } = result.data;
      const url = data.audioWavUrl ?? data.audio_wav_url;
      return completeOrError(update, "wav", code, msg, code === 200 ? wavAssets(url) : []);
    }
    case "cover": {
      const result = callbackSchemas.cover.safeParse(body);
      if (!result.success) return null;
      const { code, msg, data } = result.data;
      return completeOrError(update, "cover", code, msg, code === 200 ? coverAssets(data.images) : []);
    }
    case "lyrics": {
      const result = callbackSchemas.lyrics.safeParse(body);
      if (!result.success) return null;
      const { code, msg, data } = result.data;
      const items = data.data ?? data.lyricsData;
      const failed = code !== 200 || data.callbackType === "error" || !items;
      const lyrics = failed ? [] : lyricsEntries(items);
      return {
        ...update,
        kind: "lyrics",
        alsoKind: failed ? "music" : undefined,
        stage: failed ? "error" : "complete",
        code,
        message: msg ?? null,
        assets: lyricsAssets(taskId, lyrics),
        results: { lyrics },
      };
    }
    case "midi": {
      const result = callbackSchemas.midi.safeParse(body);
      if (!result.success) return null;
      const { code, msg, data } = result.data;
      const failed = code !== 200 || !data.instruments || /fail|error/i.test(data.state ?? "");
      if (failed || !data.instruments) return completeOrError(update, "midi", code, msg, []);
      const tracks = midiTracks(data.instruments);
      const received = (body as { data: unknown }).data;
      return {
        ...completeOrError(update, "midi", code, msg, midiAssets(tracks, received)),
        results: { midi: midiSummary(tracks) },
      };
    }
    case "market": {
      const result = callbackSchemas.market.safeParse(body);
      if (!result.success) return null;
      const { code, msg, data } = result.data;
      if (marketFailed(data) || code !== 200) {
        const failCode = Number(data.failCode);
        const status = Number.isInteger(failCode) && failCode > 0 ? failCode : code !== 200 ? code : 500;
        return failure(taskId, "unknown", status, data.failMsg || msg || null);
      }
      const produced = marketResult(data);
      if (!produced) return null;
      return {
        ...update,
        kind: produced.kind,
        stage: "complete",
        code,
        message: msg ?? null,
        tracks: produced.tracks,
        assets: produced.assets,
      };
    }
  }
}

function completeOrError(
  update: ReturnType<typeof base>,
  kind: Kind,
  code: number,
  msg: string | null | undefined,
  assets: TaskUpdate["assets"],
): TaskUpdate {
  const failed = code !== 200 || assets.length === 0;
  return { ...update, kind, stage: failed ? "error" : "complete", code, message: msg ?? null, assets };
}
