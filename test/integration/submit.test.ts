import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { SUBMIT_ENDPOINTS } from "../../src/providers/submit-endpoints";
import type { SubmissionObject } from "../../src/submit/submission-object";
import { taskStub } from "../../src/tasks/stub";
import { expectedSha256, r2Sha256 } from "../helpers/media";
import { deliverCallbacks, fakeJob, providerCalls, scriptProvider, submit } from "../helpers/submit";
import { bearer, request, settled, uniqueId, waitForStatus } from "../helpers/worker";

// POST /provider/<path> against the fake provider of the local origin (support/fake-provider.ts):
// the forwarded body and callback URL as the provider received them, the registration, the
// archive from the provider's own callbacks, idempotency, refusals, and a registration that
// fails after the provider accepted.

const ORIGIN = "https://stemvault.test";
const TOKEN = (env.CALLBACK_TOKENS ?? "").split(",")[0] as string;

/** A generate body unique to the test (the marker finds its calls at the fake provider). */
const generate = (marker: string, extra: Record<string, unknown> = {}) => ({
  customMode: true,
  instrumental: false,
  model: "V4_5",
  prompt: `a calm piano piece ${marker}`,
  style: "ambient",
  title: "Night Walk",
  callBackUrl: "https://example.com/my-own-callback",
  ...extra,
});

const submissionStub = (key: string) => env.SUBMISSIONS.getByName(`key:${key}`);

describe("POST /provider/<path>", () => {
  it("forwards each listed endpoint with its callback URL set to the kind's route and the provider key", async () => {
    const expected: Record<string, string> = {
      "/api/v1/jobs/createTask": "music", // a Suno model on Market
    };
    for (const entry of SUBMIT_ENDPOINTS) {
      const marker = uniqueId("path");
      const body =
        entry.kind === "market"
          ? {
              model: "ai-music-api/generate",
              input: { prompt: marker },
              callBackUrl: "https://example.com/x",
            }
          : {
              taskId: "parent",
              audioId: "a1",
              prompt: marker,
              type: "split_stem",
              callBackUrl: "https://x.test/y",
            };
      const response = await submit(entry.path, body);
      expect(response.status, entry.path).toBe(200);
      const calls = await providerCalls(marker);
      expect(calls, entry.path).toHaveLength(1);
      const [call] = calls;
      const kind = expected[entry.path] ?? entry.kind;
      expect(call?.path).toBe(entry.path);
      expect(call?.callBackUrl).toBe(`${ORIGIN}/callbacks/${kind}?token=${TOKEN}`);
      // Everything else is the user's body, unchanged.
      expect(call?.body).toEqual({ ...body, callBackUrl: call?.callBackUrl });
      // The answer is the provider's, with the task's id and status URL.
      expect(await response.json()).toEqual({ code: 200, msg: "success", data: { taskId: call?.taskId } });
      expect(response.headers.get("stemvault-task-id")).toBe(call?.taskId);
      expect(response.headers.get("location")).toBe(`/tasks/${call?.taskId}`);
      expect(response.headers.get("stemvault-idempotent-replay")).toBeNull();
    }
  });

  it("sends a Market job of a model it cannot map to /callbacks, where the payload decides", async () => {
    const marker = uniqueId("market");
    const response = await submit("/api/v1/jobs/createTask", {
      model: "flux-kontext-pro",
      input: { prompt: marker },
    });
    expect(response.status).toBe(200);
    const [call] = await providerCalls(marker);
    expect(call?.callBackUrl).toBe(`${ORIGIN}/callbacks?token=${TOKEN}`);
  });

  it("uses PUBLIC_URL for the callback URL when it is set", async () => {
    const marker = uniqueId("public");
    const vars = { PUBLIC_URL: "https://vault.example.org" };
    expect(
      (await submit("/api/v1/mp4/generate", { taskId: "t", audioId: "a", note: marker }, { vars })).status,
    ).toBe(200);
    const [call] = await providerCalls(marker);
    expect(call?.callBackUrl).toBe(`https://vault.example.org/callbacks/video?token=${TOKEN}`);
  });

  it("registers the task before answering, with its request's non-secret fields", async () => {
    const marker = uniqueId("reg");
    const response = await submit(
      "/api/v1/generate",
      generate(marker, { apiKey: "sk-secret", uploadUrl: "https://u:p@files.example/a.mp3" }),
    );
    const taskId = response.headers.get("stemvault-task-id") as string;
    // No waiting: the task object has it by the time the answer is out.
    const status = await taskStub(env, taskId).status();
    expect(status).toMatchObject({ taskId, kind: "music", state: "awaiting_callback", via: "submit" });
    expect(status?.request).toEqual({
      customMode: true,
      instrumental: false,
      model: "V4_5",
      prompt: `a calm piano piece ${marker}`,
      style: "ambient",
      title: "Night Walk",
      uploadUrl: "https://files.example/a.mp3",
    });
    const read = await request(`/tasks/${taskId}`, { headers: bearer });
    expect(await read.json()).toMatchObject({ via: "submit", request: { title: "Night Walk" } });
    // A reconciliation poll is due for it, as for POST /tasks.
    expect(status?.reconcile.nextAt).not.toBeNull();
  });

  it("archives a submitted job from the callbacks the provider sends, byte-exact", async () => {
    const jobs = [
      { path: "/api/v1/generate", body: generate(uniqueId("music")) },
      {
        path: "/api/v1/vocal-removal/generate",
        body: { taskId: "p", audioId: "a", type: "split_stem", n: uniqueId() },
      },
      { path: "/api/v1/mp4/generate", body: { taskId: "p", audioId: "a", n: uniqueId() } },
    ];
    for (const { path, body } of jobs) {
      const response = await submit(path, body);
      const taskId = response.headers.get("stemvault-task-id") as string;
      const job = await fakeJob(taskId);
      expect(await deliverCallbacks(job)).toEqual(job.callbacks.map(() => 200));
      const status = await waitForStatus(taskId, settled);
      expect(status.archive.state, path).toBe("archived");
      expect(status.via).toBe("submit");
      expect(status.assets.map((asset) => asset.name).sort()).toEqual(
        job.files.map((file) => file.asset).sort(),
      );
      for (const file of job.files) {
        const asset = status.assets.find((candidate) => candidate.name === file.asset);
        const stored = await r2Sha256(asset?.key as string);
        expect(stored?.size).toBe(file.size);
        expect(stored?.sha256).toBe(await expectedSha256(file));
      }
    }
  });
});

