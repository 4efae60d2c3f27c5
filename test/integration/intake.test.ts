import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { taskStub } from "../../src/tasks/stub";
import { fixtures } from "../../support/fixtures";
import sunoMusicComplete from "../../support/fixtures/sunoapi.music.complete.json";
import sunoVideo from "../../support/fixtures/sunoapi.video.success.json";
import { signKie } from "../helpers/kie";
import { atOrigin, originBytes, originLog } from "../helpers/media";
import { runConsumer, seedQueuedAsset } from "../helpers/tasks";
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
        kind: fixture.kind === "unknown" ? undefined : fixture.kind,
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        status: "received",
        taskId,
        duplicate: false,
        ...(fixture.outcome === "unrecognized" ? { recognized: false } : {}),
      });

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
      if (fixture.outcome !== "unrecognized" && fixture.file !== "kie.market.fail.json") {
        expect(status.providerCode).toBe((fixture.body as { code: number }).code);
      }
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
      expect(status.kind, fixture.file).toBe(fixture.detectedKind ?? fixture.kind);
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
    ["an empty token", ""],
    ["the token in upper case", "TEST-TOKEN-A"],
    ["the token with a leading space", " test-token-a"],
    ["the token with a trailing NUL", "test-token-a\u0000"],
    ["the token with a trailing newline", "test-token-a\n"],
    ["the API token", "test-api-token"],
    ["both tokens joined", "test-token-a,test-token-b"],
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

  it.each([
    ["only in an Authorization header", "/callbacks", { authorization: "Bearer test-token-a" }],
    ["under another parameter name", "/callbacks?TOKEN=test-token-a", {}],
    ["after a wrong one", "/callbacks?token=wrong&token=test-token-a", {}],
    ["in the path", "/callbacks/test-token-a", {}],
  ])("rejects a token %s", async (_case, path, headers) => {
    const taskId = uniqueId();
    const response = await request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(video(taskId)),
    });
    expect([401, 404]).toContain(response.status);
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
        "the signature in base64url",
        async (taskId: string) => {
          const headers = await signed(taskId, now());
          const sig = headers["x-webhook-signature"]
            .replace(/\+/g, "-")
            .replace(/\//g, "_")
            .replace(/=+$/, "");
          return { ...headers, "x-webhook-signature": sig };
        },
      ],
      [
        "the signature with its case swapped",
        async (taskId: string) => {
          const headers = await signed(taskId, now());
          const sig = [...headers["x-webhook-signature"]]
            .map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()))
            .join("");
          return { ...headers, "x-webhook-signature": sig };
        },
      ],
      [
        "two signatures, one right",
        async (taskId: string) => {
          const headers = await signed(taskId, now());
          const wrong = await signKie("other-key", taskId, headers["x-webhook-timestamp"]);
          return { ...headers, "x-webhook-signature": `${wrong},${headers["x-webhook-signature"]}` };
        },
      ],
      [
        "the right signature with bytes appended",
        async (taskId: string) => {
          const headers = await signed(taskId, now());
          return { ...headers, "x-webhook-signature": `${headers["x-webhook-signature"]}AAAA` };
        },
      ],
      [
        "a timestamp in milliseconds, signed as sent",
        async (taskId: string) => {
          const ms = String(Date.now());
          return { "x-webhook-timestamp": ms, "x-webhook-signature": await signKie("test-key", taskId, ms) };
        },
      ],
      [
        "a zero-padded timestamp carrying the signature of the plain one",
        async (taskId: string) => {
          const headers = await signed(taskId, now());
          return { ...headers, "x-webhook-timestamp": `0${headers["x-webhook-timestamp"]}` };
        },
      ],
      [
        "a signature for the task id in another case",
        async (taskId: string) => signed(taskId, now(), taskId.toUpperCase()),
      ],
      [
        "a signature made with the callback token as key",
        async (taskId: string) => {
          const ts = String(now());
          return {
            "x-webhook-timestamp": ts,
            "x-webhook-signature": await signKie("test-token-a", taskId, ts),
          };
        },
      ],
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
  });

  it("answers /healthz 503 naming the problem when no source check is configured", async () => {
    const response = await request("/healthz", {}, noChecks);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { ok: boolean; checks: string[]; problems: string[] };
    expect(body).toMatchObject({ ok: false, checks: [] });
    expect(body.problems).toEqual([expect.stringMatching(/no source check.*CALLBACK_TOKENS/)]);
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

  it("records an unknown shape with a valid task id raw, as an unknown task, answering recognized: false", async () => {
    const taskId = uniqueId();
    const raw = JSON.stringify({ code: 200, msg: "ok", data: { task_id: taskId, lyrics: [] } });
    const response = await postCallback(null, { raw });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "received",
      taskId,
      duplicate: false,
      recognized: false,
    });
    const status = await getStatus(taskId);
    expect(status).toMatchObject({ kind: "unknown", state: "in_progress", stage: null });
    expect(status.callbacks).toMatchObject({ received: 1, unrecognized: 1, history: [] });
    expect(status.unrecognizedCallbacks).toEqual([
      { receivedAt: expect.any(String), route: "/callbacks", body: raw },
    ]);
  });

  it("records a known shape that fails its schema as unrecognised instead of refusing it", async () => {
    const taskId = uniqueId();
    const body = withTaskId(sunoMusicComplete, taskId) as { data: { data: Record<string, unknown>[] } };
    body.data.data[0] = { ...body.data.data[0], duration: "long" };
    const response = await postCallback(body);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ recognized: false });
    expect((await getStatus(taskId)).callbacks.unrecognized).toBe(1);
  });

  it("accepts a known envelope with fields its schema does not expect yet", async () => {
    const taskId = uniqueId();
    const body = withTaskId(sunoMusicComplete, taskId) as { data: Record<string, unknown> };
    const response = await postCallback({
      ...body,
      traceId: "t-1",
      data: { ...body.data, newField: { a: 1 } },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "received", taskId, duplicate: false });
    expect((await getStatus(taskId)).kind).toBe("music");
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
    expect((await postCallback(video(taskId), { kind: "persona" })).status).toBe(404);
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

describe("MAX_ASSETS_PER_TASK", () => {
  /** A separation callback whose stems are s<from>..s<to-1>, at URLs the policy refuses at once. */
  const stems = (taskId: string, from: number, to: number, base = "https://media.evil.example") => ({
    code: 200,
    msg: "vocal Removal generated successfully.",
    data: {
      task_id: taskId,
      vocal_separation_info: Object.fromEntries(
        Array.from({ length: to - from }, (_, i) => [`s${from + i}_url`, `${base}/s${from + i}.mp3`]),
      ),
    },
  });

  it("refuses one callback with 3,900 stems: 400 too_many_assets, nothing recorded", async () => {
    // The probe's repro: a 255 KB callback that made 3,900 downloads.
    const taskId = uniqueId("amplify");
    const body = stems(taskId, 0, 3900);
    expect(JSON.stringify(body).length).toBeLessThan(262_144);
    const response = await postCallback(body);
    expect(response.status).toBe(400);
    const error = await errorBody(response);
    expect(error.code).toBe("too_many_assets");
    expect(error.message).toMatch(/3900 media files; at most 64/);
    expect(await taskExists(taskId)).toBe(false);
  });

  it("downloads nothing of a refused callback", async () => {
    const taskId = uniqueId("amplify-origin");
    const prefix = `/bytes/${taskId}`;
    const response = await postCallback(stems(taskId, 0, 65, `${env.ORIGIN_URL}${prefix}`));
    expect(response.status).toBe(400);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a queue delivery's time
    const log = await fetch(`${env.ORIGIN_URL}/__log?path=${encodeURIComponent(prefix)}`);
    expect(((await log.json()) as { requests: unknown[] }).requests).toEqual([]);
    expect(await taskExists(taskId)).toBe(false);
  });

  it("counts the files the task would have after the callback, not the callback's alone", async () => {
    const taskId = uniqueId("cumulative");
    expect((await postCallback(stems(taskId, 0, 60))).status).toBe(200);
    // 60 known + 5 new = 65 > 64: refused, and the task is exactly as it was.
    const over = await postCallback(stems(taskId, 0, 65));
    expect(over.status).toBe(400);
    expect((await errorBody(over)).code).toBe("too_many_assets");
    let status = await getStatus(taskId);
    expect(status.assets).toHaveLength(60);
    expect(status.callbacks).toMatchObject({ received: 1, distinct: 1, duplicates: 0 });
    // 60 known + 4 new = 64: the limit itself is allowed.
    expect((await postCallback(stems(taskId, 0, 64))).status).toBe(200);
    status = await getStatus(taskId);
    expect(status.assets).toHaveLength(64);
    // A re-delivery of a recorded callback is still a duplicate, and one more file is not taken.
    const again = await postCallback(stems(taskId, 0, 60));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });
    expect((await postCallback(stems(taskId, 64, 65))).status).toBe(400);
    expect((await getStatus(taskId)).assets).toHaveLength(64);
  });

  it("reads the limit from MAX_ASSETS_PER_TASK", async () => {
    const taskId = uniqueId("limit");
    const response = await postCallback(stems(taskId, 0, 3), { vars: { MAX_ASSETS_PER_TASK: "2" } });
    expect(response.status).toBe(400);
    expect((await errorBody(response)).message).toMatch(/3 media files; at most 2 .*MAX_ASSETS_PER_TASK/);
    expect(await taskExists(taskId)).toBe(false);
  });
});

