import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/crypto";
import { originBytes } from "../helpers/media";
import { bearer, postCallback, request, settled, uniqueId, waitForStatus } from "../helpers/worker";

interface Listed {
  items: { key: string; receivedAt: string; route: string; bytes: number; sha256: string }[];
  nextCursor: string | null;
}

const today = () => new Date().toISOString().slice(0, 10);
const keyOf = async (raw: string) => `quarantine/${today()}/${await sha256Hex(raw)}.json`;
const list = async (query = "") =>
  (await (await request(`/quarantine${query}`, { headers: bearer })).json()) as Listed;

/** A body that passes the source checks but names no task id (unique, so tests stay apart). */
const taskless = () => JSON.stringify({ code: 200, msg: "ok", data: { marker: uniqueId("q") } });

describe("the quarantine", () => {
  it("keeps an authenticated body without a task id, answering 400 invalid_payload", async () => {
    const raw = taskless();
    const response = await postCallback(null, { raw, kind: "wav" });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_payload");
    const object = await env.MEDIA.get(await keyOf(raw));
    expect(await object?.text()).toBe(raw);
    expect(object?.customMetadata).toMatchObject({ route: "/callbacks/wav", receivedAt: expect.any(String) });
  });

  it("keeps a callback refused for its task's kind, and one with too many files", async () => {
    const taskId = uniqueId("conflict");
    const video = {
      code: 200,
      msg: "ok",
      data: { task_id: taskId, video_url: originBytes("v.mp4", 500, 61) },
    };
    expect((await postCallback(video)).status).toBe(200);
    await waitForStatus(taskId, settled); // nothing of it still in flight when the test ends
    const wav = JSON.stringify({
      code: 200,
      msg: "ok",
      data: { task_id: taskId, audioWavUrl: "https://musicfile.api.box/a.wav" },
    });
    expect((await postCallback(null, { raw: wav })).status).toBe(400);
    expect(await env.MEDIA.head(await keyOf(wav))).not.toBeNull();
    const images = Array.from({ length: 5 }, (_, i) => `https://musicfile.api.box/${i}.png`);
    const many = JSON.stringify({ code: 200, msg: "ok", data: { taskId: uniqueId("many"), images } });
    const refused = await postCallback(null, { raw: many, vars: { MAX_ASSETS_PER_TASK: "3" } });
    expect(refused.status).toBe(400);
    expect(await env.MEDIA.head(await keyOf(many))).not.toBeNull();
  });

  it("keeps one object per distinct body, however often it is sent", async () => {
    const raw = taskless();
    for (let i = 0; i < 3; i++) expect((await postCallback(null, { raw })).status).toBe(400);
    const listed = await env.MEDIA.list({ prefix: `quarantine/${today()}/` });
    const key = await keyOf(raw);
    expect(listed.objects.filter((object) => object.key === key)).toHaveLength(1);
  });

  it("keeps nothing that failed a source check or is not JSON", async () => {
    const unauthorized = taskless();
    expect((await postCallback(null, { raw: unauthorized, token: "wrong" })).status).toBe(401);
    expect(await env.MEDIA.head(await keyOf(unauthorized))).toBeNull();
    const unsigned = taskless();
    const hmacOnly = { CALLBACK_TOKENS: "", WEBHOOK_HMAC_KEY: "test-key" };
    const response = await postCallback(null, {
      raw: unsigned,
      token: null,
      vars: hmacOnly,
      headers: {
        "x-webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "x-webhook-signature": "AAAA",
      },
    });
    expect(response.status).toBe(401);
    expect(await env.MEDIA.head(await keyOf(unsigned))).toBeNull();
    const notJson = `{"code":200, ${uniqueId("broken")}`;
    expect((await postCallback(null, { raw: notJson })).status).toBe(400);
    expect(await env.MEDIA.head(await keyOf(notJson))).toBeNull();
  });

  it("lists the kept bodies newest first, in pages, and serves each as an attachment", async () => {
    const bodies = [taskless(), taskless(), taskless()];
    for (const raw of bodies) {
      expect((await postCallback(null, { raw })).status).toBe(400);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const keys = await Promise.all(bodies.map(keyOf));
    const first = await list("?limit=2");
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const all = [...first.items, ...(await list(`?limit=200&cursor=${first.nextCursor}`)).items];
    const ours = all.filter((item) => keys.includes(item.key));
    expect(ours.map((item) => item.key)).toEqual([...keys].reverse());
    const times = all.map((item) => item.receivedAt);
    expect(times).toEqual([...times].sort().reverse());
    const [newest] = ours;
    expect(newest).toMatchObject({
      route: "/callbacks",
      bytes: bodies[2]?.length,
      sha256: await sha256Hex(bodies[2] ?? ""),
    });

    const path = `/${newest?.key}`;
    const served = await request(path, { headers: bearer });
    expect(served.status).toBe(200);
    expect(served.headers.get("content-disposition")).toMatch(/^attachment; filename="[0-9a-f]{64}\.json"$/);
    expect(served.headers.get("x-content-type-options")).toBe("nosniff");
    expect(served.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
    expect(await served.text()).toBe(bodies[2]);
  });

  it("answers only with the bearer token", async () => {
    expect((await request("/quarantine")).status).toBe(401);
    const raw = taskless();
    await postCallback(null, { raw });
    expect((await request(`/${await keyOf(raw)}`)).status).toBe(401);
    expect(
      (await request(`/${await keyOf(raw)}`, { headers: { authorization: "Bearer wrong" } })).status,
    ).toBe(401);
    expect((await request("/quarantine/2026-01-01/nothing.json", { headers: bearer })).status).toBe(404);
    expect((await request("/quarantine?cursor=garbage", { headers: bearer })).status).toBe(400);
  });
});
