import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import kieMusicError from "../../support/fixtures/kie.music.error.json";
import kieVideo from "../../support/fixtures/kie.video.success.json";
import sunoMusic from "../../support/fixtures/sunoapi.music.complete.json";
import splitStem from "../../support/fixtures/sunoapi.separation.split-stem.json";
import { mediaSha256 } from "../../support/pattern";
import { atOrigin, expectedSha256, originBytes, originHits, originLog, r2Sha256 } from "../helpers/media";
import { archiveUrl, runConsumer, seedQueuedAsset } from "../helpers/tasks";
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

const MIB = 1024 * 1024;
let seed = 1000;
const nextSeed = () => seed++;

const listKeys = async (prefix: string) =>
  (await env.MEDIA.list({ prefix })).objects.map((object) => object.key);

/** No media under the task's archive prefix (its manifest aside). */
async function expectNothingStored(kind: string, taskId: string) {
  const keys = await listKeys(`${kind}/${taskId}/`);
  expect(keys.filter((key) => !key.endsWith("/manifest.json"))).toEqual([]);
}

describe("archiving every kind byte-exact", () => {
  it("archives a split_stem task's 12 stems with matching SHA-256 and metadata", async () => {
    const taskId = uniqueId("stems");
    const { body, files } = atOrigin(withTaskId(splitStem, taskId), { size: 20_000 });
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.archive).toMatchObject({ state: "archived", stored: 12, total: 12 });
    for (const asset of status.assets) {
      const file = files.get(asset.sourceUrl ?? "");
      if (!file) throw new Error(String(asset.sourceUrl));
      expect(asset.key).toBe(`separation/${taskId}/${asset.name}.mp3`);
      const stored = await r2Sha256(asset.key as string);
      expect(stored?.size).toBe(file.size);
      expect(stored?.sha256).toBe(await expectedSha256(file));
      expect(asset.sha256).toBe(stored?.sha256);
      expect(stored?.object.httpMetadata?.contentType).toBe("audio/mpeg");
      expect(stored?.object.customMetadata).toEqual({
        taskId,
        asset: asset.name,
        sourceUrl: asset.sourceUrl,
      });
    }
    expect(status.separationType).toBe("split_stem");
  });

  it("archives a video and writes the manifest once the task is settled", async () => {
    const taskId = uniqueId("video");
    const { body, files } = atOrigin(withTaskId(kieVideo, taskId), { size: 3 * MIB });
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    const [file] = [...files.values()];
    expect(status.assets).toHaveLength(1);
    expect(status.assets[0]).toMatchObject({
      name: "video",
      role: "video",
      key: `video/${taskId}/video.mp4`,
      contentType: "video/mp4",
      bytes: file?.size,
      sha256: file && (await expectedSha256(file)),
    });
    expect(await r2Sha256(`video/${taskId}/video.mp4`)).toMatchObject({
      size: file?.size,
      sha256: status.assets[0]?.sha256,
    });
    const manifest = await env.MEDIA.get(`video/${taskId}/manifest.json`);
    const written = (await manifest?.json()) as typeof status;
    expect(written.archive).toEqual(status.archive);
    expect(written.assets[0]?.sha256).toBe(status.assets[0]?.sha256);
  });

  it("writes the manifest of a task the provider failed before any media existed", async () => {
    const taskId = uniqueId("nomedia");
    expect((await postCallback(withTaskId(kieMusicError, taskId))).status).toBe(200);
    const status = await getStatus(taskId);
    expect(status).toMatchObject({ state: "failed", archive: { state: "none", total: 0 } });
    let manifest: R2ObjectBody | null = null;
    for (let i = 0; i < 50 && !manifest; i++) {
      manifest = await env.MEDIA.get(`music/${taskId}/manifest.json`);
      if (!manifest) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const written = (await manifest?.json()) as typeof status;
    expect(written).toMatchObject({ taskId, state: "failed", providerCode: status.providerCode });
  });

  it("archives a body without Content-Length (chunked)", async () => {
    const s = nextSeed();
    const { asset } = await archiveUrl(originBytes("stem.mp3", 300_001, s, { cl: "0", type: "audio/mpeg" }));
    expect(asset).toMatchObject({
      state: "stored",
      bytes: 300_001,
      sha256: await mediaSha256("stem.mp3", 300_001, s),
    });
    expect(await r2Sha256(asset.key as string)).toMatchObject({ size: 300_001, sha256: asset.sha256 });
  });

  it.each([
    ["with", false],
    ["without", true],
  ])(
    "archives a 26 MiB file %s Content-Length (multipart parts of 5 MiB when unknown)",
    async (_case, chunked) => {
      const s = nextSeed();
      const size = 26 * MIB + 123;
      const { asset } = await archiveUrl(
        originBytes("big.mp3", size, s, { chunked, type: "audio/mpeg" }),
        "drums",
        60_000,
      );
      expect(asset).toMatchObject({ state: "stored", bytes: size });
      const stored = await r2Sha256(asset.key as string);
      expect(stored?.sha256).toBe(await mediaSha256("big.mp3", size, s));
      expect(asset.sha256).toBe(stored?.sha256);
    },
  );

  it("sends a browser-like User-Agent", async () => {
    const name = `ua-${nextSeed()}.mp3`;
    await archiveUrl(originBytes(name, 1000, 1));
    const [entry] = await originLog(`/bytes/${name}`);
    expect(entry?.ua).toMatch(/^Mozilla\/5\.0 .*Chrome/);
  });
});

