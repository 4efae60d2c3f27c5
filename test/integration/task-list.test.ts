import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type IndexEntry, upsertStatement } from "../../src/index-db/entries";
import { listAll, listTasks } from "../helpers/index";
import { bearer, request } from "../helpers/worker";

// Rows are seeded straight into D1 (the list reads nothing else), so that hundreds of tasks can
// share one updatedAt to the millisecond. This file's D1 holds only these rows.

const T = Date.parse("2026-11-30T10:00:00.000Z");
const KINDS = ["music", "separation", "video"] as const;
const STATES = ["awaiting_callback", "in_progress", "succeeded", "failed"] as const;
const ARCHIVES = ["none", "archiving", "archived", "failed"] as const;

const seeded: IndexEntry[] = [];

function entry(taskId: string, i: number, updatedAt: number): IndexEntry {
  return {
    taskId,
    kind: KINDS[i % 3] as IndexEntry["kind"],
    state: STATES[i % 4] as IndexEntry["state"],
    stage: i % 4 === 0 ? null : "complete",
    archive: {
      state: ARCHIVES[(i >> 2) % 4] as IndexEntry["archive"]["state"],
      stored: i % 5,
      failed: 0,
      total: 5,
      bytes: i,
    },
    createdAt: T - 60_000,
    updatedAt,
    version: 1,
  };
}

beforeAll(async () => {
  // 300 tasks updated at the very same millisecond, 40 an hour earlier, 20 an hour later, and
  // ids whose prefixes differ only in a LIKE wildcard (`_`) or a hyphen.
  for (let i = 0; i < 300; i++) seeded.push(entry(`same-${String(i).padStart(3, "0")}`, i, T));
  for (let i = 0; i < 40; i++) seeded.push(entry(`early-${i}`, i, T - 3_600_000 + i));
  for (let i = 0; i < 20; i++) seeded.push(entry(`late-${i}`, i, T + 3_600_000));
  for (const [i, id] of ["pre_a", "pre_b", "preXa", "pre-a", "pre"].entries())
    seeded.push(entry(id, i, T - 1));
  for (let i = 0; i < seeded.length; i += 50) {
    await env.INDEX.batch(seeded.slice(i, i + 50).map((row) => upsertStatement(env.INDEX, row)));
  }
});

/** The expected order: updatedAt descending, then taskId descending (binary). */
const ordered = (rows: IndexEntry[]) =>
  [...rows]
    .sort((a, b) => b.updatedAt - a.updatedAt || (a.taskId < b.taskId ? 1 : a.taskId > b.taskId ? -1 : 0))
    .map((row) => row.taskId);

describe("GET /tasks paging", () => {
  it.each([1, 7, 50, 200])("yields every task exactly once, newest first, in pages of %i", async (limit) => {
    const pages = await listAll({ limit: String(limit) });
    const ids = pages.flat().map((task) => task.taskId);
    expect(ids).toEqual(ordered(seeded));
    expect(new Set(ids).size).toBe(seeded.length);
    for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
  });

  it("pages through the 300 tasks sharing one updatedAt by their ids", async () => {
    const same = seeded.filter((row) => row.updatedAt === T);
    const pages = await listAll({
      since: new Date(T).toISOString(),
      until: new Date(T + 1).toISOString(),
      limit: "13",
    });
    expect(pages.flat().map((task) => task.taskId)).toEqual(ordered(same));
    expect(pages).toHaveLength(Math.ceil(300 / 13));
  });

  it("answers 50 by default, with a cursor, and null on the last page", async () => {
    const first = await listTasks();
    expect(first.status).toBe(200);
    expect(first.body.tasks).toHaveLength(50);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const last = await listTasks({ q: "late-", limit: "20" });
    expect(last.body.tasks).toHaveLength(20);
    expect(last.body.nextCursor).toBeNull();
  });

  it("shows the documented fields", async () => {
    const { body } = await listTasks({ q: "same-007" });
    expect(body.tasks).toEqual([
      {
        taskId: "same-007",
        kind: "separation",
        state: "failed",
        stage: "complete",
        archive: { state: "archiving", stored: 2, failed: 0, total: 5, bytes: 7 },
        createdAt: new Date(T - 60_000).toISOString(),
        updatedAt: new Date(T).toISOString(),
      },
    ]);
  });
});