describe("malformed settings", () => {
  const broken = { MAX_MEDIA_BYTES: "12x", ALLOWED_SOURCE_IPS: "not-an-ip" };

  it("answers /healthz 503 naming each malformed setting, never its value", async () => {
    const response = await request("/healthz", {}, broken);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { ok: boolean; problems: string[] };
    expect(body.ok).toBe(false);
    expect(body.problems.map((p) => p.split(" ")[0]).sort()).toEqual([
      "ALLOWED_SOURCE_IPS",
      "MAX_MEDIA_BYTES",
    ]);
    expect(JSON.stringify(body)).not.toMatch(/12x|not-an-ip/);
  });

  it("refuses callbacks with 503 and records nothing", async () => {
    const taskId = uniqueId();
    const response = await postCallback(video(taskId), { vars: broken });
    expect(response.status).toBe(503);
    expect((await errorBody(response)).code).toBe("receiver_not_configured");
    expect(await taskExists(taskId)).toBe(false);
  });

  it.each([
    ["MAX_ASSETS_PER_TASK", "64 files"],
    ["MEDIA_IDLE_TIMEOUT_SECONDS", "-1"],
    ["MAX_MEDIA_BYTES", "2GB"],
    ["ALLOWED_SOURCE_IPS", "10.0.0.0/33"],
  ])("answers /healthz 503 and refuses callbacks for a malformed %s", async (name, value) => {
    const health = await request("/healthz", {}, { [name]: value });
    expect(health.status).toBe(503);
    const body = (await health.json()) as { problems: string[] };
    expect(body.problems).toEqual([expect.stringMatching(new RegExp(`^${name} `))]);
    expect(JSON.stringify(body)).not.toContain(value);
    const taskId = uniqueId();
    expect((await postCallback(video(taskId), { vars: { [name]: value } })).status).toBe(503);
    expect(await taskExists(taskId)).toBe(false);
  });

  it("answers no route with a 500 when the IP list is malformed", async () => {
    // The probe: a malformed ALLOWED_SOURCE_IPS made every route a 500, /healthz included.
    const vars = { ALLOWED_SOURCE_IPS: "10.0.0.0/8,::zz" };
    const taskId = uniqueId();
    expect((await postCallback(video(taskId))).status).toBe(200);
    const answers = [
      await request("/healthz", {}, vars),
      await request(`/tasks/${taskId}`, { headers: bearer }, vars),
      await request("/media/video/nope/video.mp4", { headers: bearer }, vars),
      await request("/nowhere", {}, vars),
      await postCallback(video(uniqueId()), { vars }),
    ];
    expect(answers.map((response) => response.status)).toEqual([503, 200, 404, 404, 503]);
  });

  it("downloads nothing while the settings are malformed: the message waits", async () => {
    const name = `held-back-${uniqueId()}.mp3`;
    const taskId = await seedQueuedAsset("separation", "drums", originBytes(name, 1000, 1));
    const result = await runConsumer([{ taskId, asset: "drums" }], { vars: broken });
    expect(result.retryMessages.map((message) => message.msgId)).toEqual(result.ids);
    expect(await originLog(`/bytes/${name}`)).toEqual([]);
    expect((await getStatus(taskId)).assets[0]).toMatchObject({ state: "queued", attempts: 0 });
  });

  it("keeps the read API working", async () => {
    const taskId = uniqueId();
    expect((await postCallback(video(taskId))).status).toBe(200);
    const response = await request(`/tasks/${taskId}`, { headers: bearer }, broken);
    expect(response.status).toBe(200);
  });
});