describe("Idempotency-Key", () => {
  it("replays the recorded answer for the same key and body without calling the provider again", async () => {
    const marker = uniqueId("replay");
    const key = uniqueId("key");
    const first = await submit("/api/v1/generate", generate(marker), { key });
    const firstBody = await first.text();
    const again = await submit("/api/v1/generate", generate(marker), { key });
    expect(again.status).toBe(200);
    expect(await again.text()).toBe(firstBody);
    expect(again.headers.get("stemvault-idempotent-replay")).toBe("true");
    expect(again.headers.get("stemvault-task-id")).toBe(first.headers.get("stemvault-task-id"));
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(await providerCalls(marker)).toHaveLength(1);
  });

  it("refuses the same key with another body (422) and sends nothing", async () => {
    const marker = uniqueId("reuse");
    const key = uniqueId("key");
    await submit("/api/v1/generate", generate(marker), { key });
    const other = await submit("/api/v1/generate", generate(marker, { title: "Other" }), { key });
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ error: { code: "idempotency_key_reused" } });
    const otherPath = await submit("/api/v1/mp4/generate", generate(marker), { key });
    expect(otherPath.status).toBe(422);
    expect(await providerCalls(marker)).toHaveLength(1);
  });

  it("answers 409 to requests with a key still in flight; the provider is called exactly once", async () => {
    const marker = uniqueId("flight");
    const key = uniqueId("key");
    await scriptProvider(marker, [{ accept: true, delayMs: 1500 }]);
    const first = submit("/api/v1/generate", generate(marker), { key });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () => submit("/api/v1/generate", generate(marker), { key })),
    );
    for (const response of concurrent) {
      expect(response.status).toBe(409);
      expect(await response.json()).toMatchObject({ error: { code: "idempotency_in_flight" } });
    }
    expect((await first).status).toBe(200);
    expect(await providerCalls(marker)).toHaveLength(1);
    const later = await submit("/api/v1/generate", generate(marker), { key });
    expect(later.headers.get("stemvault-idempotent-replay")).toBe("true");
    expect(await providerCalls(marker)).toHaveLength(1);
  });

  it("lets exactly one of many simultaneous first requests with one key reach the provider", async () => {
    const marker = uniqueId("race");
    const key = uniqueId("key");
    await scriptProvider(marker, [{ accept: true, delayMs: 500 }]);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => submit("/api/v1/generate", generate(marker), { key })),
    );
    expect(answers.map((response) => response.status).sort()).toEqual([
      200, 409, 409, 409, 409, 409, 409, 409,
    ]);
    expect(await providerCalls(marker)).toHaveLength(1);
  });

  it("answers 504 provider_timeout when the provider does not answer in time, and replays it", async () => {
    const marker = uniqueId("stall");
    const key = uniqueId("key");
    await scriptProvider(marker, [
      { status: 200, body: { code: 200, msg: "success", data: { taskId: uniqueId() } }, delayMs: 4000 },
    ]);
    const vars = { SUBMIT_TIMEOUT_MS: "1000" };
    const response = await submit("/api/v1/generate", generate(marker), { key, vars });
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ error: { code: "provider_timeout" } });
    const again = await submit("/api/v1/generate", generate(marker), { key, vars });
    expect(again.status).toBe(504);
    expect(again.headers.get("stemvault-idempotent-replay")).toBe("true");
    expect(await providerCalls(marker)).toHaveLength(1);
  });

  it("takes an in-flight record older than the timeout for an unknowable outcome (504), never a new submission", async () => {
    const marker = uniqueId("orphan");
    const key = uniqueId("key");
    await scriptProvider(marker, [{ accept: true, delayMs: 1500 }]);
    const vars = { SUBMIT_TIMEOUT_MS: "20000" };
    const first = submit("/api/v1/generate", generate(marker), { key, vars });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The Worker that made the call is taken to be gone: its record is 30 s old.
    await runInDurableObject(submissionStub(key), (_object: SubmissionObject, state) => {
      state.storage.sql.exec("UPDATE submission SET created_at = created_at - 30000");
    });
    const later = await submit("/api/v1/generate", generate(marker), { key, vars });
    expect(later.status).toBe(504);
    expect(await later.json()).toMatchObject({ error: { code: "provider_timeout" } });
    await first; // its late answer does not replace the recorded timeout...
    const replay = await submit("/api/v1/generate", generate(marker), { key, vars });
    expect(replay.status).toBe(504);
    expect(await providerCalls(marker)).toHaveLength(1);
  });

  it("forgets a key after 24 hours: its alarm drops the record, and the key submits anew", async () => {
    const marker = uniqueId("expiry");
    const key = uniqueId("key");
    await submit("/api/v1/generate", generate(marker), { key });
    const stub = submissionStub(key);
    await runInDurableObject(stub, (_object: SubmissionObject, state) => {
      state.storage.sql.exec("UPDATE submission SET created_at = created_at - 86400000");
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const tables = await runInDurableObject(
      stub,
      (_object: SubmissionObject, state) =>
        state.storage.sql.exec("SELECT count(*) AS n FROM submission").one().n,
    );
    expect(tables).toBe(0);
    const fresh = await submit("/api/v1/generate", generate(marker), { key });
    expect(fresh.headers.get("stemvault-idempotent-replay")).toBeNull();
    expect(await providerCalls(marker)).toHaveLength(2);
  });

  it("refuses a malformed key with 400 invalid_idempotency_key before calling the provider", async () => {
    const marker = uniqueId("badkey");
    for (const key of ["", "with space", "x".repeat(256), "tab\tkey"]) {
      const response = await submit("/api/v1/generate", generate(marker), { key });
      expect(response.status, JSON.stringify(key)).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: "invalid_idempotency_key" } });
    }
    const longest = await submit("/api/v1/generate", generate(marker), { key: "~".repeat(255) });
    expect(longest.status).toBe(200);
    expect(await providerCalls(marker)).toHaveLength(1);
  });

  it("without a key behaves like the provider: every request is a new job", async () => {
    const marker = uniqueId("nokey");
    const first = await submit("/api/v1/generate", generate(marker));
    const second = await submit("/api/v1/generate", generate(marker));
    expect(first.headers.get("stemvault-task-id")).not.toBe(second.headers.get("stemvault-task-id"));
    expect(await providerCalls(marker)).toHaveLength(2);
  });
});

