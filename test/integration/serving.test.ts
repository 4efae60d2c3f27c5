import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { signMediaLink } from "../../src/api/media-links";
import { config } from "../../src/core/config";
import { mediaChunk, mediaSha256 } from "../../support/pattern";
import { originBytes } from "../helpers/media";
import { archiveUrl, seedQueuedAsset } from "../helpers/tasks";
import { bearer, getStatus, request, uniqueId } from "../helpers/worker";

const SIZE = 100_000;
const SEED = 77;
let key: string;
let link: string;
let etag: string;

const sha256 = async (body: ArrayBuffer) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", body))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");

beforeAll(async () => {
  const { taskId, asset } = await archiveUrl(originBytes("serve.mp3", SIZE, SEED, { type: "audio/mpeg" }));
  key = asset.key as string;
  link = (await getStatus(taskId)).assets[0]?.url as string;
  etag = (await env.MEDIA.head(key))?.httpEtag as string;
});

describe("GET /media/<key>", () => {
  it("streams the whole object with its headers, for the bearer", async () => {
    const response = await request(`/media/${key}`, { headers: bearer });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("audio/mpeg");
    expect(response.headers.get("content-length")).toBe(String(SIZE));
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(response.headers.get("etag")).toBe(etag);
    expect(await sha256(await response.arrayBuffer())).toBe(await mediaSha256("serve.mp3", SIZE, SEED));
  });

  it("serves the signed link of the status JSON without a bearer", async () => {
    expect(link).toMatch(new RegExp(`^/media/${key}\\?expires=\\d+&sig=[A-Za-z0-9_-]+$`));
    const response = await request(link);
    expect(response.status).toBe(200);
    expect(await sha256(await response.arrayBuffer())).toBe(await mediaSha256("serve.mp3", SIZE, SEED));
  });

  it("answers HEAD with the headers and no body", async () => {
    const response = await request(`/media/${key}`, { method: "HEAD", headers: bearer });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(SIZE));
    expect(await response.text()).toBe("");
  });

  it.each([
    ["bytes=0-99", 0, 99],
    ["bytes=99990-", 99_990, SIZE - 1],
    ["bytes=-10", SIZE - 10, SIZE - 1],
    ["bytes=50000-50000", 50_000, 50_000],
    ["bytes=99000-200000", 99_000, SIZE - 1],
  ])("answers %s with 206 and exactly those bytes", async (range, start, end) => {
    const response = await request(link, { headers: { range } });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end}/${SIZE}`);
    expect(response.headers.get("content-length")).toBe(String(end - start + 1));
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(
      mediaChunk("serve.mp3", start, end - start + 1, SEED),
    );
  });

  it.each(["bytes=100000-", "bytes=200000-300000"])("answers %s with 416", async (range) => {
    const response = await request(link, { headers: { range } });
    expect(response.status).toBe(416);
    expect(response.headers.get("content-range")).toBe(`bytes */${SIZE}`);
  });

  it("serves the whole object for a multi-range request", async () => {
    const response = await request(link, { headers: { range: "bytes=0-1,5-6" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(SIZE));
    expect(await sha256(await response.arrayBuffer())).toBe(await mediaSha256("serve.mp3", SIZE, SEED));
  });

  it("answers 304 to a matching If-None-Match, and 200 to a stale one", async () => {
    const fresh = await request(link, { headers: { "if-none-match": etag } });
    expect(fresh.status).toBe(304);
    expect(await fresh.text()).toBe("");
    const stale = await request(link, { headers: { "if-none-match": '"something-else"' } });
    expect(stale.status).toBe(200);
    expect(await sha256(await stale.arrayBuffer())).toBe(await mediaSha256("serve.mp3", SIZE, SEED));
  });

  it("answers 404 for an absent object and for keys outside the archive layout", async () => {
    // Objects outside the layout exist, so that only the layout check can answer 404 for them.
    for (const outside of [".staging/x/y", "random.txt", "music/../secret"])
      await env.MEDIA.put(outside, "not archive media");
    for (const path of [
      "music/nope/nope/audio.mp3",
      "music/../../etc/passwd",
      "music%2F..%2Fsecret",
      ".staging/x/y",
      "random.txt",
    ]) {
      const response = await request(`/media/${path}`, { headers: bearer });
      expect(response.status, path).toBe(404);
    }
  });

  it("answers 401 without a bearer or a signature", async () => {
    expect((await request(`/media/${key}`)).status).toBe(401);
    expect((await request(`/media/${key}`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  });

  it("answers 401 to a tampered signature, expiry or key", async () => {
    const url = new URL(link, "https://x");
    const sig = url.searchParams.get("sig") as string;
    const expires = url.searchParams.get("expires") as string;
    const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    expect((await request(`/media/${key}?expires=${expires}&sig=${flipped}`)).status).toBe(401);
    expect((await request(`/media/${key}?expires=${Number(expires) + 1}&sig=${sig}`)).status).toBe(401);
    const otherKey = key.replace(/drums/, "bass");
    expect((await request(`/media/${otherKey}?expires=${expires}&sig=${sig}`)).status).toBe(401);
    expect((await request(`/media/${key}?expires=${expires}`)).status).toBe(401);
  });

  it("answers 401 to an expired link, even one signed with the right key", async () => {
    const cfg = config(env);
    const expired = await signMediaLink(
      cfg,
      key,
      Math.floor(Date.now() / 1000) - cfg.mediaLinkTtlSeconds - 1,
    );
    expect((await request(expired as string)).status).toBe(401);
    const valid = await signMediaLink(cfg, key, Math.floor(Date.now() / 1000));
    const response = await request(valid as string);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it("stops accepting links when the signing key changes", async () => {
    const response = await request(link, {}, { MEDIA_SIGNING_KEY: "rotated" });
    expect(response.status).toBe(401);
  });
});

const SECURITY = {
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; sandbox",
};

const securityOf = (response: Response) => ({
  "x-content-type-options": response.headers.get("x-content-type-options"),
  "content-security-policy": response.headers.get("content-security-policy"),
});

describe("what the archive is served with", () => {
  it("sends nosniff and a CSP that lets nothing run with every answer: 200, 206, 304, 416, 400, 401, 404", async () => {
    const answers: [string, Promise<Response>, number][] = [
      ["GET", request(`/media/${key}`, { headers: bearer }), 200],
      ["HEAD", request(`/media/${key}`, { method: "HEAD", headers: bearer }), 200],
      ["signed link", request(link), 200],
      ["range", request(link, { headers: { range: "bytes=0-9" } }), 206],
      ["If-None-Match", request(link, { headers: { "if-none-match": etag } }), 304],
      ["unsatisfiable range", request(link, { headers: { range: "bytes=999999-" } }), 416],
      ["malformed key", request("/media/music/%E0%A4%A/x/audio.mp3", { headers: bearer }), 400],
      ["no credentials", request(`/media/${key}`), 401],
      ["bad signature", request(`/media/${key}?expires=9999999999&sig=AAAA`), 401],
      ["absent object", request("/media/music/nope/nope/audio.mp3", { headers: bearer }), 404],
      ["outside the layout", request("/media/random.txt", { headers: bearer }), 404],
      ["bare /media", request("/media", { headers: bearer }), 404],
      ["bare /media/", request("/media/", { headers: bearer }), 404],
    ];
    for (const [label, pending, status] of answers) {
      const response = await pending;
      expect(response.status, label).toBe(status);
      expect(securityOf(response), label).toEqual(SECURITY);
      await response.arrayBuffer();
    }
  });

  it("serves an HTML page that an earlier version archived as video.mp4 only as a sandboxed download", async () => {
    // What the probe found: an origin's HTML archived under the video key, served inline.
    const legacy = `video/${uniqueId("legacy")}/video.mp4`;
    const page = "<!DOCTYPE html><html><body><script>fetch('/tasks')</script></body></html>";
    await env.MEDIA.put(legacy, page, { httpMetadata: { contentType: "text/html" } });
    const response = await request(`/media/${legacy}`, { headers: bearer });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="video.mp4"');
    expect(securityOf(response)).toEqual(SECURITY);
    expect(await response.text()).toBe(page);
  });

  it.each([
    ["audio/mpeg", "separation/serve-types/drums.mp3", "inline"],
    ["video/mp4", "video/serve-types/video.mp4", "inline"],
    ["image/jpeg", "music/serve-types/trk/cover.jpeg", "inline"],
    ["image/png", "music/serve-types/trk/cover.png", "inline"],
    ["image/webp", "music/serve-types/trk/cover.webp", "inline"],
    ["image/svg+xml", "music/serve-types/trk2/cover.png", "attachment"],
    ["image/tiff", "music/serve-types/trk3/cover.tif", "attachment"],
    ["text/html; charset=utf-8", "separation/serve-types/vocals.mp3", "attachment"],
    ["application/xml", "separation/serve-types/bass.mp3", "attachment"],
    ["application/json", "separation/serve-types/manifest.json", "attachment"],
    ["application/octet-stream", "separation/serve-types/piano.mp3", "attachment"],
  ])("serves %s %s", async (contentType, objectKey, disposition) => {
    await env.MEDIA.put(objectKey, "bytes", { httpMetadata: { contentType } });
    const response = await request(`/media/${objectKey}`, { headers: bearer });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(contentType);
    const filename = objectKey.slice(objectKey.lastIndexOf("/") + 1);
    expect(response.headers.get("content-disposition")).toBe(`${disposition}; filename="${filename}"`);
    expect(securityOf(response)).toEqual(SECURITY);
    await response.arrayBuffer();
  });

  it("answers an unsatisfiable range with the error JSON as application/json, not as the object's type", async () => {
    const response = await request(link, { headers: { range: "bytes=100000-" } });
    expect(response.status).toBe(416);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("content-disposition")).toBeNull();
    expect(await response.json()).toEqual({
      error: { code: "range_not_satisfiable", message: `the object has ${SIZE} bytes` },
    });
  });

  it.each([
    ["the strong ETag", () => etag],
    ["its weak form", () => `W/${etag}`],
    ["a list holding its weak form", () => `"other", W/${etag}`],
    ["a list without spaces", () => `W/"other",${etag}`],
    ["*", () => "*"],
  ])("answers 304 to If-None-Match with %s (weak comparison)", async (_case, header) => {
    const response = await request(link, { headers: { "if-none-match": header() } });
    expect(response.status).toBe(304);
    expect(response.headers.get("etag")).toBe(etag);
  });

  it.each([
    ["a weak tag of another entity", () => `W/"other"`],
    ["a prefix of the ETag", () => `"${etag.slice(1, -2)}"`],
    ["garbage", () => "garbage"],
  ])("answers 200 to If-None-Match with %s", async (_case, header) => {
    const response = await request(link, { headers: { "if-none-match": header() } });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });
});

describe("/media path tricks", () => {
  it.each([
    "/media/music/%E0%A4%A/x/audio.mp3",
    "/media/%",
    "/media/separation/t/%ZZ.mp3",
    "/media/separation/t/drums.mp3%",
    "/media/%C0%AF",
  ])("answers a malformed percent-encoding (%s) with a 400, never a 500", async (path) => {
    for (const init of [{ headers: bearer }, {}]) {
      const response = await request(path, init);
      expect(response.status, path).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_key");
    }
  });

  it.each([
    "/media/music/../tasks",
    "/media/music/%2e%2e/secret.mp3",
    "/media/separation/x/%2E%2E/%2e%2E/secret.mp3",
    "/media/separation/x/..%2f..%2fsecret.mp3",
    "/media/separation//drums.mp3",
    "/media//separation/x/drums.mp3",
    "/media/separation%2Fx%2F..%2F..%2Fsecret",
    "/media/separation/x/drums.mp3%00.html",
    "/media/separation/x/drums.mp3/",
    "/media/separation/x/drums.mp3%2Fextra",
    "/media/separation/x/..%5Cdrums.mp3",
    "/media/.staging/x/y",
    "/media/SEPARATION/x/drums.mp3",
  ])("never serves anything for %s", async (path) => {
    await env.MEDIA.put("secret.mp3", "not archive media");
    const response = await request(path, { headers: bearer });
    expect(response.status, path).toBeGreaterThanOrEqual(400);
    expect(response.status, path).toBeLessThan(500);
    expect(await response.text()).not.toContain("not archive media");
  });

  it("does not let a signed link of one key open another through a path trick", async () => {
    const url = new URL(link, "https://x");
    const query = url.search;
    const other = key.replace(/\/[^/]+$/, "/bass.mp3");
    await env.MEDIA.put(other, "another stem", { httpMetadata: { contentType: "audio/mpeg" } });
    for (const path of [
      `/media/${other}${query}`,
      `/media/${key}/../bass.mp3${query}`,
      `/media/${key.replace(/\/[^/]+$/, "/%2e%2e")}/${other.split("/").slice(1).join("/")}${query}`,
      `/media/${encodeURIComponent(other)}${query}`,
    ]) {
      const response = await request(path);
      expect(response.status, path).toBe(401);
      expect(await response.text()).not.toContain("another stem");
    }
    // An encoded slash decodes to the same key: the signature for it holds.
    const same = await request(`/media/${encodeURIComponent(key)}${query}`);
    expect(same.status).toBe(200);
    await same.arrayBuffer();
  });
});

describe("task routes", () => {
  it("requires the bearer token", async () => {
    const taskId = uniqueId();
    expect((await request(`/tasks/${taskId}`)).status).toBe(401);
    const registration = JSON.stringify({ taskId, kind: "video" });
    expect((await request("/tasks", { method: "POST", body: registration })).status).toBe(401);
    expect((await request(`/tasks/${taskId}`, { headers: bearer })).status).toBe(404);
  });

  it("fails closed when API_TOKEN is not set", async () => {
    const response = await request(`/tasks/${uniqueId()}`, { headers: bearer }, { API_TOKEN: "" });
    expect(response.status).toBe(503);
  });

  it("writes nothing when asked about an unknown task", async () => {
    const { runInDurableObject } = await import("cloudflare:test");
    const { taskStub } = await import("../../src/tasks/stub");
    const taskId = uniqueId("ghost");
    expect((await request(`/tasks/${taskId}`, { headers: bearer })).status).toBe(404);
    expect((await request(`/tasks/${taskId}/retry`, { method: "POST", headers: bearer })).status).toBe(404);
    const tables = await runInDurableObject(taskStub(env, taskId), (_instance, state) =>
      state.storage.sql
        .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\'")
        .toArray(),
    );
    expect(tables).toEqual([]);
  });

  it("answers 404 task_not_found for an unknown task, and 400 for a malformed id", async () => {
    const unknown = await request(`/tasks/${uniqueId()}`, { headers: bearer });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("task_not_found");
    expect((await request("/tasks/bad.id", { headers: bearer })).status).toBe(400);
  });

  it("registers a task: 201, then 200, awaiting its callback", async () => {
    const taskId = uniqueId("reg");
    const post = () =>
      request("/tasks", {
        method: "POST",
        headers: { ...bearer, "content-type": "application/json" },
        body: JSON.stringify({ taskId, kind: "separation" }),
      });
    const first = await post();
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({
      taskId,
      kind: "separation",
      state: "awaiting_callback",
      stage: null,
    });
    expect((await post()).status).toBe(200);
    expect(await getStatus(taskId)).toMatchObject({ state: "awaiting_callback", archive: { state: "none" } });
  });

  it("rejects a registration with a bad body", async () => {
    const headers = { ...bearer, "content-type": "application/json" };
    const bad = await request("/tasks", {
      method: "POST",
      headers,
      body: JSON.stringify({ taskId: "../x", kind: "music" }),
    });
    expect(bad.status).toBe(400);
    const worse = await request("/tasks", { method: "POST", headers, body: "nope" });
    expect(((await worse.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
    // GET /tasks/:id refuses "../x", so ask the object that name would address.
    const { taskStub } = await import("../../src/tasks/stub");
    expect(await taskStub(env, "../x").status()).toBeNull();
  });

  it("re-enqueues failed assets on retry and archives them once the origin recovers", async () => {
    const key = `recover-${uniqueId()}`;
    // The first request fails permanently (404), every later one succeeds.
    const url = `${env.ORIGIN_URL}/flaky/${key}/a.mp3?fail=1&status=404&size=2000&seed=5`;
    const { taskId, asset } = await archiveUrl(url);
    expect(asset.state).toBe("failed");
    const response = await request(`/tasks/${taskId}/retry`, { method: "POST", headers: bearer });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({
      taskId,
      requeued: 1,
      requeuedAssets: [asset.name],
      untouched: [],
      reparsed: 0,
    });
    const { waitForStatus, settled } = await import("../helpers/worker");
    const status = await waitForStatus(taskId, (s) => settled(s) && s.assets[0]?.state === "stored");
    expect(status.assets[0]).toMatchObject({
      state: "stored",
      bytes: 2000,
      sha256: await mediaSha256("a.mp3", 2000, 5),
      error: null,
    });
    expect(status.archive.state).toBe("archived");
  });

  it("answers 404 to a retry of an unknown task, and requeues nothing on a healthy one", async () => {
    expect((await request(`/tasks/${uniqueId()}/retry`, { method: "POST", headers: bearer })).status).toBe(
      404,
    );
    const taskId = await seedQueuedAsset("video", "video", originBytes("fresh.mp4", 10, 1));
    const response = await request(`/tasks/${taskId}/retry`, { method: "POST", headers: bearer });
    // Its message was sent just now and is not overdue: left alone, and the answer says so.
    expect(await response.json()).toEqual({
      taskId,
      requeued: 0,
      requeuedAssets: [],
      untouched: [{ name: "video", state: "queued", until: expect.any(String) }],
      reparsed: 0,
    });
  });
});
