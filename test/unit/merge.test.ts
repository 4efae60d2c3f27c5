import { describe, expect, it } from "vitest";
import type { TaskUpdate, TrackInfo } from "../../src/providers/model";
import { mergeTracks, mergeUpdate, STAGE_RANK, stateOfStage, urlSwitch } from "../../src/tasks/merge";

const track = (id: string, fields: Partial<TrackInfo> = {}): TrackInfo => ({
  id,
  title: null,
  tags: null,
  prompt: null,
  modelName: null,
  duration: null,
  createTime: null,
  ...fields,
});

const update = (stage: TaskUpdate["stage"], fields: Partial<TaskUpdate> = {}): TaskUpdate => ({
  taskId: "t",
  kind: "music",
  stage,
  code: stage === "error" ? 500 : 200,
  message: null,
  tracks: [],
  assets: [],
  separationType: null,
  via: "callback",
  ...fields,
});

const task = (stage: TaskUpdate["stage"] | null, tracks: TrackInfo[] = []) => ({
  stage,
  tracks: JSON.stringify(tracks),
  separation_type: null,
});

describe("stage order", () => {
  it("ranks complete above error above first above text", () => {
    const order = (Object.keys(STAGE_RANK) as (keyof typeof STAGE_RANK)[]).sort(
      (a, b) => STAGE_RANK[a] - STAGE_RANK[b],
    );
    expect(order).toEqual(["text", "first", "error", "complete"]);
  });

  it("maps stages to task states", () => {
    expect(["text", "first", "error", "complete"].map((s) => stateOfStage(s as "text"))).toEqual([
      "in_progress",
      "in_progress",
      "failed",
      "succeeded",
    ]);
  });

  it("ignores an update older than the task's stage", () => {
    expect(mergeUpdate(task("complete"), update("first"))).toBeNull();
    expect(mergeUpdate(task("error"), update("text"))).toBeNull();
  });

  it("lets a success follow a reported error, but never an error undo a success", () => {
    expect(mergeUpdate(task("error"), update("complete"))).toMatchObject({
      stage: "complete",
      state: "succeeded",
    });
    expect(mergeUpdate(task("complete"), update("error"))).toBeNull();
  });

  it("applies the same stage again (a later poll or a corrected callback)", () => {
    expect(mergeUpdate(task("first"), update("first", { message: "again" }))).toMatchObject({
      stage: "first",
      providerMessage: "again",
    });
  });

  it("keeps a known separation type when the update has none", () => {
    const known = { ...task("complete"), separation_type: "split_stem" };
    expect(mergeUpdate(known, update("complete"))?.separationType).toBe("split_stem");
  });
});

describe("mergeTracks", () => {
  it("fills in fields without blanking known ones, and keeps the first order", () => {
    const known = [track("a", { title: "Song", duration: 12 }), track("b")];
    const merged = mergeTracks(known, [track("b", { title: "B" }), track("a", { tags: "pop" }), track("c")]);
    expect(merged).toEqual([
      track("a", { title: "Song", duration: 12, tags: "pop" }),
      track("b", { title: "B" }),
      track("c"),
    ]);
  });
});

describe("which URL an asset archives", () => {
  const asset = (fields: Partial<Parameters<typeof urlSwitch>[0]> = {}) => ({
    url: "https://cdn.example/a.mp3",
    fallback_url: null,
    using_fallback: 0,
    url_rank: STAGE_RANK.first,
    state: "queued" as const,
    ...fields,
  });
  const spec = (url: string, fallbackUrl: string | null = null) => ({ url, fallbackUrl });
  const B = "https://cdn.example/b.mp3";

  it("lets complete replace first's URL, keeping the earlier one as the fallback", () => {
    expect(urlSwitch(asset(), spec(B), STAGE_RANK.complete)).toEqual({
      url: B,
      fallbackUrl: "https://cdn.example/a.mp3",
      effect: "keep",
    });
  });

  it("prefers the update's own source twin as the fallback", () => {
    expect(urlSwitch(asset(), spec(B, "https://cdn.example/b-src.mp3"), STAGE_RANK.complete)).toMatchObject({
      fallbackUrl: "https://cdn.example/b-src.mp3",
    });
  });

  it.each([
    ["pending", "keep"],
    ["queued", "keep"],
    ["downloading", "supersede"],
    ["stored", "requeue"],
    ["failed", "requeue"],
  ] as const)("for a %s asset: %s", (state, effect) => {
    expect(urlSwitch(asset({ state }), spec(B), STAGE_RANK.complete)?.effect).toBe(effect);
  });

  it("does not fall back to a URL that already failed for good", () => {
    expect(urlSwitch(asset({ state: "failed" }), spec(B), STAGE_RANK.complete)?.fallbackUrl).toBeNull();
  });

  it.each([
    ["an equal rank", STAGE_RANK.first],
    ["a lower rank", STAGE_RANK.text],
  ])("changes nothing for %s", (_case, rank) => {
    expect(urlSwitch(asset(), spec(B), rank)).toBeNull();
  });

  it("changes nothing when the URL is the same, or the twin the asset already moved to", () => {
    expect(urlSwitch(asset(), spec("https://cdn.example/a.mp3"), STAGE_RANK.complete)).toBeNull();
    const onTwin = asset({
      url: "https://cdn.example/src.mp3",
      fallback_url: "https://cdn.example/a.mp3",
      using_fallback: 1,
    });
    expect(urlSwitch(onTwin, spec("https://cdn.example/a.mp3"), STAGE_RANK.complete)).toBeNull();
    expect(urlSwitch(onTwin, spec("https://cdn.example/src.mp3"), STAGE_RANK.complete)).toBeNull();
  });
});