describe("failures", () => {
  it("stores a file after 500, 500, 200, recording the attempts", async () => {
    const key = `flaky-${nextSeed()}`;
    const { asset } = await archiveUrl(
      `${env.ORIGIN_URL}/flaky/${key}/a.mp3?fail=2&status=500&size=5000&seed=3`,
    );
    expect(asset).toMatchObject({ state: "stored", attempts: 3, bytes: 5000, error: null });
    expect(asset.sha256).toBe(await mediaSha256("a.mp3", 5000, 3));
    expect(await r2Sha256(asset.key as string)).toMatchObject({ size: 5000, sha256: asset.sha256 });
    expect(await originLog(`/flaky/${key}/`)).toHaveLength(3);
  });

  it.each([408, 425, 429, 502, 503])("retries after a %i", async (status) => {
    const key = `transient-${status}-${nextSeed()}`;
    const { asset } = await archiveUrl(
      `${env.ORIGIN_URL}/flaky/${key}/a.mp3?fail=1&status=${status}&size=100&seed=1`,
    );
    expect(asset).toMatchObject({ state: "stored", attempts: 2 });
    expect(await r2Sha256(asset.key as string)).toMatchObject({
      size: 100,
      sha256: await mediaSha256("a.mp3", 100, 1),
    });
    expect(await originLog(`/flaky/${key}/`)).toHaveLength(2);
  });

  it.each([400, 403, 404, 410, 441])("fails at once on a %i, storing nothing", async (code) => {
    const { taskId, asset, status } = await archiveUrl(`${env.ORIGIN_URL}/status/${code}?n=${nextSeed()}`);
    expect(asset).toMatchObject({ state: "failed", attempts: 1, key: null, bytes: null });
    expect(asset.error).toMatch(new RegExp(`HTTP ${code}`));
    expect(status.archive).toMatchObject({ state: "failed", stored: 0, failed: 1 });
    await expectNothingStored("separation", taskId);
  });

  it("retries a truncated body, keeps nothing of it, and fails it via the DLQ when retries run out", async () => {
    const url = `${env.ORIGIN_URL}/truncate/cut.mp3?size=200000&send=70000&seed=${nextSeed()}`;
    const { taskId, asset } = await archiveUrl(url, "drums", 60_000);
    expect(asset.state).toBe("failed");
    expect(asset.error).toMatch(/^retries exhausted: the body ended after \d+ of 200000 bytes/);
    expect(asset.attempts).toBe(7); // 1 + max_retries (6)
    await expectNothingStored("separation", taskId);
  });

  it("fails an asset whose 503s exhaust the retries, with the last error", async () => {
    const { taskId, asset } = await archiveUrl(
      `${env.ORIGIN_URL}/status/503?n=${nextSeed()}`,
      "bass",
      60_000,
    );
    expect(asset.state).toBe("failed");
    expect(asset.error).toMatch(/^retries exhausted: HTTP 503 from 127\.0\.0\.1/);
    await expectNothingStored("separation", taskId);
  });

  it("retries a download whose origin does not answer within the per-request timeout", async () => {
    const url = `${env.ORIGIN_URL}/slow/late-${nextSeed()}.mp3?size=100&seed=1&delayMs=3000`;
    const taskId = await seedQueuedAsset("separation", "drums", url);
    const result = await runConsumer([{ taskId, asset: "drums" }], {
      vars: { MEDIA_FETCH_TIMEOUT_MS: "200" },
    });
    expect(result.retryMessages.map((message) => message.msgId)).toEqual(result.ids);
    const status = await getStatus(taskId);
    expect(status.assets[0]).toMatchObject({ state: "queued", attempts: 1 });
    expect(status.assets[0]?.error).toMatch(/no response within 200 ms/);
  });

  it("fails a file over MAX_MEDIA_BYTES from its Content-Length without downloading it", async () => {
    const url = originBytes(`big-${nextSeed()}.mp3`, 2 * MIB, 1);
    const taskId = await seedQueuedAsset("separation", "drums", url);
    const result = await runConsumer([{ taskId, asset: "drums" }], {
      vars: { MAX_MEDIA_BYTES: String(MIB) },
    });
    expect(result.explicitAcks).toEqual(result.ids);
    const status = await getStatus(taskId);
    expect(status.assets[0]).toMatchObject({ state: "failed" });
    expect(status.assets[0]?.error).toMatch(/larger than MAX_MEDIA_BYTES/);
    await expectNothingStored("separation", taskId);
  });

  it("fails a chunked file that grows over MAX_MEDIA_BYTES, aborting its multipart upload", async () => {
    const uploads: R2MultipartUpload[] = [];
    const create = env.MEDIA.createMultipartUpload.bind(env.MEDIA);
    vi.spyOn(env.MEDIA, "createMultipartUpload").mockImplementation(async (...args) => {
      const upload = await create(...args);
      uploads.push(upload);
      return upload;
    });
    const url = originBytes(`grows-${nextSeed()}.mp3`, 13 * MIB, 2, { chunked: true });
    const taskId = await seedQueuedAsset("separation", "drums", url);
    const result = await runConsumer([{ taskId, asset: "drums" }], {
      vars: { MAX_MEDIA_BYTES: String(12 * MIB) },
    });
    expect(result.explicitAcks).toEqual(result.ids);
    expect((await getStatus(taskId)).assets[0]?.error).toMatch(/larger than MAX_MEDIA_BYTES/);
    await expectNothingStored("separation", taskId);
    expect(uploads).toHaveLength(1);
    const [upload] = uploads as [R2MultipartUpload];
    const resumed = env.MEDIA.resumeMultipartUpload(upload.key, upload.uploadId);
    await expect(resumed.complete([])).rejects.toThrow();
  });
});

