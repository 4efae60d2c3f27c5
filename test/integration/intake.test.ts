import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { signKie } from "../../src/callbacks/kie-signature";
import { taskStub } from "../../src/tasks/stub";
import { fixtures } from "../../support/fixtures";
import sunoMusicComplete from "../../support/fixtures/sunoapi.music.complete.json";
import sunoVideo from "../../support/fixtures/sunoapi.video.success.json";
import { atOrigin } from "../helpers/media";
import { bearer, getStatus, postCallback, request, uniqueId, withTaskId } from "../helpers/worker";

const video = (taskId = uniqueId("video")) => atOrigin(withTaskId(sunoVideo, taskId)).body;
const errorBody = async (response: Response) =>
  ((await response.json()) as { error: { code: string; message: string; issues?: unknown[] } }).error;
const taskExists = async (taskId: string) =>
  (await request(`/tasks/${taskId}`, { headers: bearer })).status === 200;

describe("every documented payload", () => {
  it.each(fixtures.map((fixture) => [fixture.file, fixture] as const))(
    "accepts %s",
    async (_file, fixture) => {
      const taskId = uniqueId(fixture.kind);
      const response = await postCallback(atOrigin(withTaskId(fixture.body, taskId)).body, {
        kind: fixture.kind,
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "received", taskId, duplicate: false });

      const status = (await (await request(`/tasks/${taskId}`, { headers: bearer })).json()) as {
        kind: string;
        stage: string;
        state: string;
        providerCode: number;
        assets: { name: string }[];
      };
      expect(status.kind).toBe(fixture.kind);
      expect(status.stage).toBe(fixture.stage);
      expect(status.state).toBe(
        fixture.outcome === "success"
          ? "succeeded"
          : fixture.outcome === "failure"
            ? "failed"
            : "in_progress",
      );
      expect(status.providerCode).toBe((fixture.body as { code: number }).code);
      expect(status.assets.map((asset) => asset.name).sort()).toEqual(fixture.expectedAssets);
    },
  );

  it("detects the kind from the payload when the URL does not name it", async () => {
    for (const fixture of fixtures.filter((f) => f.outcome !== "partial")) {
      const taskId = uniqueId("detect");
      const response = await postCallback(atOrigin(withTaskId(fixture.body, taskId)).body);
      expect(response.status, fixture.file).toBe(200);
      const status = (await (await request(`/tasks/${taskId}`, { headers: bearer })).json()) as {
        kind: string;
      };
      expect(status.kind, fixture.file).toBe(fixture.kind);
    }
  });

  it("takes the task id from data.taskId when data.task_id is absent", async () => {
    const taskId = uniqueId("camel");
    const body = video();
    const { task_id: _dropped, ...data } = body.data;
    const response = await postCallback({ ...body, data: { ...data, taskId } });
    expect(response.status).toBe(200);
    expect(await taskExists(taskId)).toBe(true);
  });
});

