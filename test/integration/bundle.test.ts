import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { signBundleLink } from "../../src/api/media-links";
import { config } from "../../src/core/config";
import type { TaskStatus } from "../../src/tasks/status";
import { taskStub } from "../../src/tasks/stub";
import type { TaskObject } from "../../src/tasks/task-object";
import sunoMusic from "../../support/fixtures/sunoapi.music.complete.json";
import { crc32, readZip, sha256Hex, type ZipEntry } from "../../support/zip";
import { atOrigin, originBytes, r2Sha256 } from "../helpers/media";
import { archivedStems, archiveUrl } from "../helpers/tasks";
import {
  bearer,
  getStatus,
  postCallback,
  request,
  settled,
  uniqueId,
  waitForStatus,
  withTaskId,
} from "../helpers/worker";

const SECURITY = {
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; sandbox",
};

let stems: TaskStatus;
let stemsLink: string;

beforeAll(async () => {
  stems = await getStatus((await archivedStems(40_000, "bundle")).taskId);
  stemsLink = stems.bundle?.url as string;
});

const bundlePath = (taskId: string, query = "") => `/tasks/${taskId}/bundle.zip${query}`;

/** A sunoapi.org vocal removal callback whose two stems are at the given URLs. */
const vocalRemoval = (taskId: string, vocalsUrl: string, instrumentalUrl: string) => ({
  code: 200,
  msg: "vocal Removal generated successfully.",
  data: {
    task_id: taskId,
    vocal_removal_info: { origin_url: "", vocals_url: vocalsUrl, instrumental_url: instrumentalUrl },
  },
});

async function unzip(response: Response): Promise<ZipEntry[]> {
  expect(response.status).toBe(200);
  const bytes = new Uint8Array(await response.arrayBuffer());
  expect(bytes.byteLength).toBe(Number(response.headers.get("content-length")));
  return readZip(bytes);
}

/** Each file entry is its R2 object byte for byte (SHA-256 and CRC-32); returns the manifest's text. */
async function expectEntriesMatch(entries: ZipEntry[], status: TaskStatus, names: Map<string, string>) {
  for (const entry of entries) {
    expect(entry.method, entry.name).toBe(0);
    expect(entry.declaredCrc32, entry.name).toBe(crc32(entry.bytes));
  }
  for (const [name, key] of names) {
    const entry = entries.find((candidate) => candidate.name === name);
    const asset = status.assets.find((candidate) => candidate.key === key);
    const stored = await r2Sha256(key);
    expect(entry, name).toBeDefined();
    expect(await sha256Hex(entry?.bytes as Uint8Array), name).toBe(stored?.sha256);
    expect(asset?.sha256, name).toBe(stored?.sha256);
    expect(entry?.bytes.byteLength, name).toBe(asset?.bytes);
  }
  expect(entries.map((entry) => entry.name).sort()).toEqual([...names.keys(), "manifest.json"].sort());
  return new TextDecoder().decode(entries.find((entry) => entry.name === "manifest.json")?.bytes);
}

/** A queued asset added to a task, as a callback's second stem would be (no queue message). */
async function addQueuedAsset(taskId: string, name: string) {
  await runInDurableObject(taskStub(env, taskId), async (_instance: TaskObject, state) => {
    const now = Date.now();
    state.storage.sql.exec(
      `INSERT INTO assets (name, role, url, via, state, position, queued_at, created_at, updated_at)
         VALUES (?, 'stem', ?, 'callback', 'queued', 1, ?, ?, ?)`,
      name,
      originBytes(`${name}.mp3`, 1000, 5),
      now,
      now,
      now,
    );
  });
}

