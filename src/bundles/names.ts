/**
 * Entry names of a task's ZIP bundle: names a person can read, that extract to a flat, safe
 * tree on any system. Pure, so the unit tests can throw every hostile title at it.
 */

/** The bundle's own entry; no file of the task may take its name. */
export const MANIFEST_ENTRY = "manifest.json";

/** Longest folder name taken from a title, in code points (before a ` (n)` suffix). */
export const MAX_TITLE_LENGTH = 100;

/**
 * Characters that never reach a name: control characters, line and paragraph separators,
 * and the bidirectional overrides that would make `mp3.exe` read as `exe.mp3`.
 */
const INVISIBLE = /[\p{Cc}\p{Zl}\p{Zp}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
/** Path separators, and what Windows refuses in a file name. */
const SEPARATORS = /[/\\:*?"<>|]/g;
/** Names Windows reserves for devices, whatever the extension. */
const RESERVED = /^(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?$/i;

/**
 * A track title as a folder name: no separators, no control characters, no `.`/`..` (a run of
 * dots becomes one; none leads or trails), whitespace collapsed and trimmed, at most
 * MAX_TITLE_LENGTH code points. Null when nothing readable is left (the caller uses the id).
 */
export function safeTitle(title: string | null | undefined): string | null {
  if (!title) return null;
  const cleaned = title
    .normalize("NFC")
    .replace(INVISIBLE, " ")
    .replace(SEPARATORS, "_")
    .replace(/\.{2,}/g, ".")
    .replace(/\s+/g, " ")
    .trim();
  const capped = Array.from(cleaned).slice(0, MAX_TITLE_LENGTH).join("");
  // Trailing dots and spaces vanish on Windows; a leading dot hides the folder elsewhere.
  const name = capped.replace(/^[\s.]+|[\s.]+$/g, "");
  if (!name) return null;
  return RESERVED.test(name) ? `_${name}` : name;
}

/** The last segment of an R2 key: the file's own name (`drums.mp3`, `video.mp4`). */
export const fileNameOf = (key: string) => key.slice(key.lastIndexOf("/") + 1);

/** `name (n)`, before the extension of a file name (`drums (2).mp3`), after a folder name. */
function numbered(name: string, n: number, isFolder: boolean): string {
  const dot = isFolder ? -1 : name.lastIndexOf(".");
  return dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`;
}

/**
 * Hands out names unique within one level of the archive. Case-insensitive: `Song` and `song`
 * are one folder once extracted on macOS or Windows.
 */
class NameSet {
  private readonly taken = new Set<string>();

  constructor(reserved: string[]) {
    for (const name of reserved) this.taken.add(name.toLowerCase());
  }

  claim(name: string, isFolder: boolean): string {
    let candidate = name;
    for (let n = 2; this.taken.has(candidate.toLowerCase()); n++) candidate = numbered(name, n, isFolder);
    this.taken.add(candidate.toLowerCase());
    return candidate;
  }
}

export interface NamedFile {
  /** The R2 key of a stored file. */
  key: string;
}

export interface TitledTrack {
  id: string;
  title: string | null;
}

/**
 * The entry name of every file, in the order given. Music: `<title or trackId>/<file>` (the
 * file being `audio.<ext>` or `cover.<ext>`, the key's last segment), one folder per track,
 * a second track with the same title in `<title> (2)/`. Every other kind: the key's last
 * segment (`drums.mp3`, `video.mp4`, `image-1.png`). `manifest.json` stays the manifest's.
 */
export function bundleEntryNames(kind: string, tracks: TitledTrack[], files: NamedFile[]): string[] {
  const topLevel = new NameSet([MANIFEST_ENTRY]);
  if (kind !== "music") return files.map((file) => topLevel.claim(fileNameOf(file.key), false));

  const titles = new Map(tracks.map((track) => [track.id, track.title]));
  const folders = new Map<string, { name: string; files: NameSet }>();
  return files.map((file) => {
    // music/<taskId>/<trackId>/<file>
    const trackId = file.key.split("/")[2] ?? "";
    let folder = folders.get(trackId);
    if (!folder) {
      const name = topLevel.claim(safeTitle(titles.get(trackId)) ?? trackId, true);
      folder = { name, files: new NameSet([]) };
      folders.set(trackId, folder);
    }
    return `${folder.name}/${folder.files.claim(fileNameOf(file.key), false)}`;
  });
}
