import { z } from "zod";
import { type EventsConfig, eventsSettings } from "./events-config";
import { type IpRange, parseIpRanges } from "./ip-ranges";

/**
 * Every setting of the Worker, validated once per env object. Defaults live here and only here
 * (wrangler.toml's `[vars]` override them). A malformed value is never replaced by its default:
 * it becomes a `problem`, and the receiver refuses callbacks until it is fixed (see `/healthz`).
 * Problems name the setting, never its value.
 */

const list = (value: string) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** Unset and blank are the same: "not configured". */
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value && value.trim() !== "" ? value.trim() : null));

const withDefault = <T extends z.ZodType<unknown, string>>(fallback: string, schema: T) =>
  z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === "" ? fallback : value.trim()))
    .pipe(schema);

const positiveInt = (fallback: number) =>
  withDefault(
    String(fallback),
    z.string().regex(/^\d+$/, "must be a positive integer").transform(Number),
  ).pipe(z.number().int().positive("must be a positive integer"));

const flag = (fallback: boolean) =>
  withDefault(String(fallback), z.enum(["true", "false"], "must be true or false")).transform(
    (v) => v === "true",
  );

const httpUrl = (fallback: string) =>
  withDefault(fallback, z.url({ protocol: /^https?$/, error: "must be an http(s) URL" })).transform((url) =>
    url.replace(/\/+$/, ""),
  );

const ipList = optionalText.transform((value, ctx): IpRange[] => {
  try {
    return parseIpRanges(value ? list(value) : []);
  } catch {
    ctx.addIssue({ code: "custom", message: "must be comma-separated IP addresses or CIDR ranges" });
    return z.NEVER;
  }
});

const Settings = z.object({
  // Secrets (wrangler secret put).
  CALLBACK_TOKENS: optionalText.transform((value) => (value ? list(value) : [])),
  WEBHOOK_HMAC_KEY: optionalText,
  API_TOKEN: optionalText,
  MEDIA_SIGNING_KEY: optionalText,
  PROVIDER_API_KEY: optionalText,
  EVENTS_SECRET: optionalText,
  // Vars (wrangler.toml [vars]); the contract's defaults.
  SIGNATURE_TOLERANCE_SECONDS: positiveInt(300),
  ALLOWED_SOURCE_IPS: ipList,
  MEDIA_HOSTS: withDefault(
    "aiquickdraw.com,api.box,kie.ai,removeai.ai,suno.ai,erweima.ai",
    z.string(),
  ).transform((value) => list(value).map((host) => host.toLowerCase().replace(/^\.+/, ""))),
  MAX_MEDIA_BYTES: positiveInt(2 ** 31),
  MAX_CALLBACK_BYTES: positiveInt(262_144),
  MAX_ASSETS_PER_TASK: positiveInt(64),
  MEDIA_IDLE_TIMEOUT_SECONDS: positiveInt(60),
  PROVIDER_API_BASE: httpUrl("https://api.sunoapi.org"),
  RECONCILE_AFTER_SECONDS: positiveInt(600),
  CONFIRM_WITH_PROVIDER: flag(false),
  MEDIA_LINK_TTL_SECONDS: positiveInt(86_400),
  EVENTS_URL: optionalText,
  PUBLIC_URL: optionalText,
  // Development and test knobs (not in the contract; see env.ts).
  LOCAL_DEV: flag(false),
  RETRY_BASE_SECONDS: withDefault(
    "15",
    z.string().regex(/^\d+$/, "must be a whole number").transform(Number),
  ),
  PART_SIZE_BYTES: positiveInt(10 * 1024 * 1024),
  MEDIA_FETCH_TIMEOUT_MS: positiveInt(30_000),
  SUBMIT_TIMEOUT_MS: positiveInt(30_000),
});

export interface Config {
  callbackTokens: string[];
  hmacKey: string | null;
  signatureToleranceSeconds: number;
  allowedSourceIps: IpRange[];
  apiToken: string | null;
  mediaSigningKey: string | null;
  providerApiKey: string | null;
  providerApiBase: string;
  mediaHosts: string[];
  maxMediaBytes: number;
  maxCallbackBytes: number;
  maxAssetsPerTask: number;
  mediaIdleTimeoutSeconds: number;
  reconcileAfterSeconds: number;
  confirmWithProvider: boolean;
  mediaLinkTtlSeconds: number;
  localDev: boolean;
  retryBaseSeconds: number;
  partSizeBytes: number;
  mediaFetchTimeoutMs: number;
  /** How long `POST /provider/…` waits for the provider before answering 504 provider_timeout. */
  submitTimeoutMs: number;
  /** Outbound events (see events-config.ts). */
  events: EventsConfig;
  /** The Worker's public origin for absolute links in events; null: the callbacks' origin. */
  publicUrl: string | null;
  /** What keeps events from being sent without stopping the receiver (naming the setting). */
  warnings: string[];
  /** What is wrong with the settings, naming each setting (never its value). Empty when sound. */
  problems: string[];
}

