import { z } from "zod";
import { type IpRange, parseIpRanges } from "./callbacks/ip-allowlist";

const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

const secret = (value: string | undefined) => (value && value.trim().length > 0 ? value.trim() : null);

const positiveInt = (fallback: number) => z.coerce.number().int().positive().catch(fallback);

const Numbers = z.object({
  SIGNATURE_TOLERANCE_SECONDS: positiveInt(300),
  MAX_MEDIA_BYTES: positiveInt(2 ** 31),
  MAX_CALLBACK_BYTES: positiveInt(262_144),
  RECONCILE_AFTER_SECONDS: positiveInt(600),
  MEDIA_LINK_TTL_SECONDS: positiveInt(86_400),
  RETRY_BASE_SECONDS: z.coerce.number().min(0).catch(15),
  PART_SIZE_BYTES: positiveInt(10 * 1024 * 1024),
  MEDIA_FETCH_TIMEOUT_MS: positiveInt(30_000),
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
  reconcileAfterSeconds: number;
  confirmWithProvider: boolean;
  mediaLinkTtlSeconds: number;
  localDev: boolean;
  retryBaseSeconds: number;
  partSizeBytes: number;
  mediaFetchTimeoutMs: number;
  benchBaseline: boolean;
}

const cache = new WeakMap<Env, Config>();

/**
 * Reads the Worker's vars and secrets once per env object. A malformed IP list throws, so a
 * typo fails closed instead of silently opening the receiver.
 */
export function config(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const n = Numbers.parse(env);
  const parsed: Config = {
    callbackTokens: list(env.CALLBACK_TOKENS),
    hmacKey: secret(env.WEBHOOK_HMAC_KEY),
    signatureToleranceSeconds: n.SIGNATURE_TOLERANCE_SECONDS,
    allowedSourceIps: parseIpRanges(list(env.ALLOWED_SOURCE_IPS)),
    apiToken: secret(env.API_TOKEN),
    mediaSigningKey: secret(env.MEDIA_SIGNING_KEY),
    providerApiKey: secret(env.PROVIDER_API_KEY),
    providerApiBase: (env.PROVIDER_API_BASE || "https://api.sunoapi.org").replace(/\/+$/, ""),
    mediaHosts: list(env.MEDIA_HOSTS).map((host) => host.toLowerCase().replace(/^\.+/, "")),
    maxMediaBytes: n.MAX_MEDIA_BYTES,
    maxCallbackBytes: n.MAX_CALLBACK_BYTES,
    reconcileAfterSeconds: n.RECONCILE_AFTER_SECONDS,
    confirmWithProvider: env.CONFIRM_WITH_PROVIDER === "true",
    mediaLinkTtlSeconds: n.MEDIA_LINK_TTL_SECONDS,
    localDev: env.LOCAL_DEV === "true",
    retryBaseSeconds: n.RETRY_BASE_SECONDS,
    partSizeBytes: Math.max(n.PART_SIZE_BYTES, 5 * 1024 * 1024),
    mediaFetchTimeoutMs: n.MEDIA_FETCH_TIMEOUT_MS,
    benchBaseline: env.BENCH_BASELINE === "true",
  };
  cache.set(env, parsed);
  return parsed;
}
