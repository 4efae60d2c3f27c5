import { describe, expect, it } from "vitest";
import { isArchiveKey, mediaKey } from "../../src/core/keys";
import { backoffSeconds } from "../../src/media/consumer";
import { mediaType } from "../../src/media/content-type";

describe("stored content type and extension", () => {
  const url = (path: string) => new URL(`https://musicfile.api.box${path}`);

  it("prefers a known Content-Type", () => {
    expect(mediaType("audio/mpeg", url("/a"))).toEqual({ contentType: "audio/mpeg", ext: "mp3" });
    expect(mediaType("image/jpeg; charset=binary", url("/a.png"))).toEqual({
      contentType: "image/jpeg",
      ext: "jpeg",
    });
  });

  it("falls back to the URL's extension for a generic Content-Type", () => {
    expect(mediaType("application/octet-stream", url("/a.mp3"))).toEqual({
      contentType: "audio/mpeg",
      ext: "mp3",
    });
    expect(mediaType(null, url("/clip.MP4"))).toEqual({ contentType: "video/mp4", ext: "mp4" });
  });

  it("uses a generic binary when neither says anything", () => {
    expect(mediaType(null, url("/abcdef"))).toEqual({ contentType: "application/octet-stream", ext: "bin" });
  });
});

describe("archive keys", () => {
  it("follows the contract's layout", () => {
    expect(mediaKey("music", "t1", "trk-1/audio", "mp3")).toBe("music/t1/trk-1/audio.mp3");
    expect(mediaKey("music", "t1", "trk-1/cover", "jpeg")).toBe("music/t1/trk-1/cover.jpeg");
    expect(mediaKey("separation", "t1", "drums", "mp3")).toBe("separation/t1/drums.mp3");
    expect(mediaKey("video", "t1", "video", "webm")).toBe("video/t1/video.mp4");
  });

  it.each([
    ["music/t1/trk-1/audio.mp3", true],
    ["separation/t1/drums.mp3", true],
    ["video/t1/video.mp4", true],
    ["music/t1/manifest.json", true],
    ["music/../secrets", false],
    ["music/t1/trk-1/../../x.mp3", false],
    [".staging/t1/abc", false],
    ["music//t1/audio.mp3", false],
    ["/music/t1/trk/audio.mp3", false],
    ["music/t1/trk/lyrics.txt", false],
  ])("%s is an archive key: %s", (key, expected) => {
    expect(isArchiveKey(key)).toBe(expected);
  });
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
