const EXT_BY_TYPE: Record<string, string> = {
  "audio/mpeg": "mp3",
  "audio/mp3": "mp3",
  "audio/wav": "wav",
  "audio/x-wav": "wav",
  "audio/wave": "wav",
  "audio/flac": "flac",
  "audio/x-flac": "flac",
  "audio/ogg": "ogg",
  "audio/aac": "aac",
  "audio/mp4": "m4a",
  "audio/x-m4a": "m4a",
  "image/jpeg": "jpeg",
  "image/png": "png",
  "image/webp": "webp",
  "image/gif": "gif",
  "video/mp4": "mp4",
  "video/webm": "webm",
  "video/quicktime": "mov",
};

const TYPE_BY_EXT: Record<string, string> = {
  mp3: "audio/mpeg",
  wav: "audio/wav",
  flac: "audio/flac",
  ogg: "audio/ogg",
  aac: "audio/aac",
  m4a: "audio/mp4",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  mp4: "video/mp4",
  webm: "video/webm",
  mov: "video/quicktime",
};

const urlExtension = (url: URL) => /\.([a-z0-9]{1,5})$/i.exec(url.pathname)?.[1]?.toLowerCase() ?? null;

/**
 * The stored content type and file extension: from the response's Content-Type when it is a
 * known media type, else from the URL's extension, else a generic binary.
 */
export function mediaType(header: string | null, url: URL): { contentType: string; ext: string } {
  const fromHeader = header?.split(";")[0]?.trim().toLowerCase() ?? "";
  const headerExt = EXT_BY_TYPE[fromHeader];
  if (headerExt) return { contentType: fromHeader, ext: headerExt };
  const ext = urlExtension(url);
  const byExt = ext ? TYPE_BY_EXT[ext] : undefined;
  if (ext && byExt) return { contentType: byExt, ext };
  if (fromHeader && fromHeader !== "application/octet-stream" && fromHeader !== "binary/octet-stream") {
    return { contentType: fromHeader, ext: ext ?? "bin" };
  }
  return { contentType: "application/octet-stream", ext: ext ?? "bin" };
}