describe("URL policy in the consumer", () => {
  it("never requests a host outside the policy", async () => {
    const name = `alt-${nextSeed()}.mp3`;
    const { asset } = await archiveUrl(`${env.ORIGIN_ALT_URL}/bytes/${name}?size=100`);
    expect(asset.state).toBe("failed");
    expect(asset.error).toMatch(/only https/);
    expect(await originLog(`/bytes/${name}`)).toEqual([]);
  });

  it("refuses a host that is not in MEDIA_HOSTS", async () => {
    const { asset } = await archiveUrl("https://media.evil.example/x.mp3");
    expect(asset).toMatchObject({ state: "failed", attempts: 1 });
    expect(asset.error).toMatch(/not in MEDIA_HOSTS/);
  });

  it("refuses a redirect from an allowed host to a disallowed one, which never gets the request", async () => {
    const name = `secret-${nextSeed()}.mp3`;
    const target = `${env.ORIGIN_ALT_URL}/bytes/${name}?size=100`;
    const { asset } = await archiveUrl(
      `${env.ORIGIN_URL}/redirect?to=${encodeURIComponent(target)}&n=${nextSeed()}`,
    );
    expect(asset.state).toBe("failed");
    expect(asset.error).toMatch(/only https/);
    expect(await originLog(`/bytes/${name}`)).toEqual([]);
  });

  it("follows up to 5 redirects and refuses a sixth", async () => {
    const s = nextSeed();
    const five = await archiveUrl(`${env.ORIGIN_URL}/redirect-chain/5/ok-${s}.mp3?size=1234&seed=${s}`);
    expect(five.asset).toMatchObject({
      state: "stored",
      bytes: 1234,
      sha256: await mediaSha256("ok.mp3", 1234, s),
    });
    expect(await r2Sha256(five.asset.key as string)).toMatchObject({ size: 1234, sha256: five.asset.sha256 });
    const six = await archiveUrl(`${env.ORIGIN_URL}/redirect-chain/6/no-${s}.mp3?size=1234&seed=${s}`);
    expect(six.asset.state).toBe("failed");
    expect(six.asset.error).toMatch(/more than 5 redirects/);
    // The sixth hop is never requested.
    expect(await originLog(`/redirect-chain/0/ok-${s}.mp3`)).toHaveLength(1);
    expect(await originLog(`/redirect-chain/0/no-${s}.mp3`)).toEqual([]);
    await expectNothingStored("separation", six.taskId);
  });
});

