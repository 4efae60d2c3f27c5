import { describe, expect, it } from "vitest";
import type { TaskUpdate, TrackInfo } from "../../src/providers/model";
import { mergeTracks, mergeUpdate, STAGE_RANK, stateOfStage } from "../../src/tasks/merge";

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
