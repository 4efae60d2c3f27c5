import type { Kind } from "./ids";

/**
 * R2 keys of archived media (the contract's layout):
 *   music/<taskId>/<trackId>/audio.<ext>, music/<taskId>/<trackId>/cover.<ext>,
 *   separation/<taskId>/<stem>.<ext>, video/<taskId>/video.mp4,
 * and <kind>/<taskId>/manifest.json once the task is settled. Every segment is a validated id,
 * so no key can contain `..`, `//` or a leading slash.
 */
export function mediaKey(kind: Kind, taskId: string, asset: string, ext: string): string {
  if (kind === "video") return `video/${taskId}/video.mp4`;
  return `${kind}/${taskId}/${asset}.${ext}`;
}

export const manifestKey = (kind: Kind, taskId: string) => `${kind}/${taskId}/manifest.json`;

/**
 * The prefix every R2 object of a task lives under: its media and its manifest. The trailing
 * slash matters: `music/abc/` is not a prefix of `music/abcd/...`.
 */
export const taskPrefix = (kind: Kind, taskId: string) => `${kind}/${taskId}/`;

const SEGMENT = "[A-Za-z0-9_-]{1,128}";
const EXT = "[a-z0-9]{1,5}";
const ARCHIVE_KEY = new RegExp(
  `^(?:music/${SEGMENT}/${SEGMENT}/(?:audio|cover)\\.${EXT}` +
    `|separation/${SEGMENT}/${SEGMENT}\\.${EXT}` +
    `|video/${SEGMENT}/video\\.mp4` +
    `|(?:music|separation|video)/${SEGMENT}/manifest\\.json)$`,
);

/** True only for keys of the archive's layout; anything else is never served. */
export const isArchiveKey = (key: string) => ARCHIVE_KEY.test(key);