describe("exactly once", () => {
  it("downloads each asset once despite duplicate callbacks and redelivered messages", async () => {
    const taskId = uniqueId("once");
    const { body, files } = atOrigin(withTaskId(sunoMusic, taskId));
    for (let i = 0; i < 3; i++) expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    const redelivered = status.assets.map((asset) => ({ taskId, asset: asset.name }));
    const result = await runConsumer([...redelivered, ...redelivered], { attempts: 2 });
    expect(result.explicitAcks.sort()).toEqual(result.ids.sort());
    const hits = await originHits();
    const primaries = new Set(status.assets.map((asset) => asset.sourceUrl));
    for (const url of files.keys()) expect(hits.get(url) ?? 0, url).toBe(primaries.has(url) ? 1 : 0);
    expect((await getStatus(taskId)).assets.every((asset) => asset.attempts === 1)).toBe(true);
  });

  it("does not start a second download of an asset another consumer holds, nor acknowledge its message", async () => {
    const url = originBytes(`held-${nextSeed()}.mp3`, 1000, 1);
    const taskId = await seedQueuedAsset("separation", "drums", url);
    const { taskStub } = await import("../../src/tasks/stub");
    expect((await taskStub(env, taskId).claim("drums")).status).toBe("claimed");
    const logs = vi.spyOn(console, "log");
    const result = await runConsumer([{ taskId, asset: "drums" }]);
    // Retried once the holder's lease could have ended, in case the holder died.
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: result.ids[0] }]);
    const retry = logs.mock.calls
      .map((call) => JSON.parse(String(call[0])))
      .find((line) => line.event === "media_retry" && line.taskId === taskId);
    expect(retry.delaySeconds).toBeGreaterThan(50);
    expect(retry.delaySeconds).toBeLessThanOrEqual(60);
    expect(await originLog(new URL(url).pathname)).toEqual([]);
    // Still the other consumer's: neither stored nor failed by the message it retried.
    expect((await getStatus(taskId)).assets).toMatchObject([
      { name: "drums", state: "downloading", attempts: 1 },
    ]);
  });

  it("acknowledges a malformed message instead of retrying it forever", async () => {
    const result = await runConsumer([{ taskId: "../etc", asset: "drums" }, { nonsense: true }, "text"]);
    expect(result.explicitAcks.sort()).toEqual(result.ids.sort());
    expect(result.retryMessages).toEqual([]);
  });
});

describe("source twins", () => {
  it("retries a music file from its source_* URL once the primary fails permanently", async () => {
    const taskId = uniqueId("twin");
    const { body, files } = atOrigin(withTaskId(sunoMusic, taskId));
    const track = body.data.data[0] as (typeof body.data.data)[number];
    const twin = track.source_audio_url;
    track.audio_url = `${env.ORIGIN_URL}/status/441?n=${nextSeed()}`;
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    const audio = status.assets.find((asset) => asset.name === `${track.id}/audio`);
    const file = files.get(twin);
    expect(audio).toMatchObject({ state: "stored", sourceUrl: twin, attempts: 1, bytes: file?.size });
    expect(audio?.sha256).toBe(file && (await expectedSha256(file)));
    expect(await r2Sha256(audio?.key as string)).toMatchObject({ size: file?.size, sha256: audio?.sha256 });
  });

  it("fails the asset with the twin's error when the twin fails too", async () => {
    const taskId = uniqueId("twins");
    const { body } = atOrigin(withTaskId(sunoMusic, taskId));
    const track = body.data.data[0] as (typeof body.data.data)[number];
    track.audio_url = `${env.ORIGIN_URL}/status/404?n=${nextSeed()}`;
    track.source_audio_url = `${env.ORIGIN_URL}/status/410?n=${nextSeed()}`;
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    const audio = status.assets.find((asset) => asset.name === `${track.id}/audio`);
    expect(audio).toMatchObject({ state: "failed" });
    expect(audio?.error).toMatch(/HTTP 410/);
    expect(status.archive.state).toBe("failed");
    expect(await listKeys(`music/${taskId}/${track.id}/audio`)).toEqual([]);
  });
});

