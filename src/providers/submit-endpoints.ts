import { z } from "zod";
import { TaskId } from "../core/ids";
import { scrubCredentials } from "../core/redact";

/**
 * The providers' submit endpoints that stemvault passes through (PROVIDERS.md §9.1): a closed
 * list, so `POST /provider/<path>` is never an open proxy. Each endpoint names the kind of the
 * job it starts, i.e. the callback route its `callBackUrl` points at. Pure data and functions:
 * no I/O, unit tested.
 */

/**
 * Every kind a submitted job can produce. The task model may know fewer of them at a given
 * version (`registrableKind` decides); the callback URL is right for all of them regardless.
 */
export type SubmitKind = "music" | "separation" | "video" | "wav" | "cover" | "lyrics" | "midi";

export interface SubmitEndpoint {
  /** The provider's path, the same on sunoapi.org and kie.ai. */
  path: string;
  /** The job's kind; `market` for kie.ai Market jobs, whose kind comes from the body's `model`. */
  kind: SubmitKind | "market";
  /** The body field that carries the callback URL (spelled the same on every listed endpoint). */
  callbackField: "callBackUrl";
  /** One line for the OpenAPI document. */
  summary: string;
}

const endpoint = (path: string, kind: SubmitEndpoint["kind"], summary: string): SubmitEndpoint => ({
  path,
  kind,
  callbackField: "callBackUrl",
  summary,
});

export const SUBMIT_ENDPOINTS: readonly SubmitEndpoint[] = [
  endpoint("/api/v1/generate", "music", "Generate music"),
  endpoint("/api/v1/generate/extend", "music", "Extend a track"),
  endpoint("/api/v1/generate/upload-cover", "music", "Upload and cover audio"),
  endpoint("/api/v1/generate/upload-extend", "music", "Upload and extend audio"),
  endpoint("/api/v1/generate/add-instrumental", "music", "Add an instrumental"),
  endpoint("/api/v1/generate/add-vocals", "music", "Add vocals"),
  endpoint("/api/v1/generate/replace-section", "music", "Replace a section of a track"),
  endpoint("/api/v1/vocal-removal/generate", "separation", "Separate vocals or split stems"),
  endpoint("/api/v1/mp4/generate", "video", "Make a music video"),
  endpoint("/api/v1/wav/generate", "wav", "Convert a track to WAV"),
  endpoint("/api/v1/lyrics", "lyrics", "Generate lyrics"),
  endpoint("/api/v1/midi/generate", "midi", "Generate MIDI from a split_stem separation"),
  endpoint("/api/v1/suno/cover/generate", "cover", "Generate cover images for a music task"),
  endpoint("/api/v1/jobs/createTask", "market", "Create a kie.ai Market job (kind from `model`)"),
];

const BY_PATH = new Map(SUBMIT_ENDPOINTS.map((entry) => [entry.path, entry]));

/** The listed endpoint at exactly `path`, or null: anything else is not passed through. */
export const submitEndpoint = (path: string): SubmitEndpoint | null => BY_PATH.get(path) ?? null;

/**
 * The kind of a kie.ai Market job from its `model`. Suno's models on Market (`ai-music-api/…`,
 * or any id naming suno) produce music; for every other model stemvault does not know what the
 * job makes, so its callbacks go to `/callbacks` without a kind and the payload decides.
 */
export function marketKind(model: unknown): "music" | null {
  if (typeof model !== "string") return null;
  const id = model.trim().toLowerCase();
  return id.startsWith("ai-music-api/") || id.includes("suno") ? "music" : null;
}

/**
 * The kind of the job a submitted body starts: the endpoint's, or for Market the model's.
 * null: unknown (a Market job of a model stemvault does not map).
 */
export function jobKind(entry: SubmitEndpoint, body: Record<string, unknown>): SubmitKind | null {
  return entry.kind === "market" ? marketKind(body.model) : entry.kind;
}

/**
 * The URL the provider is given: `/callbacks/<kind>` (or `/callbacks` when the kind is unknown)
 * on `base`, with the first callback token when tokens are configured.
 */
export function callbackUrl(base: string, kind: SubmitKind | null, token: string | null): string {
  const path = kind ? `/callbacks/${kind}` : "/callbacks";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${base.replace(/\/+$/, "")}${path}${query}`;
}

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const Field = z.union([Scalar, z.array(Scalar), z.record(z.string(), z.union([Scalar, z.array(Scalar)]))]);

/**
 * A submitted request as a task keeps it: fields of scalars, lists, and one level of objects
 * (Market's `input`); anything nested deeper is kept as its JSON text. Bounded, so that it can
 * cross RPC and the status JSON as plain data.
 */
export const SubmittedRequest = z.record(z.string(), Field);
export type SubmittedRequest = z.infer<typeof SubmittedRequest>;

/** Keys whose values are never kept in the task's `request`: credentials and the callback URL. */
const SECRET_KEY =
  /callbackurl|calbackurl|token|secret|password|passwd|api_?key|apikey|auth|signature|cookie/i;
/** Longer strings are cut, so that a task's `request` (e.g. full lyrics) stays small. */
const MAX_STRING = 2000;
const MAX_ITEMS = 50;

const cut = (text: string) => (text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}…` : text);

function scalar(value: unknown): z.infer<typeof Scalar> {
  if (typeof value === "string") return cut(scrubCredentials(value));
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  return cut(JSON.stringify(value) ?? "null");
}

const withoutSecrets = (value: object) => Object.entries(value).filter(([key]) => !SECRET_KEY.test(key));

function field(value: unknown, depth: number): z.infer<typeof Field> {
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map(scalar);
  if (value && typeof value === "object" && depth === 0) {
    return Object.fromEntries(withoutSecrets(value).map(([key, inner]) => [key, field(inner, 1) as never]));
  }
  return scalar(value);
}

/**
 * The submitted body as the task keeps it (its status JSON's `request`): the non-secret fields
 * (prompt, model, title, style, tags, Market `input` …), without `callBackUrl`, without any key
 * that names a credential, URLs without a `user:pass@`, long strings cut.
 */
export function requestFields(body: Record<string, unknown>): SubmittedRequest {
  return Object.fromEntries(withoutSecrets(body).map(([key, value]) => [key, field(value, 0)]));
}

/**
 * The task id of an accepted submission, or null for a refusal. Accepted means HTTP 2xx AND
 * envelope `code` 200 AND `data.taskId` a valid task id (PROVIDERS.md §9.1): whether the HTTP
 * status mirrors the envelope is not documented, so both must say yes.
 */
export function acceptedTaskId(httpStatus: number, body: unknown): string | null {
  if (httpStatus < 200 || httpStatus > 299) return null;
  if (!body || typeof body !== "object") return null;
  const envelope = body as { code?: unknown; data?: unknown };
  if (envelope.code !== 200 || !envelope.data || typeof envelope.data !== "object") return null;
  const taskId = (envelope.data as { taskId?: unknown }).taskId;
  return TaskId.safeParse(taskId).success ? (taskId as string) : null;
}