function toConfig(s: z.infer<typeof Settings>, problems: string[]): Config {
  const outbound = eventsSettings({
    eventsUrl: s.EVENTS_URL,
    eventsSecret: s.EVENTS_SECRET,
    publicUrl: s.PUBLIC_URL,
    localDev: s.LOCAL_DEV,
  });
  problems.push(...outbound.problems);
  return {
    callbackTokens: s.CALLBACK_TOKENS,
    hmacKey: s.WEBHOOK_HMAC_KEY,
    signatureToleranceSeconds: s.SIGNATURE_TOLERANCE_SECONDS,
    allowedSourceIps: s.ALLOWED_SOURCE_IPS,
    apiToken: s.API_TOKEN,
    mediaSigningKey: s.MEDIA_SIGNING_KEY,
    providerApiKey: s.PROVIDER_API_KEY,
    providerApiBase: s.PROVIDER_API_BASE,
    mediaHosts: s.MEDIA_HOSTS,
    maxMediaBytes: s.MAX_MEDIA_BYTES,
    maxCallbackBytes: s.MAX_CALLBACK_BYTES,
    maxAssetsPerTask: s.MAX_ASSETS_PER_TASK,
    mediaIdleTimeoutSeconds: s.MEDIA_IDLE_TIMEOUT_SECONDS,
    reconcileAfterSeconds: s.RECONCILE_AFTER_SECONDS,
    confirmWithProvider: s.CONFIRM_WITH_PROVIDER,
    mediaLinkTtlSeconds: s.MEDIA_LINK_TTL_SECONDS,
    localDev: s.LOCAL_DEV,
    retryBaseSeconds: s.RETRY_BASE_SECONDS,
    partSizeBytes: Math.max(s.PART_SIZE_BYTES, 5 * 1024 * 1024),
    mediaFetchTimeoutMs: s.MEDIA_FETCH_TIMEOUT_MS,
    submitTimeoutMs: s.SUBMIT_TIMEOUT_MS,
    events: outbound.events,
    publicUrl: outbound.publicUrl,
    warnings: outbound.warnings,
    problems,
  };
}

const cache = new WeakMap<object, Config>();

/**
 * The validated settings. A malformed setting is reported in `problems` and read as if it were
 * unset, so that the routes that can still work safely do (the read API, `/healthz`); whoever
 * acts on settings (the callback route, the consumer) checks `problems` first and fails closed.
 */
export function config(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const source = env as unknown as Record<string, unknown>;
  const input = Object.fromEntries(
    Object.keys(Settings.shape).map((name) => [
      name,
      typeof source[name] === "string" ? source[name] : undefined,
    ]),
  );
  let parsed = Settings.safeParse(input);
  const problems: string[] = [];
  if (!parsed.success) {
    const bad = new Set(parsed.error.issues.map((issue) => String(issue.path[0])));
    for (const issue of parsed.error.issues) problems.push(`${String(issue.path[0])} ${issue.message}`);
    parsed = Settings.safeParse(Object.fromEntries(Object.entries(input).filter(([name]) => !bad.has(name))));
  }
  if (!parsed.success) throw new Error("the defaults of the settings do not validate");
  const result = toConfig(parsed.data, problems);
  if (sourceChecks(result).length === 0) {
    problems.push(
      "no source check is configured: set CALLBACK_TOKENS, WEBHOOK_HMAC_KEY or ALLOWED_SOURCE_IPS",
    );
  }
  cache.set(env, result);
  return result;
}

export type SourceCheck = "token" | "hmac" | "ip";

/** The source checks this deployment has configured, in the order they run. */
export function sourceChecks(cfg: Config): SourceCheck[] {
  const checks: SourceCheck[] = [];
  if (cfg.callbackTokens.length > 0) checks.push("token");
  if (cfg.hmacKey) checks.push("hmac");
  if (cfg.allowedSourceIps.length > 0) checks.push("ip");
  return checks;
}
