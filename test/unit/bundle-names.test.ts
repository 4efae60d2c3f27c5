import { describe, expect, it } from "vitest";
import { bundleEntryNames, MAX_TITLE_LENGTH, safeTitle } from "../../src/bundles/names";

const music = (taskId: string, ...files: [trackId: string, file: string][]) =>
  files.map(([trackId, file]) => ({ key: `music/${taskId}/${trackId}/${file}` }));

/** A name that extracts into the archive's own folder: no separator tricks, nothing invisible. */
const isFlatAndSafe = (name: string) =>
  !/[/\\:*?"<>|]/.test(name) &&
  !name.includes("..") &&
  !/[\p{Cc}\u202a-\u202e\u2066-\u2069]/u.test(name) &&
  name === name.trim() &&
  !name.startsWith(".") &&
  name.length > 0;

describe("safeTitle", () => {
  it.each([
    ["../../etc/passwd", "_._etc_passwd"],
    ["..\\..\\windows\\system32", "_._windows_system32"],
    ["/absolute/path", "_absolute_path"],
    ["a/b\\c", "a_b_c"],
    ["Wait...", "Wait"],
    ["...", null],
    ["..", null],
    [".hidden", "hidden"],
    ["  spaced   out  ", "spaced out"],
    ["line\nbreak\ttab", "line break tab"],
    ["nul\u0000byte", "nul byte"],
    ["\u001b[31mred\u001b[0m", "[31mred [0m"],
    ["evil\u202Egnp.exe", "evil gnp.exe"],
    ['what? yes: <no> | "quoted" *', "what_ yes_ _no_ _ _quoted_ _"],
    ["CON", "_CON"],
    ["lpt1.txt", "_lpt1.txt"],
    ["Iron Man", "Iron Man"],
    ["Café ☕ 東京", "Café ☕ 東京"],
    ["", null],
    ["   ", null],
    ["\u0000\u0001\u0002", null],
    [null, null],
  ])("makes %j into %j", (title, expected) => {
    expect(safeTitle(title)).toBe(expected);
    if (expected) expect(isFlatAndSafe(expected)).toBe(true);
  });

  it("caps a long title without splitting a character", () => {
    const title = "🎵".repeat(MAX_TITLE_LENGTH + 20);
    const safe = safeTitle(title) as string;
    expect(Array.from(safe)).toHaveLength(MAX_TITLE_LENGTH);
    expect(safe).toBe("🎵".repeat(MAX_TITLE_LENGTH));
  });

  it("trims what the cap leaves at the end", () => {
    const title = `${"a".repeat(MAX_TITLE_LENGTH - 1)} tail`;
    expect(safeTitle(title)).toBe("a".repeat(MAX_TITLE_LENGTH - 1));
  });
});

describe("bundleEntryNames", () => {
  it("names a track's files under its title, and falls back to the track id", () => {
    const names = bundleEntryNames(
      "music",
      [
        { id: "t1", title: "Night Drive" },
        { id: "t2", title: null },
        { id: "t3", title: "\u0000 .. " },
      ],
      music("task", ["t1", "audio.mp3"], ["t1", "cover.jpeg"], ["t2", "audio.mp3"], ["t3", "cover.png"]),
    );
    expect(names).toEqual([
      "Night Drive/audio.mp3",
      "Night Drive/cover.jpeg",
      "t2/audio.mp3",
      "t3/cover.png",
    ]);
  });

  it("gives a second track with the same title its own folder", () => {
    const names = bundleEntryNames(
      "music",
      [
        { id: "a", title: "Iron Man" },
        { id: "b", title: "Iron Man" },
        { id: "c", title: "iron man" },
      ],
      music(
        "task",
        ["a", "audio.mp3"],
        ["b", "audio.mp3"],
        ["a", "cover.jpeg"],
        ["b", "cover.jpeg"],
        ["c", "audio.mp3"],
      ),
    );
    expect(names).toEqual([
      "Iron Man/audio.mp3",
      "Iron Man (2)/audio.mp3",
      "Iron Man/cover.jpeg",
      "Iron Man (2)/cover.jpeg",
      "iron man (3)/audio.mp3",
    ]);
  });

  it("keeps titles with path tricks and control characters to one flat folder", () => {
    const names = bundleEntryNames(
      "music",
      [
        { id: "a", title: "../../../etc/cron.d/x" },
        { id: "b", title: "..\\..\\AppData\\evil\u0007\u001b[2J" },
        { id: "c", title: "/" },
      ],
      music("task", ["a", "audio.mp3"], ["b", "audio.mp3"], ["c", "audio.mp3"]),
    );
    expect(names).toEqual(["_._._etc_cron.d_x/audio.mp3", "_._AppData_evil [2J/audio.mp3", "_/audio.mp3"]);
    for (const name of names) {
      const [folder, file, ...rest] = name.split("/");
      expect(rest).toEqual([]);
      expect(isFlatAndSafe(folder as string), name).toBe(true);
      expect(file).toBe("audio.mp3");
    }
  });

  it("never lets a title take the manifest's name", () => {
    const names = bundleEntryNames(
      "music",
      [{ id: "a", title: "manifest.json" }],
      music("task", ["a", "audio.mp3"]),
    );
    expect(names).toEqual(["manifest.json (2)/audio.mp3"]);
  });

  it("names stems, a video and the other kinds' files by their key's file name", () => {
    expect(
      bundleEntryNames(
        "separation",
        [],
        [
          { key: "separation/t/vocals.mp3" },
          { key: "separation/t/drums.mp3" },
          { key: "separation/t/manifest.mp3" },
        ],
      ),
    ).toEqual(["vocals.mp3", "drums.mp3", "manifest.mp3"]);
    expect(bundleEntryNames("video", [], [{ key: "video/t/video.mp4" }])).toEqual(["video.mp4"]);
    expect(
      bundleEntryNames("cover", [], [{ key: "cover/t/image-1.png" }, { key: "cover/t/image-2.jpeg" }]),
    ).toEqual(["image-1.png", "image-2.jpeg"]);
    expect(bundleEntryNames("midi", [], [{ key: "midi/t/notes.mid" }, { key: "midi/t/notes.json" }])).toEqual(
      ["notes.mid", "notes.json"],
    );
  });

  it("numbers a repeated file name before its extension, and keeps the manifest's name free", () => {
    expect(
      bundleEntryNames(
        "unknown",
        [],
        [
          { key: "unknown/t/a/file.mp3" },
          { key: "unknown/t/b/file.mp3" },
          { key: "unknown/t/manifest.json" },
        ],
      ),
    ).toEqual(["file.mp3", "file (2).mp3", "manifest (2).json"]);
  });
});