describe("provider refusals and errors", () => {
  const refusals = [
    { http: 401, code: 401, msg: "You do not have access permissions" },
    { http: 402, code: 402, msg: "Insufficient credits" },
    { http: 429, code: 429, msg: "Insufficient credits", retryAfter: "60" },
    { http: 405, code: 405, msg: "rate limit exceeded", retryAfter: "5" },
    { http: 430, code: 430, msg: "call frequency too high, try later" },
    { http: 455, code: 455, msg: "system maintenance" },
    { http: 500, code: 500, msg: "server error" },
    { http: 400, code: 400, msg: "a cover already exists" },
    // Refusals inside a 200: the envelope decides.
    { http: 200, code: 429, msg: "Insufficient credits" },
    { http: 200, code: 413, msg: "prompt too long" },
  ];

  it("passes every refusal through as sent, keeps Retry-After, and registers nothing", async () => {
    for (const refusal of refusals) {
      const marker = uniqueId("refuse");
      const taskId = uniqueId("refused");
      const body = { code: refusal.code, msg: refusal.msg, data: { taskId } };
      await scriptProvider(marker, [
        {
          status: refusal.http,
          body,
          headers: refusal.retryAfter ? { "retry-after": refusal.retryAfter } : {},
        },
      ]);
      const response = await submit("/api/v1/generate", generate(marker));
      const label = `${refusal.http}/${refusal.code}`;
      expect(response.status, label).toBe(refusal.http);
      expect(await response.text(), label).toBe(JSON.stringify(body));
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(response.headers.get("retry-after")).toBe(refusal.retryAfter ?? null);
      expect(response.headers.get("stemvault-task-id")).toBeNull();
      expect(response.headers.get("location")).toBeNull();
      expect(await taskStub(env, taskId).status(), label).toBeNull();
    }
  });

  it("does not take a 200 without a valid task id for an acceptance", async () => {
    for (const data of [null, {}, { taskId: "" }, { taskId: "../x" }, { taskId: 42 }]) {
      const marker = uniqueId("noid");
      await scriptProvider(marker, [{ status: 200, body: { code: 200, msg: "success", data } }]);
      const response = await submit("/api/v1/generate", generate(marker));
      expect(response.status).toBe(200);
      expect(response.headers.get("stemvault-task-id")).toBeNull();
    }
  });

  it("replays a refusal for its key too", async () => {
    const marker = uniqueId("refuse-key");
    const key = uniqueId("key");
    await scriptProvider(marker, [
      { status: 429, body: { code: 429, msg: "Insufficient credits" }, headers: { "retry-after": "30" } },
    ]);
    await submit("/api/v1/generate", generate(marker), { key });
    const again = await submit("/api/v1/generate", generate(marker), { key });
    expect(again.status).toBe(429);
    expect(again.headers.get("retry-after")).toBe("30");
    expect(again.headers.get("stemvault-idempotent-replay")).toBe("true");
    expect(await providerCalls(marker)).toHaveLength(1);
  });

  it("answers 502 provider_unreachable when the connection cannot be made or is dropped", async () => {
    const closed = await submit("/api/v1/generate", generate(uniqueId("closed")), {
      vars: { PROVIDER_API_BASE: env.CLOSED_URL },
    });
    expect(closed.status).toBe(502);
    expect(await closed.json()).toMatchObject({ error: { code: "provider_unreachable" } });
    const marker = uniqueId("drop");
    await scriptProvider(marker, [{ status: 200, drop: true }]);
    const dropped = await submit("/api/v1/generate", generate(marker));
    expect(dropped.status).toBe(502);
    expect(await dropped.json()).toMatchObject({ error: { code: "provider_unreachable" } });
  });

  it("answers 503 provider_not_configured without PROVIDER_API_KEY, and calls nothing", async () => {
    const marker = uniqueId("nokey");
    const response = await submit("/api/v1/generate", generate(marker), { vars: { PROVIDER_API_KEY: "" } });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "provider_not_configured" } });
    expect(await providerCalls(marker)).toHaveLength(0);
  });
});

