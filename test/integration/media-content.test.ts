import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import sunoMusic from "../../support/fixtures/sunoapi.music.complete.json";
import sunoVideo from "../../support/fixtures/sunoapi.video.success.json";
import { mediaSha256 } from "../../support/pattern";
import { atOrigin, expectedSha256, originBytes, originLog, r2Sha256 } from "../helpers/media";
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

let seed = 3000;
const nextSeed = () => seed++;

afterEach(() => vi.restoreAllMocks());

/** A 200 from the origin that is not media: `as` is html, xml, svg, json or text. */
const page = (as: string, extra: Record<string, string> = {}) =>
  `${env.ORIGIN_URL}/page/${as}-${nextSeed()}.mp3?${new URLSearchParams({ as, ...extra })}`;

const keysUnder = async (prefix: string) =>
  (await env.MEDIA.list({ prefix })).objects.map((object) => object.key);

describe("only media is archived, judged by its first bytes", () => {
  it("refuses a video whose URL answers 200 with an HTML page, so nothing can be opened from the archive", async () => {
    // The probe's repro: a video callback whose video_url returns an HTML page with a script.
    const taskId = uniqueId("html-video");
    const body = withTaskId(sunoVideo, taskId);
    body.data.video_url = page("html");
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    expect(status.archive).toMatchObject({ state: "failed", stored: 0, failed: 1 });
    expect(status.assets[0]).toMatchObject({
      state: "failed",
      attempts: 1,
      key: null,
      sha256: null,
      url: null,
      error: "not_media: text/html (served as text/html)",
    });
    expect((await keysUnder(`video/${taskId}/`)).filter((key) => !key.endsWith("manifest.json"))).toEqual([]);
    const opened = await request(`/media/video/${taskId}/video.mp4`, { headers: bearer });
    expect(opened.status).toBe(404);
  });

  it.each([
    ["an HTML 'link expired' page", "html", "audio/mpeg", "text/html"],
    ["an XML error", "xml", "audio/mpeg", "application/xml"],
    ["an SVG", "svg", "image/svg+xml", "image/svg+xml"],
    ["JSON", "json", "audio/mpeg", "application/json"],
    ["text", "text", "application/octet-stream", "text/plain"],
  ])("fails %s served as %s with 200, keeping nothing", async (_case, as, type, detected) => {
    const { taskId, asset, status } = await archiveUrl(page(as, { type }));
    expect(asset).toMatchObject({ state: "failed", attempts: 1, key: null, bytes: null });
    expect(asset.error).toBe(`not_media: ${detected} (served as ${type})`);
    expect(status.archive.state).toBe("failed");
    expect(
      (await keysUnder(`separation/${taskId}/`)).filter((key) => !key.endsWith("manifest.json")),
    ).toEqual([]);
  });

  it("fails bytes of no known format, whatever their label and name say", async () => {
    const { taskId, asset } = await archiveUrl(
      originBytes(`noise-${nextSeed()}.mp3`, 50_000, 1, { type: "audio/mpeg", magic: "none" }),
    );
    expect(asset).toMatchObject({
      state: "failed",
      error: "not_media: unknown binary data (served as audio/mpeg)",
    });
    expect(await keysUnder(`separation/${taskId}/drums`)).toEqual([]);
  });

  it("starts no R2 write for what is not media: no put, no multipart upload", async () => {
    const put = vi.spyOn(env.MEDIA, "put");
    const multipart = vi.spyOn(env.MEDIA, "createMultipartUpload");
    for (const url of [page("html"), page("html", { cl: "0" })]) {
      const taskId = await seedQueuedAsset("separation", "drums", url);
      const result = await runConsumer([{ taskId, asset: "drums" }]);
      expect(result.explicitAcks).toEqual(result.ids);
      expect((await getStatus(taskId)).assets[0]?.error).toMatch(/^not_media: text\/html/);
    }
    // The task's manifest (its status JSON) is the only object written.
    expect(put.mock.calls.map(([key]) => key).filter((key) => !key.endsWith("/manifest.json"))).toEqual([]);
    expect(multipart).not.toHaveBeenCalled();
  });

  it("stores what the bytes are, not what the label or the URL claim", async () => {
    // A PNG served as audio/mpeg from a URL ending in .mp3.
    const s = nextSeed();
    const url = originBytes(`cover-${s}.mp3`, 20_000, s, { type: "audio/mpeg", magic: "png" });
    const { taskId, asset } = await archiveUrl(url);
    expect(asset).toMatchObject({
      state: "stored",
      key: `separation/${taskId}/drums.png`,
      contentType: "image/png",
      sha256: await mediaSha256("x", 20_000, s, "png"),
    });
    const stored = await r2Sha256(asset.key as string);
    expect(stored).toMatchObject({ size: 20_000, sha256: asset.sha256 });
    expect(stored?.object.httpMetadata?.contentType).toBe("image/png");
  });

  it("stores a JPEG from a URL without extension and a generic label as cover.jpeg", async () => {
    const s = nextSeed();
    const url = originBytes(`blob-${s}`, 9_000, s, { magic: "jpeg" });
    const { taskId, asset } = await archiveUrl(url, "cover_art");
    expect(asset).toMatchObject({
      state: "stored",
      key: `separation/${taskId}/cover_art.jpeg`,
      contentType: "image/jpeg",
    });
  });

  it("archives a WAV as audio/wav", async () => {
    const s = nextSeed();
    const { asset } = await archiveUrl(originBytes(`take-${s}.wav`, 30_000, s));
    expect(asset).toMatchObject({
      state: "stored",
      contentType: "audio/wav",
      sha256: await mediaSha256("a.wav", 30_000, s),
    });
    expect(asset.key).toMatch(/\/drums\.wav$/);
  });

  it("tries the source_* twin when the primary is an error page, and archives the twin", async () => {
    // The probe's repro: an HTML "link expired" page labelled audio/mpeg where audio.mp3 should be.
    const taskId = uniqueId("expired");
    const { body, files } = atOrigin(withTaskId(sunoMusic, taskId));
    const track = body.data.data[0] as (typeof body.data.data)[number];
    track.audio_url = page("html", { type: "audio/mpeg" });
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    const audio = status.assets.find((asset) => asset.name === `${track.id}/audio`);
    const twin = files.get(track.source_audio_url);
    expect(audio).toMatchObject({
      state: "stored",
      sourceUrl: track.source_audio_url,
      key: `music/${taskId}/${track.id}/audio.mp3`,
      contentType: "audio/mpeg",
      bytes: twin?.size,
    });
    expect(audio?.sha256).toBe(twin && (await expectedSha256(twin)));
    expect(await r2Sha256(audio?.key as string)).toMatchObject({ size: twin?.size, sha256: audio?.sha256 });
    expect(status.archive.state).toBe("archived");
  });

  it("fails with the twin's verdict when the twin is not media either", async () => {
    const taskId = uniqueId("expired-twin");
    const { body } = atOrigin(withTaskId(sunoMusic, taskId));
    const track = body.data.data[0] as (typeof body.data.data)[number];
    track.audio_url = page("html", { type: "audio/mpeg" });
    track.source_audio_url = page("xml");
    expect((await postCallback(body)).status).toBe(200);
    const status = await waitForStatus(taskId, settled);
    const audio = status.assets.find((asset) => asset.name === `${track.id}/audio`);
    expect(audio).toMatchObject({ state: "failed", key: null });
    expect(audio?.error).toBe("not_media: application/xml (served as application/xml)");
    expect(await keysUnder(`music/${taskId}/${track.id}/audio`)).toEqual([]);
    expect(await originLog(new URL(track.source_audio_url).pathname)).toHaveLength(1);
  });
});