describe("dead-letter queue", () => {
  it("marks the asset of a dead-lettered message failed with its last error", async () => {
    const taskId = await seedQueuedAsset("video", "video", originBytes("v.mp4", 10, 1));
    const { runInDurableObject } = await import("cloudflare:test");
    const { taskStub } = await import("../../src/tasks/stub");
    await runInDurableObject(taskStub(env, taskId), (_instance, state) => {
      state.storage.sql.exec("UPDATE assets SET error = 'HTTP 502 from cdn.example'");
    });
    const result = await runConsumer([{ taskId, asset: "video" }], { queue: "stemvault-media-dlq" });
    expect(result.explicitAcks).toEqual(result.ids);
    const status = await getStatus(taskId);
    expect(status.assets[0]).toMatchObject({
      state: "failed",
      error: "retries exhausted: HTTP 502 from cdn.example",
    });
    expect(status.archive.state).toBe("failed");
  });

  it("leaves an asset that got stored meanwhile alone", async () => {
    const { taskId, asset } = await archiveUrl(originBytes(`dlq-${nextSeed()}.mp3`, 10, 1));
    const result = await runConsumer([{ taskId, asset: "drums" }], { queue: "stemvault-media-dlq" });
    expect(result.explicitAcks).toEqual(result.ids);
    expect((await getStatus(taskId)).assets[0]).toMatchObject({ state: "stored", sha256: asset.sha256 });
    expect(await r2Sha256(asset.key as string)).toMatchObject({ size: 10, sha256: asset.sha256 });
  });
});

describe("keys that cannot collide", () => {
  it("keeps a stem named manifest apart from the task's manifest", async () => {
    // The probe's repro: {"vocal_removal_info": {"manifest_url": ".../manifest.json"}}.
    const taskId = uniqueId("manifest-stem");
    const s = nextSeed();
    const stem = originBytes("manifest.json", 40_000, s, { magic: "mp3", type: "application/json" });
    const drums = originBytes(`drums-${s}.mp3`, 30_000, s + 1);
    const response = await postCallback({
      code: 200,
      msg: "vocal Removal generated successfully.",
      data: { task_id: taskId, vocal_removal_info: { origin_url: "", manifest_url: stem, drums_url: drums } },
    });
    expect(response.status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.archive).toMatchObject({ state: "archived", stored: 2 });
    const asset = status.assets.find((candidate) => candidate.name === "manifest");
    expect(asset).toMatchObject({
      state: "stored",
      key: `separation/${taskId}/manifest.mp3`,
      sha256: await mediaSha256("x", 40_000, s, "mp3"),
    });
    // Both objects are what the status says they are: neither overwrote the other.
    expect(await r2Sha256(`separation/${taskId}/manifest.mp3`)).toMatchObject({
      size: 40_000,
      sha256: asset?.sha256,
    });
    const manifest = await env.MEDIA.get(`separation/${taskId}/manifest.json`);
    expect(manifest?.httpMetadata?.contentType).toBe("application/json");
    const written = (await manifest?.json()) as typeof status;
    expect(written.assets.find((candidate) => candidate.name === "manifest")?.sha256).toBe(asset?.sha256);
    expect(new Set(status.assets.map((candidate) => candidate.key)).size).toBe(2);
  });
});