describe("what is not passed through", () => {
  it("answers 404 for any path off the list and for other methods", async () => {
    const marker = uniqueId("offlist");
    for (const path of [
      "/api/v1/generate/record-info",
      "/api/v1/generate/credit",
      "/api/v1/suno/voice/generate",
      "/api/v1/generate/",
      "/api/v1/GENERATE",
      "/",
    ]) {
      const response = await submit(path, generate(marker));
      expect(response.status, path).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
    }
    const get = await request("/provider/api/v1/generate", { headers: bearer });
    expect(get.status).toBe(404);
    expect(await providerCalls(marker)).toHaveLength(0);
  });

  it("requires the bearer token", async () => {
    const marker = uniqueId("auth");
    for (const authorization of [undefined, "Bearer wrong", "Basic dGVzdA=="]) {
      const response = await request("/provider/api/v1/generate", {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(generate(marker)),
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: "unauthorized" } });
    }
    expect(await providerCalls(marker)).toHaveLength(0);
  });

  it("refuses a body that is not a JSON object, or too large", async () => {
    const marker = uniqueId("body");
    expect((await submit("/api/v1/generate", null, { raw: `{nope ${marker}` })).status).toBe(400);
    const array = await submit("/api/v1/generate", [marker]);
    expect(array.status).toBe(400);
    expect(await array.json()).toMatchObject({ error: { code: "invalid_payload" } });
    const large = await submit("/api/v1/generate", generate(marker, { prompt: "x".repeat(300_000) }));
    expect(large.status).toBe(413);
    expect(await providerCalls(marker)).toHaveLength(0);
  });
});