describe("GET /tasks filters", () => {
  it.each([
    ["kind", "separation", (row: IndexEntry) => row.kind === "separation"],
    ["state", "failed", (row: IndexEntry) => row.state === "failed"],
    ["archive", "archived", (row: IndexEntry) => row.archive.state === "archived"],
  ] as const)("%s=%s, paged", async (name, value, keep) => {
    const pages = await listAll({ [name]: value, limit: "9" });
    expect(pages.flat().map((task) => task.taskId)).toEqual(ordered(seeded.filter(keep)));
  });

  it("combines filters", async () => {
    const pages = await listAll({ kind: "music", state: "succeeded", archive: "none", limit: "4" });
    const keep = (row: IndexEntry) =>
      row.kind === "music" && row.state === "succeeded" && row.archive.state === "none";
    expect(pages.flat().map((task) => task.taskId)).toEqual(ordered(seeded.filter(keep)));
    expect(pages.flat().length).toBeGreaterThan(4);
  });

  it("takes since as inclusive and until as exclusive", async () => {
    const at = (ms: number) => new Date(ms).toISOString();
    const sinceT = (await listAll({ since: at(T), limit: "200" })).flat();
    expect(sinceT.map((task) => task.taskId)).toEqual(ordered(seeded.filter((row) => row.updatedAt >= T)));
    const untilT = (await listAll({ until: at(T), limit: "200" })).flat();
    expect(untilT.map((task) => task.taskId)).toEqual(ordered(seeded.filter((row) => row.updatedAt < T)));
    // An offset names the same instant; a plain date is its midnight UTC.
    const offset = (
      await listTasks({ since: "2026-11-30T11:00:00+01:00", until: "2026-11-30T10:00:00.001Z" })
    ).body;
    expect(offset.tasks).toHaveLength(50);
    expect((await listTasks({ since: "2026-12-01" })).body.tasks).toEqual([]);
  });

  it("matches q as a plain prefix of the id: `_` is no wildcard", async () => {
    const ids = async (q: string) => (await listAll({ q })).flat().map((task) => task.taskId);
    expect(await ids("pre_")).toEqual(["pre_b", "pre_a"]);
    expect(await ids("pre")).toEqual(["pre_b", "pre_a", "preXa", "pre-a", "pre"]);
    expect(await ids("pre-")).toEqual(["pre-a"]);
    expect(await ids("same-29")).toEqual([
      "same-299",
      "same-298",
      "same-297",
      "same-296",
      "same-295",
      "same-294",
      "same-293",
      "same-292",
      "same-291",
      "same-290",
    ]);
    expect(await ids("nothing")).toEqual([]);
  });
});

describe("GET /tasks refuses a bad query", () => {
  it.each([
    ["limit=0", "limit"],
    ["limit=201", "limit"],
    ["limit=abc", "limit"],
    ["limit=1.5", "limit"],
    ["limit=-1", "limit"],
    ["limit=", "limit"],
    ["limit=1e2", "limit"],
    ["kind=podcast", "kind"],
    ["state=done", "state"],
    ["archive=partial", "archive"],
    ["since=yesterday", "since"],
    ["until=2026-13-01T00:00:00Z", "until"],
    ["since=2026-11-30T10:00:00", "since"],
    ["since=2026-11-30T10:00:00Z&until=2026-11-30T09:00:00Z", "until"],
    ["q=a%25", "q"],
    ["q=", "q"],
    [`q=${"a".repeat(129)}`, "q"],
    ["kind=music&kind=video", "kind"],
    ["cursor=not-a-cursor", "cursor"],
    ["cursor=", "cursor"],
    ["lmit=5", "lmit"],
  ])("%s → 400 invalid_query naming %s", async (query, field) => {
    const { status, body } = await listTasks(query);
    expect(status).toBe(400);
    expect(body.error?.code).toBe("invalid_query");
    expect(body.error?.issues?.map((issue) => issue.path)).toContain(field);
  });

  it("refuses a cursor that was altered, or that belongs to other filters", async () => {
    const { body } = await listTasks({ kind: "music", limit: "3" });
    const cursor = body.nextCursor as string;
    expect((await listTasks({ kind: "music", limit: "3", cursor })).status).toBe(200);
    const flip = (text: string, at: number) =>
      text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
    for (const altered of [
      flip(cursor, 2),
      flip(cursor, cursor.length - 2),
      `${cursor}x`,
      cursor.slice(1),
      `${cursor}.x`,
    ]) {
      const answer = await listTasks({ kind: "music", limit: "3", cursor: altered });
      expect(answer.status, altered).toBe(400);
      expect(answer.body.error?.issues).toEqual([{ path: "cursor", message: expect.any(String) }]);
    }
    const other = await listTasks({ kind: "video", limit: "3", cursor });
    expect(other.status).toBe(400);
    expect(other.body.error?.issues?.[0]?.message).toMatch(/other filters/);
  });

  it("refuses a cursor signed under another API token", async () => {
    const { body } = await listTasks({ limit: "2" });
    const response = await request(
      `/tasks?limit=2&cursor=${encodeURIComponent(body.nextCursor as string)}`,
      { headers: { authorization: "Bearer rotated-token" } },
      { API_TOKEN: "rotated-token" },
    );
    expect(response.status).toBe(400);
  });

  it("answers 401 without the bearer token", async () => {
    expect((await request("/tasks")).status).toBe(401);
    expect((await request("/tasks", { headers: { authorization: "Bearer nope" } })).status).toBe(401);
    expect((await request("/tasks", { headers: bearer })).status).toBe(200);
  });
});
