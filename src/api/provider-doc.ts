import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../core/app-env";
import { SUBMIT_ENDPOINTS } from "../providers/submit-endpoints";
import { ErrorBody } from "./schemas";

/**
 * The OpenAPI description of `POST /provider/<path>`. The bodies are the provider's own, so they
 * are typed loosely (an object; `callBackUrl` is replaced); the answers are the provider's
 * envelope, passed through with its status, or stemvault's error JSON.
 */

const ProviderRequest = z
  .looseObject({
    callBackUrl: z.string().optional().openapi({
      description: "ignored: stemvault sets it to its own `/callbacks/<kind>?token=…`",
    }),
  })
  .openapi("ProviderRequest", {
    description:
      "The provider's own request body (sunoapi.org / kie.ai), passed on unchanged but for `callBackUrl`.",
    example: { customMode: false, instrumental: false, model: "V4_5", prompt: "a calm piano piece" },
  });

const ProviderAnswer = z
  .looseObject({
    code: z.number().int().openapi({ description: "the provider's status inside the JSON; 200 = accepted" }),
    msg: z.string().nullish(),
    data: z.unknown().optional(),
  })
  .openapi("ProviderAnswer", {
    description: "The provider's answer, unchanged.",
    example: { code: 200, msg: "success", data: { taskId: "2fac9f72" } },
  });

const providerAnswer = (description: string) => ({
  description,
  content: { "application/json": { schema: ProviderAnswer } },
});
const error = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorBody } },
});
const errorOrPassedThrough = (description: string) => ({
  description,
  content: { "application/json": { schema: z.union([ErrorBody, ProviderAnswer]) } },
});
const passedThrough = (what: string) => providerAnswer(`the provider's refusal, passed through: ${what}`);

const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({
      description:
        "1-255 visible ASCII characters. The first request with a key reaches the provider once; " +
        "the same key and body within 24 h get the recorded answer again " +
        "(`stemvault-idempotent-replay: true`), another body is a 422, a request still in flight a 409.",
    }),
});

const answerHeaders = {
  "stemvault-task-id": { description: "the accepted job's task id", schema: { type: "string" as const } },
  location: { description: "`/tasks/<taskId>`: the task's status", schema: { type: "string" as const } },
  "stemvault-idempotent-replay": {
    description: "`true` when this is the recorded answer of an earlier request with the key",
    schema: { type: "string" as const },
  },
};

export function documentProvider(registry: OpenAPIHono<AppEnv>["openAPIRegistry"]): void {
  for (const entry of SUBMIT_ENDPOINTS) {
    const kind =
      entry.kind === "market"
        ? "the kind comes from `model`: Suno models (`ai-music-api/…`, any id naming suno) are `music`; " +
          "for other models the callbacks go to `/callbacks` and the payload decides"
        : `kind \`${entry.kind}\`: callbacks go to \`/callbacks/${entry.kind}\``;
    registry.registerPath({
      method: "post",
      path: `/provider${entry.path}`,
      tags: ["submit"],
      summary: `${entry.summary} through stemvault`,
      description:
        `Forwards the body to \`PROVIDER_API_BASE${entry.path}\` with \`PROVIDER_API_KEY\`, ` +
        `\`callBackUrl\` set to this receiver (${kind}). When the provider accepts (HTTP 2xx, ` +
        "envelope `code` 200, `data.taskId`), the task is registered before this answers.",
      security: [{ bearer: [] }],
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, content: { "application/json": { schema: ProviderRequest } } },
      },
      responses: {
        200: {
          ...providerAnswer("the provider's answer (accepted, or a refusal inside the envelope)"),
          headers: answerHeaders,
        },
        400: errorOrPassedThrough(
          "`invalid_idempotency_key`, `invalid_json`, `invalid_payload` — or the provider's 400, passed through",
        ),
        401: errorOrPassedThrough("missing or invalid bearer token — or the provider's 401, passed through"),
        402: passedThrough("insufficient credits"),
        405: passedThrough("rate limited"),
        409: error("`idempotency_in_flight`: the first request with this key is still waiting"),
        413: error("`payload_too_large`"),
        422: error("`idempotency_key_reused`: this key was used with another body"),
        429: passedThrough("insufficient credits or too many requests (`Retry-After` kept)"),
        430: passedThrough("call frequency too high"),
        455: passedThrough("maintenance"),
        500: passedThrough("the provider's server error"),
        502: error("`provider_unreachable`: no connection to the provider could be made"),
        503: errorOrPassedThrough(
          "`provider_not_configured` (no PROVIDER_API_KEY), `receiver_not_configured`, " +
            "`api_not_configured` — or the provider's 503, passed through",
        ),
        504: error("`provider_timeout`: no answer in time; the outcome is unknown and replayed for the key"),
      },
    });
  }
}
