import { describe, expect, it } from "vitest";
import { config } from "../../src/core/config";
import { parseEventsSecret } from "../../src/core/events-config";

const A = "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1BISE="; // 32 bytes
const B = "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1CISE=";
const bytes = (n: number) => `whsec_${btoa(String.fromCharCode(...Array.from({ length: n }, (_, i) => i)))}`;
const cfg = (vars: Record<string, string>) => config({ CALLBACK_TOKENS: "t", ...vars } as unknown as Env);

describe("events settings", () => {
  it("are off without EVENTS_URL, whatever the secret", () => {
    expect(cfg({}).events).toMatchObject({ state: "off", url: null, keys: [] });
    expect(cfg({ EVENTS_URL: " ", EVENTS_SECRET: A }).events.state).toBe("off");
    expect(cfg({}).problems).toEqual([]);
  });

  it("are on with an https URL and whsec_ secrets (several: each signs)", () => {
    const c = cfg({ EVENTS_URL: "https://backend.example/hooks/stemvault", EVENTS_SECRET: ` ${A} , ${B}` });
    expect(c.events).toMatchObject({
      state: "on",
      url: "https://backend.example/hooks/stemvault",
      reason: null,
    });
    expect(c.events.keys.map((key) => key.length)).toEqual([32, 32]);
    expect(c.problems).toEqual([]);
    expect(c.warnings).toEqual([]);
  });

  it.each([
    ["http://backend.example/hooks", "false"],
    ["http://10.0.0.5/hooks", "true"],
    ["ftp://backend.example/hooks", "false"],
    ["not a url", "false"],
    ["https://user:pass@backend.example/hooks", "false"],
    ["http://127.0.0.1:9000/events", "false"],
  ])("refuse %s (LOCAL_DEV=%s) as a problem naming EVENTS_URL, never its value", (url, localDev) => {
    const c = cfg({ EVENTS_URL: url, EVENTS_SECRET: A, LOCAL_DEV: localDev });
    expect(c.events.state).toBe("misconfigured");
    expect(c.problems).toEqual([expect.stringMatching(/^EVENTS_URL must/)]);
    expect(c.problems.join(" ")).not.toContain(url);
  });

  it("allow plain http to 127.0.0.1 and localhost in local development only", () => {
    for (const url of ["http://127.0.0.1:9000/events", "http://localhost:8790/events"]) {
      expect(cfg({ EVENTS_URL: url, EVENTS_SECRET: A, LOCAL_DEV: "true" }).events.state).toBe("on");
    }
  });

  it.each([
    ["missing", ""],
    ["without the whsec_ prefix", A.slice("whsec_".length)],
    ["not base64", "whsec_not*base64"],
    ["23 bytes", bytes(23)],
    ["65 bytes", bytes(65)],
    ["one bad among good ones", `${A},whsec_x`],
  ])(
    "with a secret %s: misconfigured (a warning, the receiver still works), never sent unsigned",
    (_, secret) => {
      const c = cfg({ EVENTS_URL: "https://backend.example/hooks", EVENTS_SECRET: secret });
      expect(c.events).toMatchObject({ state: "misconfigured", keys: [] });
      expect(c.events.reason).toMatch(/^EVENTS_SECRET /);
      expect(c.warnings).toEqual([c.events.reason]);
      expect(c.problems).toEqual([]);
      if (secret) expect(c.warnings.join(" ")).not.toContain(secret.slice(6, 20) || secret);
    },
  );

  it("accept secrets of 24 to 64 bytes", () => {
    expect(parseEventsSecret(bytes(24))?.length).toBe(24);
    expect(parseEventsSecret(bytes(64))?.length).toBe(64);
    expect(parseEventsSecret(bytes(23))).toBeNull();
  });

  it("take PUBLIC_URL without its trailing slash; a malformed one is a problem", () => {
    expect(cfg({ PUBLIC_URL: "https://archive.example/" }).publicUrl).toBe("https://archive.example");
    expect(cfg({}).publicUrl).toBeNull();
    expect(cfg({ PUBLIC_URL: "archive.example" }).problems).toEqual(["PUBLIC_URL must be an http(s) URL"]);
  });
});
