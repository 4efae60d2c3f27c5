import { describe, expect, it } from "vitest";
import {
  acceptedTaskId,
  callbackUrl,
  jobKind,
  marketKind,
  requestFields,
  SUBMIT_ENDPOINTS,
  submitEndpoint,
} from "../../src/providers/submit-endpoints";

describe("the submit endpoints", () => {
  it("is the closed list of PROVIDERS.md §9.1, each with its kind and callBackUrl", () => {
    expect(SUBMIT_ENDPOINTS.map((entry) => [entry.path, entry.kind])).toEqual([
      ["/api/v1/generate", "music"],
      ["/api/v1/generate/extend", "music"],
      ["/api/v1/generate/upload-cover", "music"],
      ["/api/v1/generate/upload-extend", "music"],
      ["/api/v1/generate/add-instrumental", "music"],
      ["/api/v1/generate/add-vocals", "music"],
      ["/api/v1/generate/replace-section", "music"],
      ["/api/v1/vocal-removal/generate", "separation"],
      ["/api/v1/mp4/generate", "video"],
      ["/api/v1/wav/generate", "wav"],
      ["/api/v1/lyrics", "lyrics"],
      ["/api/v1/midi/generate", "midi"],
      ["/api/v1/suno/cover/generate", "cover"],
      ["/api/v1/jobs/createTask", "market"],
    ]);
    expect(new Set(SUBMIT_ENDPOINTS.map((entry) => entry.callbackField))).toEqual(new Set(["callBackUrl"]));
  });

  it("finds only exact listed paths", () => {
    expect(submitEndpoint("/api/v1/generate")?.kind).toBe("music");
    for (const path of ["/api/v1/generate/", "/api/v1/generate/record-info", "/API/V1/GENERATE", "", "/"]) {
      expect(submitEndpoint(path), path).toBeNull();
    }
  });

  it("maps Market models: Suno's to music, the rest to none", () => {
    expect(marketKind("ai-music-api/generate")).toBe("music");
    expect(marketKind("suno/v6")).toBe("music");
    expect(marketKind(" Suno-V5 ")).toBe("music");
    expect(marketKind("flux-kontext-pro")).toBeNull();
    expect(marketKind(undefined)).toBeNull();
    expect(marketKind(42)).toBeNull();
    const market = submitEndpoint("/api/v1/jobs/createTask");
    if (!market) throw new Error("no market endpoint");
    expect(jobKind(market, { model: "ai-music-api/extend" })).toBe("music");
    expect(jobKind(market, { model: "veo3" })).toBeNull();
  });

  it("builds the callback URL on the base, with the token encoded", () => {
    expect(callbackUrl("https://w.example/", "video", "a b&c")).toBe(
      "https://w.example/callbacks/video?token=a%20b%26c",
    );
    expect(callbackUrl("https://w.example", null, "t")).toBe("https://w.example/callbacks?token=t");
    expect(callbackUrl("https://w.example", "music", null)).toBe("https://w.example/callbacks/music");
  });
});

describe("the request a task keeps", () => {
  it("keeps the non-secret fields and drops callBackUrl and credentials", () => {
    expect(
      requestFields({
        prompt: "p",
        model: "V5",
        title: "t",
        style: "s",
        tags: "a,b",
        instrumental: false,
        continueAt: 12.5,
        callBackUrl: "https://x",
        apiKey: "k",
        access_token: "k",
        password: "k",
        uploadUrl: "https://user:pass@files.example/a.mp3?x=1",
        input: { prompt: "q", task_id: "t1", api_key: "k", list: [1, "a"], deep: { deeper: 1 } },
      }),
    ).toEqual({
      prompt: "p",
      model: "V5",
      title: "t",
      style: "s",
      tags: "a,b",
      instrumental: false,
      continueAt: 12.5,
      uploadUrl: "https://files.example/a.mp3?x=1",
      input: { prompt: "q", task_id: "t1", list: [1, "a"], deep: '{"deeper":1}' },
    });
  });

  it("cuts long strings", () => {
    const kept = requestFields({ fullLyrics: "x".repeat(5000) });
    expect(kept.fullLyrics).toHaveLength(2001);
  });
});

describe("acceptance", () => {
  const ok = { code: 200, msg: "success", data: { taskId: "abc-123" } };
  it("needs HTTP 2xx, envelope code 200 and a valid data.taskId", () => {
    expect(acceptedTaskId(200, ok)).toBe("abc-123");
    expect(acceptedTaskId(201, ok)).toBe("abc-123");
    expect(acceptedTaskId(400, ok)).toBeNull();
    expect(acceptedTaskId(200, { ...ok, code: 429 })).toBeNull();
    expect(acceptedTaskId(200, { ...ok, code: "200" })).toBeNull();
    expect(acceptedTaskId(200, { code: 200, data: null })).toBeNull();
    expect(acceptedTaskId(200, { code: 200, data: { task_id: "abc" } })).toBeNull();
    expect(acceptedTaskId(200, { code: 200, data: { taskId: "a/b" } })).toBeNull();
    expect(acceptedTaskId(200, undefined)).toBeNull();
  });
});