describe("a registration that fails after the provider accepted", () => {
  it("still answers with the task id, and the submission's alarm registers the task", async () => {
    const marker = uniqueId("fault");
    const key = uniqueId("key");
    // The Worker's register RPC fails once (the task object is unreachable, say): a real failed
    // call, on the very namespace the request uses.
    vi.spyOn(env.TASKS, "getByName").mockImplementationOnce(
      () =>
        ({ register: () => Promise.reject(new Error("injected: the task object is unreachable")) }) as never,
    );
    const response = await submit("/api/v1/generate", generate(marker), { key, vars: {} });
    expect(response.status).toBe(200);
    const taskId = response.headers.get("stemvault-task-id") as string;
    expect(taskId).toBeTruthy();
    expect(await taskStub(env, taskId).status()).toBeNull();
    const stub = submissionStub(key);
    expect(await stub.pendingRegistrations()).toEqual([{ taskId, attempts: 0, lastError: null }]);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const status = await taskStub(env, taskId).status();
    expect(status).toMatchObject({ taskId, kind: "music", via: "submit", request: { title: "Night Walk" } });
    expect(await stub.pendingRegistrations()).toEqual([]);
    // The key still replays the answer, with the task id.
    const again = await submit("/api/v1/generate", generate(marker), { key });
    expect(again.headers.get("stemvault-task-id")).toBe(taskId);
  });
});