describe("what a failure says", () => {
  it("fails an unparseable redirect Location at once, as permanent", async () => {
    const location = encodeURIComponent("http://[bad");
    const { asset } = await archiveUrl(`${env.ORIGIN_URL}/redirect?to=${location}&n=${nextSeed()}`);
    expect(asset).toMatchObject({ state: "failed", attempts: 1 });
    expect(asset.error).toBe(`${new URL(env.ORIGIN_URL).host} redirected to an unparseable Location`);
  });

  it("fails an unparseable URL at once, as permanent", async () => {
    const { asset } = await archiveUrl("https://[oops/drums.mp3");
    expect(asset).toMatchObject({ state: "failed", attempts: 1 });
    expect(asset.error).toMatch(/^not a valid URL/);
  });

  it.each([
    ["with Content-Length", "", "the body ended after 100000 of 200000 bytes"],
    ["chunked", "&cl=0", "the body ended after 100000 bytes"],
  ])("reports the bytes that really arrived when a body %s breaks off", async (_case, extra, message) => {
    const url = `${env.ORIGIN_URL}/truncate/half-${nextSeed()}.mp3?size=200000&send=100000${extra}`;
    const taskId = await seedQueuedAsset("separation", "drums", url);
    const result = await runConsumer([{ taskId, asset: "drums" }]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(result.ids);
    const [asset] = (await getStatus(taskId)).assets;
    expect(asset?.error).toMatch(new RegExp(`^${message}`));
    await expectNothingStored("separation", taskId);
  });

  it("reports a refused connection as one, not as a lost transfer", async () => {
    const taskId = await seedQueuedAsset("separation", "drums", "http://127.0.0.1:1/refused.mp3");
    const result = await runConsumer([{ taskId, asset: "drums" }]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(result.ids);
    const [asset] = (await getStatus(taskId)).assets;
    expect(asset?.state).toBe("queued");
    expect(asset?.error).toMatch(/^could not connect to 127\.0\.0\.1:1: connection refused/);
  });

  it.each([
    ["to plain http", "http://musicfile.api.box/a.mp3", /only https/],
    ["to a host outside MEDIA_HOSTS", "https://media.evil.example/a.mp3", /not in MEDIA_HOSTS/],
    ["to an IP literal", "https://169.254.169.254/latest/meta-data", /IP-literal/],
    ["to a URL with credentials", "https://user:pw@musicfile.api.box/a.mp3", /credentials/],
    ["to an allowed host written with userinfo", "https://suno.ai@media.evil.example/a.mp3", /credentials/],
  ])("refuses a redirect %s without following it", async (_case, target, reason) => {
    const { asset } = await archiveUrl(
      `${env.ORIGIN_URL}/redirect?to=${encodeURIComponent(target)}&n=${nextSeed()}`,
    );
    expect(asset).toMatchObject({ state: "failed", attempts: 1 });
    expect(asset.error).toMatch(reason);
  });
});

describe("credentials in a provider's URL", () => {
  it("are never shown in the status JSON, the manifest or the logs", async () => {
    const spies = [vi.spyOn(console, "log"), vi.spyOn(console, "warn"), vi.spyOn(console, "error")];
    const taskId = uniqueId("userinfo");
    const secret = "s3cret-Passw0rd";
    const response = await postCallback({
      code: 200,
      msg: "vocal Removal generated successfully.",
      data: {
        task_id: taskId,
        vocal_removal_info: {
          origin_url: "",
          vocal_url: `https://alice:${secret}@musicfile.api.box/v.mp3`,
          drums_url: `https://bob:${secret}@[broken/d.mp3`,
        },
      },
    });
    expect(response.status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.assets.map((asset) => asset.sourceUrl)).toEqual([
      "https://musicfile.api.box/v.mp3",
      "https://[broken/d.mp3",
    ]);
    const api = await (await request(`/tasks/${taskId}`, { headers: bearer })).text();
    const manifest = await (await env.MEDIA.get(`separation/${taskId}/manifest.json`))?.text();
    expect(manifest).toBeDefined();
    for (const text of [JSON.stringify(status), api, manifest]) {
      expect(text).not.toContain(secret);
      expect(text).not.toMatch(/alice|bob/);
    }
    const logged = spies.flatMap((spy) => spy.mock.calls.map((call) => call.map(String).join(" ")));
    expect(logged.join("\n")).not.toContain(secret);
  });
});
