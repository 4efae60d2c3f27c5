import type { z } from "zod";
import { ApiError } from "../core/errors";
import { type Kind, TaskId } from "../core/ids";
import { callbackSchemas, detectKind, findTaskId } from "./callback-schemas";
import { musicAssets, separationAssets, separationType, trackInfo, videoAssets } from "./media-rules";
import type { Stage, TaskUpdate } from "./model";

const invalid = (message: string, issues?: unknown[]) =>
  new ApiError(400, "invalid_payload", message, issues);

const issuesOf = (error: z.ZodError) =>
  error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));

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

/**
 * Validates a callback body against the schema of its kind and normalises it. `expected` is the
 * kind from the URL (`/callbacks/:kind`); a body of another kind is rejected.
 */
export function parseCallback(body: unknown, expected?: Kind): TaskUpdate {
  const kind = detectKind(body);
  if (!kind) {
    throw invalid("not a known callback shape (music, separation or video)", [
      {
        path: "data",
        message: "expected callbackType, vocal_removal_info, vocal_separation_info or video_url",
      },
    ]);
  }
  if (expected && kind !== expected) throw invalid(`a ${kind} callback was posted to /callbacks/${expected}`);
  const taskId = taskIdOf(body);

  const update = { taskId, kind, via: "callback" as const, tracks: [], assets: [], separationType: null };
  switch (kind) {
    case "music": {
      const result = callbackSchemas.music.safeParse(body);
      if (!result.success) throw invalid("invalid music callback", issuesOf(result.error));
      const { code, msg, data } = result.data;
      const failed = code !== 200 || data.callbackType === "error";
      const stage: Stage = failed ? "error" : data.callbackType;
      const tracks = failed ? [] : (data.data ?? []);
      return {
        ...update,
        stage,
        code,
        message: msg ?? data.error ?? null,
        tracks: tracks.map(trackInfo),
        assets: musicAssets(tracks),
      };
    }
    case "separation": {
      const result = callbackSchemas.separation.safeParse(body);
      if (!result.success) throw invalid("invalid separation callback", issuesOf(result.error));
      const { code, msg, data } = result.data;
      const info = data.vocal_removal_info ?? data.vocal_separation_info ?? null;
      const failed = code !== 200 || info === null;
      return {
        ...update,
        stage: failed ? "error" : "complete",
        code,
        message: msg ?? null,
        assets: failed ? [] : separationAssets(info),
        separationType: separationType(info),
      };
    }
    case "video": {
      const result = callbackSchemas.video.safeParse(body);
      if (!result.success) throw invalid("invalid video callback", issuesOf(result.error));
      const { code, msg, data } = result.data;
      const failed = code !== 200 || !data.video_url;
      return {
        ...update,
        stage: failed ? "error" : "complete",
        code,
        message: msg ?? null,
        assets: failed ? [] : videoAssets(data.video_url),
      };
    }
    default:
      throw invalid(`${kind} callbacks are not parsed yet`);
  }
}