describe("GET /tasks/:taskId/bundle.zip", () => {
  it("bundles every stem of a separation task and its manifest, each entry byte-exact", async () => {
    expect(stems.archive.state).toBe("archived");
    const response = await request(bundlePath(stems.taskId), { headers: bearer });
    expect(response.headers.get("content-type")).toBe("application/zip");
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${stems.taskId}.zip"`);
    expect(response.headers.get("x-content-type-options")).toBe(SECURITY["x-content-type-options"]);
    expect(response.headers.get("content-security-policy")).toBe(SECURITY["content-security-policy"]);
    const entries = await unzip(response);

    const names = new Map(stems.assets.map((asset) => [`${asset.name}.mp3`, asset.key as string]));
    expect(names.size).toBe(12);
    const manifest = await expectEntriesMatch(entries, stems, names);
    // The manifest is the one the task object stored when the task settled.
    const stored = await env.MEDIA.get(`separation/${stems.taskId}/manifest.json`);
    expect(manifest).toBe(await stored?.text());
    expect(JSON.parse(manifest)).toMatchObject({ taskId: stems.taskId, archive: { state: "archived" } });
  });

  it("puts a signed link and the exact length of the ZIP in the status JSON", async () => {
    expect(stemsLink).toMatch(
      new RegExp(`^/tasks/${stems.taskId}/bundle\\.zip\\?expires=\\d+&sig=[A-Za-z0-9_-]+$`),
    );
    const response = await request(stemsLink);
    const bytes = await response.arrayBuffer();
    expect(response.status).toBe(200);
    expect(bytes.byteLength).toBe(stems.bundle?.bytes);
    expect(readZip(new Uint8Array(bytes))).toHaveLength(13);
  });

  it("answers HEAD with the length and entity tag of GET, and no body", async () => {
    const head = await request(bundlePath(stems.taskId), { method: "HEAD", headers: bearer });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(stems.bundle?.bytes));
    expect(head.headers.get("etag")).toMatch(/^W\/"[0-9a-f]+"$/);
    expect(await head.text()).toBe("");
    const get = await request(stemsLink);
    expect(get.headers.get("etag")).toBe(head.headers.get("etag"));
    await get.body?.cancel();
  });

  it("answers 304 to a matching If-None-Match, and the whole ZIP to a stale one", async () => {
    const { headers } = await request(bundlePath(stems.taskId), { method: "HEAD", headers: bearer });
    const etag = headers.get("etag") as string;
    const fresh = await request(stemsLink, { headers: { "if-none-match": etag } });
    expect(fresh.status).toBe(304);
    expect(fresh.headers.get("etag")).toBe(etag);
    expect(await fresh.text()).toBe("");
    const stale = await request(stemsLink, { headers: { "if-none-match": 'W/"other"' } });
    expect(await unzip(stale)).toHaveLength(13);
  });

  it("refuses a tampered, expired or other task's link, and its signature opens no media file", async () => {
    const url = new URL(stemsLink, "https://x");
    const sig = url.searchParams.get("sig") as string;
    const expires = url.searchParams.get("expires") as string;
    const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    const path = bundlePath(stems.taskId);
    expect((await request(`${path}?expires=${expires}&sig=${flipped}`)).status).toBe(401);
    expect((await request(`${path}?expires=${Number(expires) + 1}&sig=${sig}`)).status).toBe(401);
    expect((await request(`${path}?expires=${expires}`)).status).toBe(401);
    expect((await request(path)).status).toBe(401);
    expect((await request(path, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const other = await archiveUrl(originBytes("other.mp3", 1000, 9));
    expect((await request(`${bundlePath(other.taskId)}?expires=${expires}&sig=${sig}`)).status).toBe(401);
    const key = stems.assets[0]?.key as string;
    expect((await request(`/media/${key}?expires=${expires}&sig=${sig}`)).status).toBe(401);

    const cfg = config(env);
    const expired = await signBundleLink(
      cfg,
      stems.taskId,
      Math.floor(Date.now() / 1000) - cfg.mediaLinkTtlSeconds - 1,
    );
    const refused = await request(expired as string);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("content-security-policy")).toBe(SECURITY["content-security-policy"]);
    expect((await request(stemsLink, {}, { MEDIA_SIGNING_KEY: "rotated" })).status).toBe(401);
  });

  it("refuses a task that is not fully archived with 409 naming what is missing", async () => {
    const { taskId } = await archiveUrl(originBytes("drums.mp3", 30_000, 11));
    await addQueuedAsset(taskId, "bass");
    const response = await request(bundlePath(taskId), { headers: bearer });
    expect(response.status).toBe(409);
    const body = (await response.json()) as { error: { code: string; message: string; issues: unknown[] } };
    expect(body.error.code).toBe("not_archived");
    expect(body.error.message).toContain("bass");
    expect(body.error.issues).toEqual([{ path: "bass", message: "queued" }]);
  });

  it("bundles the stored files with ?partial=true, with a manifest listing what is missing", async () => {
    const { taskId } = await archiveUrl(originBytes("drums.mp3", 30_000, 12));
    const full = await request(bundlePath(taskId), { method: "HEAD", headers: bearer });
    await addQueuedAsset(taskId, "bass");
    const status = await getStatus(taskId);
    expect(status.archive.state).toBe("archiving");

    const response = await request(`${status.bundle?.url}&partial=true`);
    const entries = await unzip(response);
    const drums = status.assets.find((asset) => asset.name === "drums");
    const manifest = JSON.parse(
      await expectEntriesMatch(entries, status, new Map([["drums.mp3", drums?.key as string]])),
    );
    expect(manifest.missing).toEqual(["bass"]);
    expect(
      manifest.assets.map((asset: { name: string; state: string }) => [asset.name, asset.state]),
    ).toEqual([
      ["drums", "stored"],
      ["bass", "queued"],
    ]);
    expect(status.bundle?.bytes).toBe(Number(response.headers.get("content-length")));
    // Another set of files, another entity tag.
    expect(response.headers.get("etag")).not.toBe(full.headers.get("etag"));
  });

  it("bundles a settled task whose file failed only with ?partial=true, with its stored manifest", async () => {
    const taskId = uniqueId("failed");
    const response = await postCallback(
      vocalRemoval(taskId, originBytes("vocals.mp3", 25_000, 13), `${env.ORIGIN_URL}/status/404`),
    );
    expect(response.status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.archive.state).toBe("failed");
    const refused = await request(bundlePath(taskId), { headers: bearer });
    expect(refused.status).toBe(409);
    expect(
      ((await refused.json()) as { error: { issues: { path: string; message: string }[] } }).error.issues,
    ).toEqual([{ path: "instrumental", message: expect.stringMatching(/^failed: /) }]);

    const entries = await unzip(await request(bundlePath(taskId, "?partial=true"), { headers: bearer }));
    const vocals = status.assets.find((asset) => asset.name === "vocals")?.key as string;
    const manifest = await expectEntriesMatch(entries, status, new Map([["vocals.mp3", vocals]]));
    expect(manifest).toBe(await (await env.MEDIA.get(`separation/${taskId}/manifest.json`))?.text());
  });

  it("names a music task's files by title, flat and safe, with duplicates numbered", async () => {
    const taskId = uniqueId("titles");
    const fixture = structuredClone(sunoMusic);
    const [first, second] = fixture.data.data;
    if (!first || !second) throw new Error("the fixture has two tracks");
    first.title = "../../../etc/cron.d/x\u0000\u001b[31m\nred";
    second.title = "../../../etc/cron.d/x\u0000\u001b[31m\nred";
    const { body } = atOrigin(withTaskId(fixture, taskId));
    expect((await postCallback(body)).status).toBe(200);
    await waitForStatus(taskId, settled);
    const status = await getStatus(taskId);
    expect(status.archive.state).toBe("archived");

    const entries = await unzip(await request(bundlePath(taskId), { headers: bearer }));
    const folder = "_._._etc_cron.d_x [31m red";
    const keyOf = (trackId: string, role: string) =>
      status.assets.find((asset) => asset.name === `${trackId}/${role}`)?.key as string;
    await expectEntriesMatch(
      entries,
      status,
      new Map([
        [`${folder}/audio.mp3`, keyOf(first.id, "audio")],
        [`${folder}/cover.jpeg`, keyOf(first.id, "cover")],
        [`${folder} (2)/audio.mp3`, keyOf(second.id, "audio")],
        [`${folder} (2)/cover.jpeg`, keyOf(second.id, "cover")],
      ]),
    );
  });

  it("aborts the stream when a stored file vanished, never ending a complete-looking ZIP", async () => {
    const taskId = uniqueId("vanish");
    const response = await postCallback(
      vocalRemoval(
        taskId,
        originBytes("vocals.mp3", 200_000, 14),
        originBytes("instrumental.mp3", 200_000, 15),
      ),
    );
    expect(response.status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    const lastKey = status.assets.at(-1)?.key as string;
    await env.MEDIA.delete(lastKey);

    const bundle = await request(bundlePath(taskId), { headers: bearer });
    expect(bundle.status).toBe(200);
    const length = Number(bundle.headers.get("content-length"));
    const reader = (bundle.body as ReadableStream<Uint8Array>).getReader();
    let received = 0;
    const read = async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        received += value.byteLength;
      }
    };
    await expect(read()).rejects.toThrow();
    expect(received).toBeLessThan(length);
  });

  it("answers 410 for a deleted task, 404 for an unknown one, 400 for a malformed id or flag", async () => {
    const { taskId } = await archiveUrl(originBytes("gone.mp3", 1000, 16));
    const link = (await getStatus(taskId)).bundle?.url as string;
    expect((await request(`/tasks/${taskId}`, { method: "DELETE", headers: bearer })).status).toBe(200);
    const gone = await request(link);
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe("task_deleted");
    const unknown = await request(bundlePath(uniqueId("never")), { headers: bearer });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("task_not_found");
    expect((await request(bundlePath("a.b"), { headers: bearer })).status).toBe(400);
    expect((await request(bundlePath(stems.taskId, "?partial=yes"), { headers: bearer })).status).toBe(400);
  });

  it("still answers the status JSON, without its bundle, when R2 cannot be read for the manifest", async () => {
    // An R2 outage is the one failure the local R2 cannot produce on its own.
    const r2 = Object.getPrototypeOf(env.MEDIA) as R2Bucket;
    const get = vi.spyOn(r2, "get").mockRejectedValue(new Error("R2 injected outage"));
    const response = await request(`/tasks/${stems.taskId}`, { headers: bearer });
    expect(get).toHaveBeenCalled();
    expect(response.status).toBe(200);
    const status = (await response.json()) as TaskStatus;
    expect(status.archive.state).toBe("archived");
    expect(status).not.toHaveProperty("bundle");
  });

  it("has no bundle in the status JSON until a file is stored", async () => {
    const taskId = uniqueId("empty");
    const registered = await request("/tasks", {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json" },
      body: JSON.stringify({ taskId, kind: "separation" }),
    });
    expect(registered.status).toBe(201);
    expect(await registered.json()).not.toHaveProperty("bundle");
    expect(await getStatus(taskId)).not.toHaveProperty("bundle");
  });
});
