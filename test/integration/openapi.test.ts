import { afterAll, beforeAll, describe, expect, it } from "vitest";
import committed from "../../openapi.json";
import { app } from "../../src/app";
import { SUBMIT_ENDPOINTS } from "../../src/providers/submit-endpoints";
import kieMusicText from "../../support/fixtures/kie.music.text.json";
import { seedEvent } from "../helpers/events";
import { originBytes } from "../helpers/media";
import { DocumentedAnswers, type OpenApiDocument } from "../helpers/openapi";
import { scriptProvider, submit } from "../helpers/submit";
import { archiveUrl } from "../helpers/tasks";
import { bearer, postCallback, request, uniqueId, withTaskId } from "../helpers/worker";

let document: OpenApiDocument;
let answers: DocumentedAnswers;

beforeAll(async () => {
  const response = await request("/openapi.json");
  expect(response.status).toBe(200);
  document = (await response.json()) as OpenApiDocument;
  answers = new DocumentedAnswers(document);
});

afterAll(() => {
  // Every operation of the document was answered at least once with a documented 2xx.
  expect(answers.unexercised()).toEqual([]);
});

const json = { ...bearer, "content-type": "application/json" };

describe("GET /openapi.json", () => {
  it("is the committed openapi.json (run `npm run openapi` after changing a route)", () => {
    expect(document).toEqual(committed);
  });

  it("is OpenAPI 3.1 with the bearer and callback-token security schemes", async () => {
    expect(document.openapi).toBe("3.1.0");
    expect(document.components.securitySchemes).toMatchObject({
      bearer: { type: "http", scheme: "bearer" },
      callbackToken: { type: "apiKey", in: "query", name: "token" },
    });
    await answers.check("get", "/openapi.json", await request("/openapi.json"));
  });

  it("documents every route the Worker has", () => {
    const routes = new Set(
      app.routes
        .filter((route) => route.method !== "ALL")
        .map((route) => {
          const path = route.path
            .replace(/\/:(\w+)(\{[^}]*\})?/g, "/{$1}")
            .replace(/^\/media\/\*$/, "/media/{key}");
          return `${route.method.toLowerCase()} ${path}`;
        }),
    );
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`)),
    );
    expect([...routes].sort()).toEqual([...documented].sort());
  });
});

describe("the Worker's answers match the document", () => {
  it("GET /healthz", async () => {
    expect(await answers.check("get", "/healthz", await request("/healthz"))).toMatchObject({ ok: true });
  });

  it("POST /callbacks and /callbacks/{kind}", async () => {
    const taskId = uniqueId("doc-cb");
    await answers.check("post", "/callbacks", await postCallback(withTaskId(kieMusicText, taskId)));
    await answers.check("post", "/callbacks", await postCallback(null, { raw: "{nope" }));
    await answers.check("post", "/callbacks", await postCallback({ code: 200 }));
    await answers.check("post", "/callbacks", await postCallback({}, { token: null }));
    await answers.check("post", "/callbacks", await postCallback({}, { raw: "x".repeat(300_000) }));
    await answers.check(
      "post",
      "/callbacks",
      await postCallback(withTaskId(kieMusicText, taskId), { vars: { CALLBACK_TOKENS: "" } }),
    );
    const video = {
      code: 200,
      msg: "MP4 generated successfully.",
      data: { task_id: uniqueId("doc-video"), video_url: originBytes("doc.mp4", 100, 1) },
    };
    await answers.check("post", "/callbacks/{kind}", await postCallback(video, { kind: "video" }));
    await answers.check("post", "/callbacks/{kind}", await postCallback(video, { kind: "music" }));
    const unknownShape = { code: 200, data: { task_id: uniqueId("doc-unknown"), novel: true } };
    await answers.check("post", "/callbacks", await postCallback(unknownShape));
  });

  it("the quarantine", async () => {
    const raw = JSON.stringify({ code: 200, data: { marker: uniqueId("doc-q") } });
    await answers.check("post", "/callbacks", await postCallback(null, { raw }));
    const listed = (await answers.check(
      "get",
      "/quarantine",
      await request("/quarantine?limit=200", { headers: bearer }),
    )) as { items: { key: string }[] };
    await answers.check("get", "/quarantine", await request("/quarantine"));
    await answers.check("get", "/quarantine", await request("/quarantine?limit=0", { headers: bearer }));
    const key = listed.items[0]?.key as string;
    const path = "/quarantine/{day}/{file}";
    await answers.check("get", path, await request(`/${key}`, { headers: bearer }));
    await answers.check("get", path, await request(`/${key}`));
    await answers.check("get", path, await request("/quarantine/2026-01-01/none.json", { headers: bearer }));
  });

  it("POST /provider/… (each submit endpoint)", async () => {
    for (const entry of SUBMIT_ENDPOINTS) {
      const path = `/provider${entry.path}`;
      const body = { model: "ai-music-api/generate", prompt: uniqueId("doc-submit"), input: {} };
      await answers.check("post", path, await submit(entry.path, body));
    }
    const path = "/provider/api/v1/generate";
    const key = uniqueId("doc-key");
    const body = { prompt: uniqueId("doc-submit") };
    await answers.check("post", path, await submit("/api/v1/generate", body, { key }));
    await answers.check("post", path, await submit("/api/v1/generate", body, { key }));
    await answers.check("post", path, await submit("/api/v1/generate", { other: 1 }, { key }));
    await answers.check("post", path, await submit("/api/v1/generate", body, { key: "bad key" }));
    await answers.check("post", path, await submit("/api/v1/generate", null, { raw: "{nope" }));
    await answers.check(
      "post",
      path,
      await submit("/api/v1/generate", body, { vars: { PROVIDER_API_KEY: "" } }),
    );
    await answers.check("post", path, await request(path, { method: "POST", body: "{}" }));
    const marker = uniqueId("doc-refusal");
    await scriptProvider(marker, [{ status: 429, body: { code: 429, msg: "Insufficient credits" } }]);
    await answers.check("post", path, await submit("/api/v1/generate", { prompt: marker }));
  });

  it("the task routes", async () => {
    const { taskId, asset } = await archiveUrl(originBytes("doc.mp3", 2000, 3, { type: "audio/mpeg" }));
    const status = (await answers.check(
      "get",
      "/tasks/{taskId}",
      await request(`/tasks/${taskId}`, { headers: bearer }),
    )) as {
      assets: { url: string }[];
      bundle: { url: string };
    };
    expect(status.assets[0]?.url).toMatch(/^\/media\//);
    await answers.check("get", "/tasks/{taskId}", await request(`/tasks/${uniqueId()}`, { headers: bearer }));
    await answers.check("get", "/tasks/{taskId}", await request("/tasks/a.b", { headers: bearer }));
    await answers.check("get", "/tasks/{taskId}", await request(`/tasks/${taskId}`));

    const fresh = uniqueId("doc-reg");
    const register = (body: unknown) =>
      request("/tasks", { method: "POST", headers: json, body: JSON.stringify(body) });
    await answers.check("post", "/tasks", await register({ taskId: fresh, kind: "music" }));
    await answers.check("post", "/tasks", await register({ taskId: fresh, kind: "music" }));
    await answers.check("post", "/tasks", await register({ taskId: fresh, kind: "video" }));
    await answers.check("post", "/tasks", await register({ taskId: "../x", kind: "music" }));

    await answers.check("get", "/tasks", await request(`/tasks?q=${taskId}`, { headers: bearer }));
    await answers.check("get", "/tasks", await request("/tasks?limit=1", { headers: bearer }));
    await answers.check("get", "/tasks", await request("/tasks?limit=0", { headers: bearer }));
    await answers.check("get", "/tasks", await request("/tasks"));

    const retry = (id: string) => request(`/tasks/${id}/retry`, { method: "POST", headers: bearer });
    await answers.check("post", "/tasks/{taskId}/retry", await retry(taskId));
    await answers.check("post", "/tasks/{taskId}/retry", await retry(uniqueId()));

    const key = asset.key as string;
    const media = (init: RequestInit = {}) => request(`/media/${key}`, { headers: bearer, ...init });
    await answers.check("get", "/media/{key}", await media());
    await answers.check("head", "/media/{key}", await media({ method: "HEAD" }));
    await answers.check("get", "/media/{key}", await media({ headers: { ...bearer, range: "bytes=0-9" } }));
    await answers.check("get", "/media/{key}", await media({ headers: { ...bearer, range: "bytes=9999-" } }));
    const etag = (await media({ method: "HEAD" })).headers.get("etag") as string;
    await answers.check(
      "get",
      "/media/{key}",
      await media({ headers: { ...bearer, "if-none-match": etag } }),
    );
    await answers.check("get", "/media/{key}", await request(`/media/${key}`));
    await answers.check("get", "/media/{key}", await request(status.assets[0]?.url as string));
    await answers.check(
      "get",
      "/media/{key}",
      await request("/media/video/nope/video.mp4", { headers: bearer }),
    );

    const bundle = (id: string, init: RequestInit = {}) =>
      request(`/tasks/${id}/bundle.zip`, { headers: bearer, ...init });
    const zip = "/tasks/{taskId}/bundle.zip";
    await answers.check("get", zip, await bundle(taskId));
    await answers.check("head", zip, await bundle(taskId, { method: "HEAD" }));
    const zipEtag = (await bundle(taskId, { method: "HEAD" })).headers.get("etag") as string;
    await answers.check(
      "get",
      zip,
      await bundle(taskId, { headers: { ...bearer, "if-none-match": zipEtag } }),
    );
    await answers.check("get", zip, await request(status.bundle.url));
    await answers.check("get", zip, await request(`/tasks/${taskId}/bundle.zip`));
    await answers.check("get", zip, await bundle(fresh));
    await answers.check("get", zip, await bundle(uniqueId()));
    await answers.check("get", zip, await bundle("a.b"));

    const { taskId: evtTask, eventId } = await seedEvent();
    const redeliver = (task: string, event: string) =>
      request(`/tasks/${task}/events/${event}/redeliver`, { method: "POST", headers: bearer });
    const path = "/tasks/{taskId}/events/{eventId}/redeliver";
    await answers.check("post", path, await redeliver(evtTask, eventId));
    await answers.check("post", path, await redeliver(evtTask, "evt_unknown"));
    await answers.check("post", path, await redeliver(uniqueId(), eventId));

    const remove = (id: string) => request(`/tasks/${id}`, { method: "DELETE", headers: bearer });
    await answers.check("delete", "/tasks/{taskId}", await remove(taskId));
    await answers.check("delete", "/tasks/{taskId}", await remove(taskId));
    await answers.check("delete", "/tasks/{taskId}", await remove(uniqueId()));
    await answers.check("get", "/tasks/{taskId}", await request(`/tasks/${taskId}`, { headers: bearer }));
    await answers.check("post", "/tasks/{taskId}/retry", await retry(taskId));
    await answers.check("get", zip, await bundle(taskId));
  });
});
