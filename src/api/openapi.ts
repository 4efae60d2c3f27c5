import { type OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { AppEnv } from "../core/app-env";
import { Kind } from "../core/ids";
import { callbackSchemas } from "../providers/callback-schemas";
import { documentProvider } from "./provider-doc";
import { ErrorBody, TaskIdParam } from "./schemas";

/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of every route. The bearer routes are
 * `createRoute` definitions (their zod schemas validate the requests and make the document);
 * the routes whose handlers validate by hand — callbacks (the body is read raw and checked in
 * the order the source checks need), media (a streamed R2 object) and /healthz — are described
 * here with the schemas they use. Tests check the Worker's real answers against this document.
 */

const errors = (descriptions: Partial<Record<400 | 401 | 404 | 409 | 410 | 413 | 416 | 500 | 503, string>>) =>
  Object.fromEntries(
    Object.entries(descriptions).map(([status, description]) => [
      status,
      { description, content: { "application/json": { schema: ErrorBody } } },
    ]),
  );

export const CallbackAnswer = z
  .object({
    status: z.literal("received"),
    taskId: z.string().openapi({ example: "2fac9f72" }),
    /** True for a repeated delivery (and for a callback of a deleted task): nothing new was done. */
    duplicate: z.boolean(),
    recognized: z
      .literal(false)
      .optional()
      .openapi({
        description:
          "present (false) when the callback's shape is not one stemvault knows: it was kept raw on " +
          "the task, its allowed media URLs salvaged; a retry of the task parses it again",
      }),
  })
  .openapi("CallbackAnswer");

const Callback = z
  .union([
    callbackSchemas.music,
    callbackSchemas.separation,
    callbackSchemas.video,
    callbackSchemas.wav,
    callbackSchemas.cover,
    callbackSchemas.lyrics,
    callbackSchemas.midi,
    callbackSchemas.market,
  ])
  .openapi("Callback", {
    description:
      "A callback of sunoapi.org or kie.ai: music generation (`data.callbackType`), vocal " +
      "separation (`data.vocal_removal_info` / `vocal_separation_info`), music video " +
      "(`data.video_url`), WAV (`data.audioWavUrl` / `audio_wav_url`), cover images (`data.images`), " +
      "lyrics (`data.callbackType` with texts), MIDI (`data.instruments`), or a kie.ai Market job " +
      "(`data.callbackType: task_completed`, `data.resultJson`). Any other JSON body with a valid task " +
      "id is recorded too (`recognized: false`).",
  });

export const Health = z
  .object({
    ok: z.boolean(),
    checks: z.array(z.enum(["token", "hmac", "ip"])),
    problems: z.array(z.string()).optional(),
  })
  .openapi("Health");

const callbackErrors = errors({
  400:
    "`invalid_json`, `invalid_payload` (with `issues`; an authenticated body without a valid task id, " +
    "or contradicting `{kind}`, is kept in the quarantine), `too_many_assets`",
  401: "a configured source check failed (token, kie.ai HMAC, IP allowlist)",
  413: "`payload_too_large`: the body exceeds MAX_CALLBACK_BYTES",
  500: "not recorded: the provider should retry",
  503: "`receiver_not_configured`",
});

const KieHeaders = z.object({
  "x-webhook-timestamp": z.string().optional().openapi({ description: "kie.ai: unix seconds" }),
  "x-webhook-signature": z.string().optional().openapi({
    description:
      "kie.ai: base64 HMAC-SHA256 of `<taskId>.<timestamp>` (required when WEBHOOK_HMAC_KEY is set)",
  }),
});

export function documentApi(app: OpenAPIHono<AppEnv>): void {
  const registry = app.openAPIRegistry;
  registry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "API_TOKEN",
  });
  registry.registerComponent("securitySchemes", "callbackToken", {
    type: "apiKey",
    in: "query",
    name: "token",
    description: "one of CALLBACK_TOKENS, in the callBackUrl given to the provider",
  });
  registry.registerComponent("securitySchemes", "kieSignature", {
    type: "apiKey",
    in: "header",
    name: "X-Webhook-Signature",
    description: "kie.ai webhook HMAC (with X-Webhook-Timestamp), checked when WEBHOOK_HMAC_KEY is set",
  });
  registry.registerComponent("securitySchemes", "signedLink", {
    type: "apiKey",
    in: "query",
    name: "sig",
    description: "the signed, expiring link of `assets[].url` (`expires` and `sig`)",
  });

  const callbackDoc = (path: string, params?: z.ZodObject): RouteConfig => ({
    method: "post" as const,
    path,
    tags: ["callbacks"],
    summary: "Receive a provider callback",
    description:
      "Every configured source check must pass (token, kie.ai HMAC, IP allowlist); with none " +
      "configured the receiver answers 503. A 200 means recorded durably and its media enqueued.",
    security: [{ callbackToken: [] }, { kieSignature: [] }] as Record<string, string[]>[],
    request: {
      params,
      headers: KieHeaders,
      body: { required: true, content: { "application/json": { schema: Callback } } },
    },
    responses: {
      200: { description: "recorded", content: { "application/json": { schema: CallbackAnswer } } },
      ...callbackErrors,
    },
  });
  registry.registerPath(callbackDoc("/callbacks"));
  registry.registerPath(
    callbackDoc(
      "/callbacks/{kind}",
      z.object({
        kind: Kind.openapi({
          param: { name: "kind", in: "path" },
          description: "a payload of another kind is a 400",
        }),
      }),
    ),
  );

  const MediaParams = z.object({
    key: z.string().openapi({
      param: { name: "key", in: "path" },
      description: "the R2 key (it contains slashes), e.g. `music/<taskId>/<trackId>/audio.mp3`",
      example: "video/2fac9f72/video.mp4",
    }),
  });
  const MediaQuery = z.object({
    expires: z.string().optional().openapi({ description: "signed link: expiry, unix seconds" }),
    sig: z.string().optional().openapi({ description: "signed link: base64url HMAC-SHA256" }),
  });
  const mediaResponses = {
    200: {
      description: "the archived file (Accept-Ranges: bytes, ETag)",
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
    206: {
      description: "the requested byte range (Content-Range)",
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
    304: { description: "not modified (If-None-Match)" },
    ...errors({
      401: "no bearer token and no valid signed link",
      404: "no such object (also for a deleted task, and for keys outside the archive's layout)",
      416: "`range_not_satisfiable`",
    }),
  };
  for (const method of ["get", "head"] as const) {
    registry.registerPath({
      method,
      path: "/media/{key}",
      tags: ["media"],
      summary: method === "get" ? "Stream an archived file" : "An archived file's headers",
      security: [{ bearer: [] }, { signedLink: [] }],
      request: { params: MediaParams, query: MediaQuery },
      responses: mediaResponses,
    });
  }

  const BundleQuery = MediaQuery.extend({
    partial: z.enum(["true", "false"]).optional().openapi({
      description:
        "`true`: the files stored so far, for a task not fully archived (its manifest lists what is missing)",
    }),
  });
  const bundleResponses = {
    200: {
      description:
        "a ZIP (entries stored, CRC-32 checked, ZIP64 when needed) of every stored file and `manifest.json`, " +
        'streamed from R2 with an exact Content-Length; `Content-Disposition: attachment; filename="<taskId>.zip"`',
      content: { "application/zip": { schema: z.string().openapi({ format: "binary" }) } },
    },
    304: { description: "not modified (If-None-Match): the same set of files" },
    ...errors({
      400: "`invalid_task_id`, `invalid_query`",
      401: "no bearer token and no valid signed link",
      404: "`task_not_found`",
      409: "`not_archived`: some file is not stored yet (`issues` names each), and `partial` is not `true`",
      410: "`task_deleted`",
    }),
  };
  for (const method of ["get", "head"] as const) {
    registry.registerPath({
      method,
      path: "/tasks/{taskId}/bundle.zip",
      tags: ["media"],
      summary: method === "get" ? "Download a task's files as one ZIP" : "A task's ZIP: its length and ETag",
      description:
        "Entry names: music `<title or trackId>/audio.<ext>` and `…/cover.<ext>` (titles made safe, " +
        "duplicates numbered ` (2)`), separation `<stem>.<ext>`, video `video.mp4`, other kinds the key's " +
        "file name; plus `manifest.json`. A task not fully archived is a 409 `not_archived` (`issues` names " +
        "each missing asset) unless `partial=true`. The status JSON's `bundle.url` is a signed link to it.",
      security: [{ bearer: [] }, { signedLink: [] }],
      request: { params: TaskIdParam, query: BundleQuery },
      responses: bundleResponses,
    });
  }

  documentProvider(registry);

  registry.registerPath({
    method: "get",
    path: "/quarantine/{day}/{file}",
    tags: ["quarantine"],
    summary: "One quarantined callback body, as it arrived (an attachment)",
    security: [{ bearer: [] }],
    request: {
      params: z.object({
        day: z.string().openapi({ param: { name: "day", in: "path" }, example: "2026-11-30" }),
        file: z.string().openapi({
          param: { name: "file", in: "path" },
          description: "`<sha256 of the body>.json`",
        }),
      }),
    },
    responses: {
      200: {
        description: "the raw body, any JSON, as it arrived (Content-Disposition: attachment)",
        content: { "application/json": { schema: z.unknown() } },
      },
      ...errors({ 401: "missing or invalid bearer token", 404: "no such quarantined body" }),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/healthz",
    tags: ["health"],
    summary: "Whether the receiver can accept callbacks, and which source checks are configured",
    responses: {
      200: { description: "ready", content: { "application/json": { schema: Health } } },
      503: {
        description: "not ready: `problems` names each setting at fault (never its value)",
        content: { "application/json": { schema: Health } },
      },
    },
  });
  registry.registerPath({
    method: "get",
    path: "/openapi.json",
    tags: ["meta"],
    summary: "This document",
    responses: {
      200: {
        description: "OpenAPI 3.1",
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
    },
  });

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "stemvault",
      version: "1",
      description:
        "Receives Suno-style music API callbacks, archives every media file into R2 and serves the archive. " +
        'Errors are `{"error": {"code", "message", "issues"?}}`.',
    },
  });
}
