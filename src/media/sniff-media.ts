import { fileTypeFromBuffer } from "file-type";
import { isMediaExtension, type MediaExt } from "../core/keys";
import { PermanentError } from "./errors";

/** How many first bytes decide: what `file-type` reads for nearly every format it knows. */
export const SNIFF_BYTES = 4100;

export interface MediaType {
  /** The stored Content-Type: what the bytes are. */
  contentType: string;
  /** The key's extension. */
  ext: MediaExt;
}

/** Raster images worth archiving; vector (SVG is text anyway), documents and textures are not. */
const RASTER_IMAGES = new Set([
  "image/jpeg",
  "image/png",
  "image/apng",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/heic",
  "image/heif",
  "image/bmp",
  "image/tiff",
  "image/jxl",
  "image/jp2",
]);

const isMedia = (mime: string) =>
  mime.startsWith("audio/") || mime.startsWith("video/") || RASTER_IMAGES.has(mime);

/** `file-type` says `jpg`; the archive has always said `cover.jpeg`. */
const EXTENSION_OF: Record<string, string> = { jpg: "jpeg" };

/**
 * Judges a media file by its first bytes (`head`: at least SNIFF_BYTES of them unless the file
 * is shorter), never by its Content-Type header or its URL: audio, video or a raster image of a
 * format `file-type` knows is archived under the type and extension of what it is. Anything else
 * throws a PermanentError `not_media: <what it is>`; `label` (the Content-Type the origin
 * claimed) is only quoted in that message.
 */
export async function sniffMedia(head: Uint8Array, label: string | null): Promise<MediaType> {
  const sample = head.subarray(0, SNIFF_BYTES);
  const detected = await fileTypeFromBuffer(sample);
  if (detected && isMedia(detected.mime)) {
    const ext = EXTENSION_OF[detected.ext] ?? detected.ext;
    if (isMediaExtension(ext)) return { contentType: detected.mime, ext };
  }
  const what = detected ? describeDetected(detected.mime, sample) : describeUnknown(sample);
  const claimed = label?.split(";")[0]?.trim().toLowerCase();
  throw new PermanentError(`not_media: ${what}${claimed ? ` (served as ${claimed})` : ""}`);
}

const textOf = (bytes: Uint8Array) =>
  new TextDecoder()
    .decode(bytes.subarray(0, 1024))
    .replace(/^\uFEFF/, "")
    .trimStart()
    .toLowerCase();

function describeDetected(mime: string, sample: Uint8Array): string {
  if (mime === "application/xml" && /<svg[\s>]/.test(textOf(sample))) return "image/svg+xml";
  return mime;
}

/** A readable name for what `file-type` does not know: mostly the text an error page is. */
function describeUnknown(sample: Uint8Array): string {
  if (sample.byteLength === 0) return "an empty body";
  const text = textOf(sample);
  if (/^<!doctype html|^<html[\s>]|^<head[\s>]|^<body[\s>]/.test(text)) return "text/html";
  if (/^(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*<svg[\s>]/.test(text)) return "image/svg+xml";
  if (/^<\?xml|^<[a-z][\w:-]*[\s>]/.test(text)) return "text/html or xml";
  if (/^[{[]/.test(text)) return "application/json";
  if (isPrintable(sample)) return "text/plain";
  return "unknown binary data";
}

function isPrintable(sample: Uint8Array): boolean {
  const bytes = sample.subarray(0, 512);
  let control = 0;
  for (const byte of bytes) if (byte < 9 || (byte > 13 && byte < 32) || byte === 127) control++;
  return control === 0;
}
