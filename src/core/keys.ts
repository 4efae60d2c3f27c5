import type { TaskKind } from "./ids";

/**
 * Extensions an archived media file may have: the formats the consumer archives (audio, video,
 * raster images, judged by content). Closed on purpose: `json` is not one of them, so no asset
 * key can ever be a manifest key (see `mediaKey`).
 */
export const MEDIA_EXTENSIONS = [
  // audio
  "mp3",
  "mp2",
  "mp1",
  "m4a",
  "m4b",
  "f4a",
  "f4b",
  "aac",
  "wav",
  "flac",
  "ogg",
  "oga",
  "opus",
  "spx",
  "aif",
  "amr",
  "ape",
  "caf",
  "wv",
  "mpc",
  "ac3",
  "qcp",
  "voc",
  "dsf",
  "dff",
  "mid",
  "it",
  "s3m",
  "xm",
  // video
  "mp4",
  "m4v",
  "m4p",
  "f4v",
  "f4p",
  "mov",
  "webm",
  "mkv",
  "avi",
  "flv",
  "mpg",
  "mts",
  "ogv",
  "ogm",
  "3g2",
  "asf",
  // raster images
  "jpeg",
  "png",
  "apng",
  "gif",
  "webp",
  "avif",
  "heic",
  "bmp",
  "tif",
  "jxl",
  "jp2",
] as const;
export type MediaExt = (typeof MEDIA_EXTENSIONS)[number];

const MEDIA_EXTENSION_SET: ReadonlySet<string> = new Set(MEDIA_EXTENSIONS);
export const isMediaExtension = (ext: string): ext is MediaExt => MEDIA_EXTENSION_SET.has(ext);

/** Salvaged URLs of unrecognised callbacks are assets named `file:<path name>`. */
const SALVAGED = "file:";

/**
 * R2 keys of downloaded media (the contract's layout):
 *   music/<taskId>/<trackId>/audio.<ext>, music/<taskId>/<trackId>/cover.<ext>,
 *   separation/<taskId>/<stem>.<ext>, video/<taskId>/video.<ext> (mp4 for an MP4),
 *   wav/<taskId>/audio.<ext>, cover/<taskId>/image-<n>.<ext>,
 *   unknown/<taskId>/<path name>.<ext> (a salvaged URL, whatever the task's kind became since),
 * the files stemvault makes (see madeFile), and <kind>/<taskId>/manifest.json once the task is
 * settled.
 *
 * No two keys collide, by construction: every segment is a validated id (no `..`, `//`, `/` or
 * `.` inside), an asset name is unique within its task and maps to its own path (a track's audio
 * and cover differ in their last segment, every stem has its own name, a task has one video, one
 * WAV, numbered images), and a downloaded file's key always ends in a media extension from
 * MEDIA_EXTENSIONS while the manifest ends in `.json`, which is not one: a stem named `manifest`
 * is `separation/<taskId>/manifest.mp3`, never the manifest. An extension outside the list throws.
 */
export function mediaKey(kind: TaskKind, taskId: string, asset: string, ext: MediaExt): string {
  if (!isMediaExtension(ext)) throw new Error(`not an archived media extension: ${ext}`);
  if (asset.startsWith(SALVAGED)) return `unknown/${taskId}/${asset.slice(SALVAGED.length)}.${ext}`;
  if (kind === "video") return `video/${taskId}/video.${ext}`;
  return `${kind}/${taskId}/${asset}.${ext}`;
}

/**
 * The files stemvault makes from a callback's data, by asset name: a closed list of fixed file
 * names, none of them `manifest.json`, so the `.json` they add to the archive can never be a
 * manifest's key (and a downloaded file never ends in `.json` or lands in these places: `.mid`
 * downloads of the midi kind do not exist, salvaged ones live under `unknown/`).
 */
export const MADE_FILES = {
  lyrics: { kind: "lyrics", file: "lyrics.json", contentType: "application/json" },
  notes: { kind: "midi", file: "notes.json", contentType: "application/json" },
  midi: { kind: "midi", file: "notes.mid", contentType: "audio/midi" },
} as const satisfies Record<string, { kind: TaskKind; file: string; contentType: string }>;
export type MadeFile = keyof typeof MADE_FILES;

export const isMadeFile = (asset: string): asset is MadeFile => Object.hasOwn(MADE_FILES, asset);

export function madeFileKey(taskId: string, asset: MadeFile): string {
  const { kind, file } = MADE_FILES[asset];
  return `${kind}/${taskId}/${file}`;
}

export const manifestKey = (kind: TaskKind, taskId: string) => `${kind}/${taskId}/manifest.json`;

/**
 * The prefixes every R2 object of a task lives under: its media and its manifest, and the files
 * salvaged while it was still `unknown`. The trailing slash matters: `music/abc/` is not a
 * prefix of `music/abcd/...`.
 */
export const taskPrefixes = (kind: TaskKind, taskId: string) =>
  kind === "unknown" ? [`unknown/${taskId}/`] : [`${kind}/${taskId}/`, `unknown/${taskId}/`];

const SEGMENT = "[A-Za-z0-9_-]{1,128}";
const EXT = `(?:${MEDIA_EXTENSIONS.join("|")})`;
const ARCHIVE_KEY = new RegExp(
  `^(?:music/${SEGMENT}/${SEGMENT}/(?:audio|cover)\\.${EXT}` +
    `|separation/${SEGMENT}/${SEGMENT}\\.${EXT}` +
    `|video/${SEGMENT}/video\\.${EXT}` +
    `|wav/${SEGMENT}/audio\\.${EXT}` +
    `|cover/${SEGMENT}/image-[1-9][0-9]{0,3}\\.${EXT}` +
    `|unknown/${SEGMENT}/${SEGMENT}\\.${EXT}` +
    `|lyrics/${SEGMENT}/lyrics\\.json` +
    `|midi/${SEGMENT}/notes\\.(?:mid|json)` +
    `|(?:music|separation|video|wav|cover|lyrics|midi|unknown)/${SEGMENT}/manifest\\.json)$`,
);

/** True only for keys of the archive's layout; anything else is never served. */
export const isArchiveKey = (key: string) => ARCHIVE_KEY.test(key);

/**
 * Quarantined callback bodies (authenticated, but with no task id to file them under):
 * `quarantine/<YYYY-MM-DD>/<sha256 of the body>.json`. Outside every task's prefix, never
 * served by `/media` (isArchiveKey does not match them), only by `GET /quarantine/...`.
 */
export const QUARANTINE_PREFIX = "quarantine/";
export const QUARANTINE_KEY = /^quarantine\/\d{4}-\d{2}-\d{2}\/[0-9a-f]{64}\.json$/;
export const quarantineKey = (receivedAt: Date, sha256: string) =>
  `${QUARANTINE_PREFIX}${receivedAt.toISOString().slice(0, 10)}/${sha256}.json`;