describe("source checks", () => {
  const noChecks = { CALLBACK_TOKENS: "", WEBHOOK_HMAC_KEY: "", ALLOWED_SOURCE_IPS: "" };

  it("fails closed with 503 when no check is configured", async () => {
    const taskId = uniqueId();
    const response = await postCallback(video(taskId), { vars: noChecks, token: null });
    expect(response.status).toBe(503);
    expect((await errorBody(response)).code).toBe("receiver_not_configured");
    expect(await taskExists(taskId)).toBe(false);
  });

  it("accepts the first and the second (rotated) token", async () => {
    const [first, second] = [uniqueId(), uniqueId()];
    expect((await postCallback(video(first), { token: "test-token-a" })).status).toBe(200);
    expect((await postCallback(video(second), { token: "test-token-b" })).status).toBe(200);
    expect(await taskExists(first)).toBe(true);
    expect(await taskExists(second)).toBe(true);
  });

  it.each([
    ["a missing token", null],
    ["a wrong token", "test-token-c"],
    ["a token prefix", "test-token"],
    ["a token with a suffix", "test-token-a2"],
  ])("rejects %s with a 401 that does not say which check failed", async (_case, token) => {
    const warn = vi.spyOn(console, "warn");
    const taskId = uniqueId();
    const response = await postCallback(video(taskId), { token });
    expect(response.status).toBe(401);
    expect(await errorBody(response)).toEqual({
      code: "unauthorized",
      message: "missing or invalid credentials",
    });
    expect(warn.mock.calls.map((call) => JSON.parse(String(call[0])).check)).toContain("token");
    expect(await taskExists(taskId)).toBe(false);
  });

  describe("kie.ai HMAC", () => {
    const hmacOnly = { CALLBACK_TOKENS: "", WEBHOOK_HMAC_KEY: "test-key" };
    const now = () => Math.floor(Date.now() / 1000);
    const signed = async (taskId: string, timestamp: number, signFor = taskId) => ({
      "x-webhook-timestamp": String(timestamp),
      "x-webhook-signature": await signKie("test-key", signFor, String(timestamp)),
    });

    it("accepts a fresh, correct signature", async () => {
      const taskId = uniqueId();
      const response = await postCallback(video(taskId), {
        vars: hmacOnly,
        token: null,
        headers: await signed(taskId, now()),
      });
      expect(response.status).toBe(200);
      expect(await taskExists(taskId)).toBe(true);
    });

    it.each([
      ["no headers", async () => ({})],
      ["no signature", async () => ({ "x-webhook-timestamp": String(now()) })],
      [
        "no timestamp",
        async (taskId: string) => ({
          "x-webhook-signature": (await signed(taskId, now()))["x-webhook-signature"],
        }),
      ],
      [
        "a garbled signature",
        async () => ({ "x-webhook-timestamp": String(now()), "x-webhook-signature": "%%%garbled" }),
      ],
      ["a signature for another task", async (taskId: string) => signed(taskId, now(), "someone-else")],
      ["a stale timestamp", async (taskId: string) => signed(taskId, now() - 301)],
      ["a timestamp from the future", async (taskId: string) => signed(taskId, now() + 120)],
      [
        "a signature for another timestamp",
        async (taskId: string) => ({
          ...(await signed(taskId, now() - 5)),
          "x-webhook-timestamp": String(now()),
        }),
      ],
    ])("rejects %s", async (_case, headers) => {
      const warn = vi.spyOn(console, "warn");
      const taskId = uniqueId();
      const response = await postCallback(video(taskId), {
        vars: hmacOnly,
        token: null,
        headers: await headers(taskId),
      });
      expect(response.status).toBe(401);
      expect((await errorBody(response)).message).not.toMatch(/hmac|signature|timestamp/i);
      expect(warn.mock.calls.map((call) => JSON.parse(String(call[0])).check)).toContain("hmac");
      expect(await taskExists(taskId)).toBe(false);
    });

    it("requires every configured check: a valid signature does not excuse a bad token", async () => {
      const taskId = uniqueId();
      const vars = { CALLBACK_TOKENS: "test-token-a", WEBHOOK_HMAC_KEY: "test-key" };
      const headers = await signed(taskId, now());
      expect((await postCallback(video(taskId), { vars, token: "nope", headers })).status).toBe(401);
      expect(await taskExists(taskId)).toBe(false);
      expect((await postCallback(video(taskId), { vars, token: "test-token-a", headers })).status).toBe(200);
      expect(await taskExists(taskId)).toBe(true);
    });
  });

  describe("IP allowlist", () => {
    const ipOnly = {
      CALLBACK_TOKENS: "",
      ALLOWED_SOURCE_IPS: "198.51.100.0/24, 203.0.113.7, 2001:db8:cafe::/48",
    };

    it.each([
      ["198.51.100.23", 200],
      ["203.0.113.7", 200],
      ["2001:db8:cafe:1::9", 200],
      ["198.51.101.23", 401],
      ["203.0.113.8", 401],
      ["2001:db8:beef::9", 401],
    ])("answers %s with %i", async (ip, expected) => {
      const taskId = uniqueId("ip");
      const response = await postCallback(video(taskId), {
        vars: ipOnly,
        token: null,
        headers: { "cf-connecting-ip": ip },
      });
      expect(response.status).toBe(expected);
      expect(await taskExists(taskId)).toBe(expected === 200);
    });

    it("rejects a request without CF-Connecting-IP", async () => {
      const taskId = uniqueId("ip");
      expect((await postCallback(video(taskId), { vars: ipOnly, token: null })).status).toBe(401);
      expect(await taskExists(taskId)).toBe(false);
    });
  });

  it("reports the configured checks, without values, on /healthz", async () => {
    const all = { CALLBACK_TOKENS: "x", WEBHOOK_HMAC_KEY: "y", ALLOWED_SOURCE_IPS: "10.0.0.0/8" };
    const full = await (await request("/healthz", {}, all)).text();
    expect(JSON.parse(full)).toEqual({ ok: true, checks: ["token", "hmac", "ip"] });
    expect(full).not.toContain("10.0.0.0");
    expect(await (await request("/healthz")).json()).toEqual({ ok: true, checks: ["token"] });
    expect(await (await request("/healthz", {}, noChecks)).json()).toEqual({ ok: true, checks: [] });
  });
});

