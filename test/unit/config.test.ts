import { describe, expect, it } from "vitest";
import { config } from "../../src/core/config";

/** A fresh env object each time: config() caches per env. */
const cfg = (vars: Record<string, string>) => config({ CALLBACK_TOKENS: "t", ...vars } as unknown as Env);

describe("config", () => {
  it("uses the contract's defaults for unset and blank settings", () => {
    const c = cfg({ MAX_MEDIA_BYTES: "", MEDIA_HOSTS: " " });
    expect(c).toMatchObject({
      problems: [],
      maxMediaBytes: 2 ** 31,
      maxCallbackBytes: 262_144,
      maxAssetsPerTask: 64,
      mediaIdleTimeoutSeconds: 60,
      signatureToleranceSeconds: 300,
      reconcileAfterSeconds: 600,
      mediaLinkTtlSeconds: 86_400,
      providerApiBase: "https://api.sunoapi.org",
      confirmWithProvider: false,
      localDev: false,
      mediaHosts: ["aiquickdraw.com", "api.box", "kie.ai", "removeai.ai", "suno.ai", "erweima.ai"],
    });
  });

  it.each([
    ["MAX_MEDIA_BYTES", "12x"],
    ["MAX_MEDIA_BYTES", "-5"],
    ["MAX_CALLBACK_BYTES", "1.5"],
    ["MAX_ASSETS_PER_TASK", "0"],
    ["MEDIA_IDLE_TIMEOUT_SECONDS", "soon"],
    ["SIGNATURE_TOLERANCE_SECONDS", "3e2"],
    ["CONFIRM_WITH_PROVIDER", "yes"],
    ["PROVIDER_API_BASE", "ftp://example.com"],
    ["ALLOWED_SOURCE_IPS", "10.0.0.0/8,not-an-ip"],
  ])("reports a malformed %s as a problem naming the setting, never its value", (name, value) => {
    const c = cfg({ [name]: value });
    expect(c.problems).toHaveLength(1);
    expect(c.problems[0]).toMatch(new RegExp(`^${name} `));
    expect(c.problems.join(" ")).not.toContain(value);
  });

  it("reports every malformed setting at once, and keeps the valid ones", () => {
    const c = cfg({ MAX_MEDIA_BYTES: "x", RECONCILE_AFTER_SECONDS: "y", MEDIA_LINK_TTL_SECONDS: "60" });
    expect(c.problems.map((p) => p.split(" ")[0]).sort()).toEqual([
      "MAX_MEDIA_BYTES",
      "RECONCILE_AFTER_SECONDS",
    ]);
    expect(c.mediaLinkTtlSeconds).toBe(60);
  });

  it("fails closed when no source check is configured", () => {
    const c = config({} as Env);
    expect(c.problems).toEqual([expect.stringMatching(/no source check is configured/)]);
  });

  it("parses lists: tokens, IP ranges and host suffixes", () => {
    const c = cfg({
      CALLBACK_TOKENS: " a, b ,",
      ALLOWED_SOURCE_IPS: "10.0.0.0/8, 2001:db8::1",
      MEDIA_HOSTS: ".Suno.AI",
    });
    expect(c.callbackTokens).toEqual(["a", "b"]);
    expect(c.allowedSourceIps).toHaveLength(2);
    expect(c.mediaHosts).toEqual(["suno.ai"]);
  });
});
