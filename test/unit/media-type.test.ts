import { describe, expect, it } from "vitest";
import { KINDS, TaskKind } from "../../src/core/ids";
import {
  isArchiveKey,
  MADE_FILES,
  MEDIA_EXTENSIONS,
  madeFileKey,
  manifestKey,
  mediaKey,
  QUARANTINE_KEY,
  taskPrefixes,
} from "../../src/core/keys";
import { backoffSeconds } from "../../src/media/consumer";
import { PermanentError } from "../../src/media/errors";
import { SNIFF_BYTES, sniffMedia } from "../../src/media/sniff-media";
import { pathName } from "../../src/providers/salvage";
import { MEDIA_HEADERS, mediaChunk, patternChunk } from "../../support/pattern";

const text = (value: string) => new TextEncoder().encode(value);

describe("judging a file by its first bytes", () => {
  it.each([
    ["a.mp3", "audio/mpeg", "mp3"],
    ["a.mp4", "video/mp4", "mp4"],
    ["a.jpeg", "image/jpeg", "jpeg"],
    ["a.png", "image/png", "png"],
    ["a.wav", "audio/wav", "wav"],
  ])("takes %s for %s, stored as .%s", async (name, contentType, ext) => {
    const head = mediaChunk(name, 0, SNIFF_BYTES, 3);
    expect(await sniffMedia(head, "application/octet-stream")).toEqual({ contentType, ext });
  });

  it("goes by the content, not by the label", async () => {
    expect(await sniffMedia(mediaChunk("x.png", 0, 5000, 1), "audio/mpeg")).toEqual({
      contentType: "image/png",
      ext: "png",
    });
  });

  it("takes an ID3-tagged MP3 for audio", async () => {
    const head = new Uint8Array(SNIFF_BYTES);
    head.set(Uint8Array.from([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0, 0xff, 0xfb, 0x90, 0x64]));
    expect(await sniffMedia(head, null)).toEqual({ contentType: "audio/mpeg", ext: "mp3" });
  });

  it("judges a file shorter than the sniffing window by what there is", async () => {
    expect(await sniffMedia(MEDIA_HEADERS.mp3 as Uint8Array, null)).toMatchObject({ ext: "mp3" });
  });

  it.each([
    ["an HTML page", "<!DOCTYPE html><html><body>Link expired</body></html>", "text/html"],
    ["an HTML page without doctype", "\n  <html lang=en><body>gone</body></html>", "text/html"],
    ["an XML error", '<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', "application/xml"],
    ["an SVG", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"],
    [
      "an SVG with a prolog",
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
      "image/svg+xml",
    ],
    ["JSON", '{"code":403,"msg":"expired"}', "application/json"],
    ["text", "Link expired. Please try again.", "text/plain"],
  ])("refuses %s as not_media, naming what it is", async (_case, body, detected) => {
    const refusal = sniffMedia(text(body), "audio/mpeg");
    await expect(refusal).rejects.toBeInstanceOf(PermanentError);
    await expect(refusal).rejects.toThrow(`not_media: ${detected} (served as audio/mpeg)`);
  });

  it("refuses bare pattern bytes and other formats that are not media", async () => {
    await expect(sniffMedia(patternChunk(0, SNIFF_BYTES, 5), null)).rejects.toThrow(
      "not_media: unknown binary data",
    );
    const zip = Uint8Array.from([0x50, 0x4b, 0x03, 0x04, ...new Uint8Array(100)]);
    await expect(sniffMedia(zip, null)).rejects.toThrow(/^not_media: application\/zip$/);
    const pdf = text("%PDF-1.7\n%\u00e2\u00e3\n1 0 obj\n");
    await expect(sniffMedia(pdf, "audio/mpeg")).rejects.toThrow(/^not_media: application\/pdf/);
  });
});

describe("archive keys", () => {
  it("follows the contract's layout", () => {
    expect(mediaKey("music", "t1", "trk-1/audio", "mp3")).toBe("music/t1/trk-1/audio.mp3");
    expect(mediaKey("music", "t1", "trk-1/cover", "jpeg")).toBe("music/t1/trk-1/cover.jpeg");
    expect(mediaKey("separation", "t1", "drums", "mp3")).toBe("separation/t1/drums.mp3");
    expect(mediaKey("video", "t1", "video", "mp4")).toBe("video/t1/video.mp4");
    expect(mediaKey("video", "t1", "video", "webm")).toBe("video/t1/video.webm");
    expect(mediaKey("wav", "t1", "audio", "wav")).toBe("wav/t1/audio.wav");
    expect(mediaKey("cover", "t1", "image-2", "png")).toBe("cover/t1/image-2.png");
    expect(madeFileKey("t1", "lyrics")).toBe("lyrics/t1/lyrics.json");
    expect(madeFileKey("t1", "midi")).toBe("midi/t1/notes.mid");
    expect(madeFileKey("t1", "notes")).toBe("midi/t1/notes.json");
  });

  it("keeps a salvaged file under unknown/, whatever kind its task became", () => {
    for (const kind of TaskKind.options) {
      expect(mediaKey(kind, "t1", "file:data-something_new", "mp3")).toBe(
        "unknown/t1/data-something_new.mp3",
      );
      expect(taskPrefixes(kind, "t1")).toContain("unknown/t1/");
    }
  });

  it("makes a JSON path a key segment", () => {
    expect(pathName(["data", "something_new"])).toBe("data-something_new");
    expect(pathName(["data", "images", 0])).toBe("data-images-0");
    expect(pathName(["data", "a.b/../c d"])).toBe("data-a_b____c_d");
    const long = pathName(["data", "x".repeat(300)]);
    expect(long).toMatch(/^data-x+-[0-9a-f]{8}$/);
    expect(long.length).toBeLessThanOrEqual(128);
    expect(pathName(["data", `${"x".repeat(300)}y`])).not.toBe(long);
  });

  it("never gives a made file a manifest's key", () => {
    for (const asset of Object.keys(MADE_FILES) as (keyof typeof MADE_FILES)[]) {
      for (const kind of TaskKind.options) expect(madeFileKey("t1", asset)).not.toBe(manifestKey(kind, "t1"));
      expect(isArchiveKey(madeFileKey("t1", asset))).toBe(true);
    }
  });

  it("never gives an asset the manifest's key, not even a stem named manifest", () => {
    expect(MEDIA_EXTENSIONS).not.toContain("json");
    for (const kind of TaskKind.options) {
      for (const ext of MEDIA_EXTENSIONS) {
        for (const asset of [
          "manifest",
          "video",
          "manifest/audio",
          "manifest/cover",
          "file:manifest",
          "audio",
        ]) {
          expect(mediaKey(kind, "t1", asset, ext)).not.toBe(manifestKey(kind, "t1"));
        }
      }
    }
    expect(mediaKey("separation", "t1", "manifest", "mp3")).toBe("separation/t1/manifest.mp3");
    // @ts-expect-error json is no media extension, so the type refuses it; so does the function
    expect(() => mediaKey("separation", "t1", "manifest", "json")).toThrow(/not an archived media extension/);
  });

  it.each([
    ["music/t1/trk-1/audio.mp3", true],
    ["music/t1/trk-1/cover.jpeg", true],
    ["separation/t1/drums.mp3", true],
    ["separation/t1/manifest.wav", true],
    ["video/t1/video.mp4", true],
    ["video/t1/video.webm", true],
    ["music/t1/manifest.json", true],
    ["separation/t1/manifest.json", true],
    ["separation/t1/drums.json", false],
    ["separation/t1/drums.html", false],
    ["separation/t1/drums.svg", false],
    ["separation/t1/drums.bin", false],
    ["music/t1/trk-1/audio.html", false],
    ["music/../secrets", false],
    ["music/t1/trk-1/../../x.mp3", false],
    [".staging/t1/abc", false],
    ["music//t1/audio.mp3", false],
    ["/music/t1/trk/audio.mp3", false],
    ["music/t1/trk/lyrics.txt", false],
    ["wav/t1/audio.wav", true],
    ["wav/t1/other.wav", false],
    ["cover/t1/image-1.png", true],
    ["cover/t1/image-0.png", false],
    ["cover/t1/image-1.json", false],
    ["lyrics/t1/lyrics.json", true],
    ["lyrics/t1/other.json", false],
    ["midi/t1/notes.mid", true],
    ["midi/t1/notes.json", true],
    ["midi/t1/drums.mid", false],
    ["unknown/t1/data-something_new.mp3", true],
    ["unknown/t1/data-something_new.json", false],
    ["unknown/t1/manifest.json", true],
    ["cover/t1/manifest.json", true],
    ["quarantine/2026-11-30/abc.json", false],
  ])("%s is an archive key: %s", (key, expected) => {
    expect(isArchiveKey(key)).toBe(expected);
  });
});

it("names each quarantined body by its day and hash only", () => {
  expect(QUARANTINE_KEY.test(`quarantine/2026-11-30/${"a".repeat(64)}.json`)).toBe(true);
  expect(QUARANTINE_KEY.test("quarantine/2026-11-30/../x.json")).toBe(false);
  expect(KINDS).toHaveLength(7);
});

describe("retry backoff", () => {
  it("doubles per attempt with jitter in the upper half, capped at 15 minutes", () => {
    expect(backoffSeconds(1, 10, () => 0)).toBe(5);
    expect(backoffSeconds(1, 10, () => 1)).toBe(10);
    expect(backoffSeconds(3, 10, () => 1)).toBe(40);
    expect(backoffSeconds(3, 10, () => 0)).toBe(20);
    expect(backoffSeconds(20, 10, () => 1)).toBe(900);
  });
});