describe("bad input", () => {
  it("answers 413 from Content-Length without reading the body", async () => {
    const taskId = uniqueId();
    const bytes = new TextEncoder().encode(JSON.stringify({ ...video(taskId), padding: "x".repeat(2048) }));
    // A string body carries no Content-Length here; declare it, and count what is read.
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = bytes.subarray(pulled, pulled + 512);
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
        if (pulled >= bytes.byteLength) controller.close();
      },
    });
    const response = await request(
      "/callbacks?token=test-token-a",
      {
        method: "POST",
        body,
        headers: { "content-type": "application/json", "content-length": String(bytes.byteLength) },
        duplex: "half",
      } as RequestInit,
      { MAX_CALLBACK_BYTES: "1024" },
    );
    expect(response.status).toBe(413);
    expect((await errorBody(response)).code).toBe("payload_too_large");
    expect(pulled).toBeLessThanOrEqual(512); // the stream's own first pull only
    expect(await taskExists(taskId)).toBe(false);
  });

  it("answers 413 to a chunked body, reading no more than the limit", async () => {
    let pulled = 0;
    const chunk = new TextEncoder().encode(`{"pad":"${"x".repeat(1000)}`);
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await request(
      "/callbacks?token=test-token-a",
      {
        method: "POST",
        body: endless,
        headers: { "content-type": "application/json" },
        duplex: "half",
      } as RequestInit,
      { MAX_CALLBACK_BYTES: "4096" },
    );
    expect(response.status).toBe(413);
    expect(pulled).toBeLessThan(64 * 1024);
  });

  it("answers 413 for the default limit of 256 KiB", async () => {
    const taskId = uniqueId();
    const response = await postCallback({ ...video(taskId), padding: "x".repeat(262_144) });
    expect(response.status).toBe(413);
    expect(await taskExists(taskId)).toBe(false);
  });

  it.each([
    ["{not json", "invalid_json"],
    ["", "invalid_json"],
    ["[1, 2", "invalid_json"],
    ["null", "invalid_payload"],
  ])("answers 400 to %j with %s", async (raw, code) => {
    const response = await postCallback(null, { raw });
    expect(response.status).toBe(400);
    expect((await errorBody(response)).code).toBe(code);
  });

  it("answers 400 invalid_json to a body that is not JSON", async () => {
    const response = await postCallback(null, { raw: "code=200&msg=ok" });
    expect(response.status).toBe(400);
    expect((await errorBody(response)).code).toBe("invalid_json");
  });

  it("answers 400 invalid_payload with issues to an unknown shape", async () => {
    const taskId = uniqueId();
    const response = await postCallback({ code: 200, msg: "ok", data: { task_id: taskId, lyrics: [] } });
    expect(response.status).toBe(400);
    const error = await errorBody(response);
    expect(error.code).toBe("invalid_payload");
    expect(error.issues?.length).toBeGreaterThan(0);
    expect(await taskExists(taskId)).toBe(false);
  });

  it("names the offending field of a malformed music callback", async () => {
    const taskId = uniqueId();
    const body = withTaskId(sunoMusicComplete, taskId) as { data: { data: Record<string, unknown>[] } };
    body.data.data[0] = { ...body.data.data[0], duration: "long" };
    const response = await postCallback(body);
    expect(response.status).toBe(400);
    const error = await errorBody(response);
    expect(error.code).toBe("invalid_payload");
    expect(error.issues).toContainEqual(expect.objectContaining({ path: "data.data.0.duration" }));
    expect(await taskExists(taskId)).toBe(false);
  });

  it.each([
    ["a path traversal", "../x"],
    ["a slash", "a/b"],
    ["an empty id", ""],
    ["129 characters", "a".repeat(129)],
    ["non-ASCII", "tâche-1"],
    ["a dot", "task.1"],
    ["a number", 12345],
  ])("answers 400 to a task id with %s", async (_case, taskId) => {
    const body = { ...video(), data: { ...video().data, task_id: taskId } };
    const response = await postCallback(body);
    expect(response.status).toBe(400);
    expect((await errorBody(response)).code).toBe("invalid_payload");
    // GET /tasks/:id refuses these ids, so ask the object that name would address.
    expect(await taskStub(env, String(taskId)).status()).toBeNull();
  });

  it("accepts a task id of exactly 128 characters", async () => {
    expect((await postCallback(video("b".repeat(128)))).status).toBe(200);
    expect(await taskExists("b".repeat(128))).toBe(true);
  });

  it("answers 400 when /callbacks/:kind disagrees with the payload", async () => {
    const taskId = uniqueId();
    const response = await postCallback(video(taskId), { kind: "music" });
    expect(response.status).toBe(400);
    expect((await errorBody(response)).message).toMatch(/video callback/);
    expect(await taskExists(taskId)).toBe(false);
  });

  it("answers 400 when a task id already belongs to a task of another kind", async () => {
    const taskId = uniqueId();
    expect((await postCallback(video(taskId))).status).toBe(200);
    const music = atOrigin(withTaskId(sunoMusicComplete, taskId)).body;
    const response = await postCallback(music);
    expect(response.status).toBe(400);
    expect((await errorBody(response)).message).toMatch(/is a video task/);
    const status = await getStatus(taskId);
    expect(status).toMatchObject({ kind: "video", callbacks: { received: 1 } });
    expect(status.assets.map((asset) => asset.name)).toEqual(["video"]);
  });

  it("answers 404 for an unknown kind in the path", async () => {
    const taskId = uniqueId();
    expect((await postCallback(video(taskId), { kind: "lyrics" })).status).toBe(404);
    expect(await taskExists(taskId)).toBe(false);
  });

  it("keeps the raw callback exactly as received", async () => {
    const taskId = uniqueId();
    const raw = JSON.stringify(video(taskId), null, 3);
    expect((await postCallback(null, { raw })).status).toBe(200);
    const stub = env.TASKS.get(env.TASKS.idFromName(taskId));
    const { runInDurableObject } = await import("cloudflare:test");
    const stored = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec<{ raw: string }>("SELECT raw FROM callbacks").toArray(),
    );
    expect(stored.map((row) => row.raw)).toEqual([raw]);
  });
});
